import fs from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { createRuntime } from '../bootstrap.js';
import { loadConfig } from '../config.js';
import { isResourceType, RESOURCE_TYPES } from '../fhir/resource-types.js';
import { SYSTEM_PRINCIPAL } from '../interactions/context.js';
import { auditExport } from '../export/audit.js';
import type { Manifest } from '../export/worker.js';
import { DIRECTORY_TYPES } from '../export/worker.js';
import { patientCompartmentParams } from '../fhir/compartments.js';
import { parseDateRange } from '../search/date-range.js';
import type { RequestContext } from '../interactions/context.js';
import { serverToken } from './server-token.js';

const USAGE = `Usage: icr export --out <dir> [--type <Type,...>] [--since <instant>] [--patient | --group <id>] [--pseudonymise]
                  [--server <FHIR base URL> [--token <token>]]

A FHIR bulk export (docs/evaluation.md) into NDJSON files, one or more per type, in --out, with a
progress bar. --pseudonymise exports as an evaluation team gets it (keyed hashes for ids and
identifiers, no names, contact details or free text, birth year only).

  --type      resource types (default: all; with --patient or --group the patient compartments)
  --since     only resources changed after this instant (2024-01-01T00:00:00Z)
  --patient   Patient/$export: every patient's compartment;   --group <id>: Group/{id}/$export
  --server    export through a running server (kick-off, polling, download) with --token, or a
              development token signed with ICR_DEV_KEY (an evaluation token with --pseudonymise)

Without --server it runs the export in this process on the database of DATABASE_URL.`;

interface Progress {
  update(done: number, total: number): void;
  stop(): void;
}

