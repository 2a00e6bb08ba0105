import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { icr } from '../support/cli.js';
import { startTestRecord, type TestRecord } from '../support/harness.js';
import { PEOPLE, population } from './population.js';

/** icr indicators and icr export, on the database directly and through a running server. */
describe('icr indicators and icr export', () => {
  let rec: TestRecord;
  let dir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'icr-cli-eval-'));
    rec = await startTestRecord('postgres', { validation: 'base', writeChecks: [], config: { exportKeyFile: path.join(dir, 'export-key') } });
    expect((await rec.api.post('/fhir').set('Content-Type', 'application/fhir+json').send(JSON.stringify(population()))).status).toBe(200);
    env = { DATABASE_URL: inject('postgresUrl'), DATABASE_SCHEMA: rec.schema, DATA_DIR: dir, EXPORT_KEY_FILE: path.join(dir, 'export-key') };
  });
  afterAll(async () => {
    await rec.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('icr indicators prints the CSV table from the database, masked with --suppress', async () => {
    const res = await icr(['indicators', '--period-start', '2024-01-01', '--period-end', '2024-12-31', '--consortium', 'ind-cons-a', '--measure', 'icr-consent'], env);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    // 2 of the 5 included patients have an active consent (indicators.test.ts).
    expect(res.stdout).toContain('icr-consent,Consent: included patients with an active consent,Organization/ind-cons-a,Consortium Leie,2024-01-01,2024-12-31,total,,patients,5,2,0.4,');
    const masked = await icr(['indicators', '--period-start', '2024-01-01', '--period-end', '2024-12-31', '--consortium', 'ind-cons-a', '--measure', 'icr-consent', '--suppress'], env);
    expect(masked.stdout.split('\r\n')[1]).toMatch(/,total,,patients,,,,,.*,true$/);
    const bad = await icr(['indicators', '--period-start', '2024', '--period-end', '2024', '--measure', 'nope'], env);
    expect(bad.code).toBe(2);
  });

  it('icr indicators --server asks a running server, as JSON MeasureReports', async () => {
    const token = await rec.token({ scope: 'system/*.rs', clientId: 'cli' });
    const res = await icr(['indicators', '--server', rec.baseUrl, '--token', token, '--period-start', '2024', '--period-end', '2024', '--consortium', 'ind-cons-b', '--measure', 'icr-reach-chronic', '--format', 'json'], env);
    expect(res.code).toBe(0);
    const bundle = JSON.parse(res.stdout);
    expect(bundle.entry).toHaveLength(1);
    expect(bundle.entry[0].resource.group[0].population.find((p: { code: { coding: { code: string }[] } }) => p.code.coding[0].code === 'denominator').count).toBe(1);
  });

  it('icr export writes NDJSON files and a manifest, pseudonymised with --pseudonymise', async () => {
    const out = path.join(dir, 'local');
    const res = await icr(['export', '--out', out, '--type', 'Patient,Goal', '--pseudonymise'], env);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/exported 14 resources in 2 files/);
    const patients = await fs.readFile(path.join(out, 'Patient.1.ndjson'), 'utf8');
    expect(patients.trim().split('\n')).toHaveLength(8);
    for (const p of PEOPLE) expect(patients).not.toContain(p.ssin);
    const manifest = JSON.parse(await fs.readFile(path.join(out, 'manifest.json'), 'utf8'));
    expect(manifest.output.map((o: { type: string; count: number }) => [o.type, o.count])).toEqual([
      ['Patient', 8],
      ['Goal', 6],
    ]);
  });

  it('icr export --server kicks off, polls and downloads through the API', async () => {
    const token = await rec.token({ scope: 'system/*.rs', clientId: 'cli' });
    const out = path.join(dir, 'remote');
    const res = await icr(['export', '--server', rec.baseUrl, '--token', token, '--out', out, '--patient', '--type', 'Patient,Condition'], env);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/exported 16 resources in 2 files/);
    expect(await fs.readFile(path.join(out, 'Condition.1.ndjson'), 'utf8')).toContain('ind-c2-hf');
  });
});
