import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { loadConfig } from '../config.js';
import { createRuntime } from '../bootstrap.js';
import { SYSTEM_PRINCIPAL } from '../interactions/context.js';
import { importPaths, type ImportProgress, type ImportSummary } from '../import/importer.js';
import { httpSink } from '../import/http-sink.js';
import type { RequestContext } from '../interactions/context.js';
import { serverToken } from './server-token.js';

const USAGE = `Usage: icr import <file|dir>... [--server <FHIR base URL>] [--token <bearer token>]

Loads FHIR resources (JSON), Bundles (batch and transaction are processed as such, other
Bundles are unpacked) and NDJSON files into the record. Without --server, it writes to the
database named by DATABASE_URL directly (stop a server using the same embedded folder first).
With --server it goes through the FHIR API of a running server, with --token or else a
development token signed with ICR_DEV_KEY.`;

function progressBar(): ImportProgress | undefined {
  if (!process.stderr.isTTY) return undefined;
  const bar = new cliProgress.SingleBar(
    { format: 'importing [{bar}] {percentage}% | {value}/{total} | {eta_formatted} left', stream: process.stderr, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  return { start: (total) => bar.start(total, 0), tick: () => bar.increment(), stop: () => bar.stop() };
}

export function printSummary(summary: ImportSummary, out: (line: string) => void): void {
  out(`created ${summary.created}, updated ${summary.updated}, unchanged ${summary.unchanged}, failed ${summary.failed.length}`);
  for (const f of summary.failed.slice(0, 50)) out(`  failed ${f.source}: ${f.message}`);
  if (summary.failed.length > 50) out(`  ... and ${summary.failed.length - 50} more`);
}

export async function runImportCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { server: { type: 'string' }, token: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help || !positionals.length) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  let summary: ImportSummary;
  if (values.server) {
    const token = await serverToken(values.token, { scope: 'system/*.cruds', clientId: 'icr-import' });
    summary = await importPaths(positionals, httpSink(values.server, token), progressBar());
  } else {
    const config = loadConfig(process.env, { logLevel: 'warn' });
    const runtime = await createRuntime(config);
    try {
      const ctx: RequestContext = {
        baseUrl: config.baseUrl ?? `http://localhost:${config.port}/fhir`,
        lang: 'en',
        prefer: { return: 'minimal' },
        requestId: 'cli-import',
        principal: SYSTEM_PRINCIPAL,
      };
      summary = await importPaths(positionals, (req) => runtime.service.dispatch(ctx, req), progressBar());
    } finally {
      await runtime.close();
    }
  }
  printSummary(summary, (line) => console.log(line));
  return summary.failed.length ? 1 : 0;
}