function progressBar(): Progress {
  if (!process.stderr.isTTY) return { update: () => undefined, stop: () => undefined };
  const bar = new cliProgress.SingleBar(
    { format: 'exporting [{bar}] {percentage}% | {value}/{total} resources | {eta_formatted} left', stream: process.stderr, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(done, total) {
      if (!started) {
        bar.start(Math.max(total, 1), done);
        started = true;
      }
      bar.setTotal(Math.max(total, 1));
      bar.update(done);
    },
    stop: () => bar.stop(),
  };
}

/** "42% (42,000 of 100,000 resources)" -> [42000, 100000]. */
function parseProgress(header: string | null): [number, number] | undefined {
  const m = header ? /\(([\d,]+) of ([\d,]+) resources\)/.exec(header) : null;
  return m ? [Number(m[1].replace(/,/g, '')), Number(m[2].replace(/,/g, ''))] : undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runExportCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      out: { type: 'string' },
      type: { type: 'string', multiple: true },
      since: { type: 'string' },
      patient: { type: 'boolean', default: false },
      group: { type: 'string' },
      pseudonymise: { type: 'boolean', default: false },
      server: { type: 'string' },
      token: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || !values.out) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const types = (values.type ?? []).flatMap((t) => t.split(',')).map((t) => t.trim()).filter(Boolean);
  const bad = types.filter((t) => !isResourceType(t));
  if (bad.length) {
    console.error(`icr export: ${bad.join(', ')} is not a type this server holds (${RESOURCE_TYPES.join(', ')})`);
    return 2;
  }
  if (values.since && (!parseDateRange(values.since) || !values.since.includes('T'))) {
    console.error(`icr export: --since must be an instant such as 2024-01-01T00:00:00Z, not '${values.since}'`);
    return 2;
  }
  if (values.patient && values.group) {
    console.error('icr export: give --patient or --group, not both');
    return 2;
  }
  await fs.mkdir(values.out, { recursive: true });
  const progress = progressBar();
  let manifest: Manifest;
  const files: { name: string; text: string }[] = [];
  if (values.server) {
    const base = values.server.replace(/\/+$/, '');
    const token = await serverToken(values.token, {
      scope: 'system/*.rs',
      clientId: 'icr-export',
      roles: values.pseudonymise ? ['evaluation'] : undefined,
      expiresIn: 24 * 3600,
    });
    const auth = { Authorization: `Bearer ${token}` };
    const query = new URLSearchParams();
    if (types.length) query.set('_type', types.join(','));
    if (values.since) query.set('_since', values.since);
    const target = values.group ? `Group/${encodeURIComponent(values.group)}/$export` : values.patient ? 'Patient/$export' : '$export';
    const kick = await fetch(`${base}/${target}${query.size ? `?${query.toString()}` : ''}`, { headers: { ...auth, Accept: 'application/fhir+json', Prefer: 'respond-async' } });
    if (kick.status !== 202) {
      console.error(`icr export: the server refused the export (${kick.status}): ${await kick.text()}`);
      return 1;
    }
    const status = kick.headers.get('content-location')!;
    for (;;) {
      const res = await fetch(status, { headers: { ...auth, Accept: 'application/json' } });
      if (res.status === 200) {
        manifest = (await res.json()) as Manifest;
        break;
      }
      if (res.status !== 202) {
        progress.stop();
        console.error(`icr export: the export failed (${res.status}): ${await res.text()}`);
        return 1;
      }
      const p = parseProgress(res.headers.get('x-progress'));
      if (p) progress.update(p[0], p[1]);
      await sleep(Math.min(2000, 1000 * Number(res.headers.get('retry-after') ?? 1)));
    }
    for (const o of [...manifest.output, ...manifest.error]) {
      const res = await fetch(o.url, { headers: { ...auth, Accept: 'application/fhir+ndjson' } });
      if (!res.ok) {
        progress.stop();
        console.error(`icr export: could not download ${o.url} (${res.status})`);
        return 1;
      }
      files.push({ name: new URL(o.url).searchParams.get('_file')!, text: await res.text() });
    }
  } else {
    const config = loadConfig(process.env, { logLevel: 'warn' });
    const runtime = await createRuntime(config);
    try {
      const evaluation = values.pseudonymise;
      const level = values.group ? 'group' : values.patient ? 'patient' : 'system';
      const chosen = types.length
        ? types
        : (RESOURCE_TYPES as readonly string[]).filter(
            (t) => !(evaluation && t === 'AuditEvent') && (level === 'system' || (t !== 'Group' && (t === 'Patient' || patientCompartmentParams(t).length > 0 || DIRECTORY_TYPES.includes(t)))),
          );
      if (evaluation && chosen.includes('AuditEvent')) {
        console.error('icr export: audit events are not exported pseudonymised');
        return 2;
      }
      const baseUrl = config.baseUrl ?? `http://localhost:${config.port}/fhir`;
      const { worker } = runtime.evaluation;
      const job = await worker.jobs.create({
        client: evaluation ? 'client:icr-export' : 'cli',
        pseudonymised: evaluation,
        level,
        groupId: values.group,
        types: chosen,
        since: values.since ? parseDateRange(values.since)!.lo : undefined,
        request: `icr export ${argv.join(' ')}`,
        baseUrl,
      });
      const ctx: RequestContext = { baseUrl, lang: 'en', prefer: {}, requestId: 'cli-export', principal: { ...SYSTEM_PRINCIPAL, subject: 'icr-cli', clientId: 'icr-export' } };
      await auditExport(runtime.store, ctx, job, 'kick-off');
      // This process works the queue (other replicas may take part) until our job is done.
      const watch = setInterval(() => {
        void worker.jobs.get(job.id).then((j) => {
          if (j?.total) progress.update(j.done, j.total);
        });
      }, 250);
      try {
        for (;;) {
          const current = await worker.jobs.get(job.id);
          if (!current) throw new Error('the export job was cancelled');
          if (current.status === 'failed') throw new Error(current.error ?? 'the export failed');
          if (current.status === 'completed') {
            manifest = JSON.parse(current.manifest!) as Manifest;
            break;
          }
          if (!(await worker.runOne())) await sleep(250);
        }
      } finally {
        clearInterval(watch);
      }
      for (const f of await worker.jobs.files(job.id)) files.push({ name: f.name, text: (await worker.jobs.fileContent(job.id, f.name))! });
      progress.update(manifest.output.reduce((n, o) => n + o.count, 0), manifest.output.reduce((n, o) => n + o.count, 0));
    } finally {
      await runtime.close();
    }
  }
  progress.stop();
  for (const f of files) await fs.writeFile(path.join(values.out, f.name), f.text);
  await fs.writeFile(path.join(values.out, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  const total = manifest.output.reduce((n, o) => n + o.count, 0);
  console.log(`exported ${total} resources in ${manifest.output.length} files to ${values.out}${manifest.error.length ? ` (${manifest.error.length} error files)` : ''}`);
  for (const o of manifest.output) console.log(`  ${o.type}: ${o.count}`);
  return 0;
}
