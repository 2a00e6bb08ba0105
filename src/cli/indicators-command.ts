import fs from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { createRuntime } from '../bootstrap.js';
import { loadConfig } from '../config.js';
import { FhirError } from '../fhir/errors.js';
import { negotiateLanguage } from '../i18n/language.js';
import { indicatorsCsv } from '../indicators/csv.js';
import { INDICATORS, indicatorById } from '../indicators/definitions.js';
import { evaluateIndicators } from '../indicators/operations.js';
import { measureReport } from '../indicators/report.js';
import { serverToken } from './server-token.js';

const USAGE = `Usage: icr indicators --period-start <date> --period-end <date> [--consortium <id>]... [--measure <id>]...
                      [--format csv|json] [--out <file>] [--lang en|nl|fr] [--suppress] [--server <FHIR base URL> [--token <token>]]

Computes the evaluation indicators (docs/evaluation.md) per consortium for a period: one CSV table
(default) or a FHIR Bundle of MeasureReports (--format json), on stdout or in --out.

  --period-start, --period-end   dates (2024, 2024-01 or 2024-01-01; the whole of the last one counts)
  --consortium   Organization id of a consortium (repeat for several; default: every active one)
  --measure      indicator id, e.g. icr-consent (repeat; default: all ${INDICATORS.length})
  --suppress     mask cells of fewer than 5 patients, as evaluation tokens get them
  --server       compute on a running server ($indicators) with --token, or a development token
                 (system/*.rs, or an evaluation token with --suppress) signed with ICR_DEV_KEY

Without --server it reads the database of DATABASE_URL directly.`;

export async function runIndicatorsCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'period-start': { type: 'string' },
      'period-end': { type: 'string' },
      consortium: { type: 'string', multiple: true },
      measure: { type: 'string', multiple: true },
      format: { type: 'string', default: 'csv' },
      out: { type: 'string' },
      lang: { type: 'string', default: 'en' },
      suppress: { type: 'boolean', default: false },
      server: { type: 'string' },
      token: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || !values['period-start'] || !values['period-end']) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  if (values.format !== 'csv' && values.format !== 'json') {
    console.error(`icr indicators: --format must be csv or json, not '${values.format}'`);
    return 2;
  }
  const lang = negotiateLanguage(values.lang);
  const unknown = (values.measure ?? []).filter((m) => !indicatorById(m));
  if (unknown.length) {
    console.error(`icr indicators: unknown indicator ${unknown.join(', ')} (known: ${INDICATORS.map((i) => i.id).join(', ')})`);
    return 2;
  }
  let text: string;
  if (values.server) {
    const base = values.server.replace(/\/+$/, '');
    const token = await serverToken(values.token, { scope: 'system/*.rs', clientId: 'icr-indicators', roles: values.suppress ? ['evaluation'] : undefined });
    const query = new URLSearchParams([
      ['periodStart', values['period-start']],
      ['periodEnd', values['period-end']],
      ...(values.consortium ?? []).map((c): [string, string] => ['consortium', c]),
      ...(values.measure ?? []).map((m): [string, string] => ['measure', m]),
    ]);
    const res = await fetch(`${base}/$indicators?${query.toString()}`, {
      headers: { Authorization: `Bearer ${token}`, Accept: values.format === 'csv' ? 'text/csv' : 'application/fhir+json', 'Accept-Language': lang },
    });
    text = await res.text();
    if (!res.ok) {
      console.error(`icr indicators: the server answered ${res.status}: ${text}`);
      return 1;
    }
  } else {
    const config = loadConfig(process.env, { logLevel: 'warn' });
    const runtime = await createRuntime(config);
    try {
      const indicators = values.measure?.length ? values.measure.map((m) => indicatorById(m)!) : INDICATORS;
      const results = await evaluateIndicators(
        { engine: runtime.evaluation.engine, store: runtime.store },
        runtime.db,
        { indicators, consortiumIds: values.consortium, periodStart: values['period-start'], periodEnd: values['period-end'], suppress: values.suppress },
      );
      text =
        values.format === 'csv'
          ? indicatorsCsv(results, lang)
          : JSON.stringify({ resourceType: 'Bundle', type: 'collection', timestamp: new Date().toISOString(), entry: results.map((r) => ({ resource: measureReport(r, lang) })) }, null, 2) + '\n';
    } catch (err) {
      if (err instanceof FhirError) {
        console.error(`icr indicators: ${err.message}`);
        return 2;
      }
      throw err;
    } finally {
      await runtime.close();
    }
  }
  if (values.out) await fs.writeFile(values.out, text);
  else process.stdout.write(text);
  return 0;
}
