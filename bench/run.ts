/**
 * npm run bench: every benchmark of the project, each measured against a baseline in the same
 * run (these machines are noisy: ratios, not absolute times, are what to compare).
 *   BENCH_DURATION   seconds per HTTP load run (default 5)
 *   BENCH_ONLY       comma-separated subset: http, auth, validate, rules, sync, indicators
 *   BENCH_INDICATORS_SIZES  patients at each point of the indicators bench (default 10000,25000,50000,100000)
 *   BENCH_POSTGRES_URL  an admin connection to create the benchmark databases (default local)
 *   BENCH_NO_BUILD   set to skip `npm run build` (dist/ is already up to date)
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadDevKey, mintDevToken } from '../src/auth/dev-key.js';
import { runAuthBench } from './auth/run.js';
import { runHttpBench } from './http/run.js';
import { runRulesBench } from './rules/run.js';
import { printIndicatorsBench, runIndicatorsBench } from './indicators/run.js';
import { runSyncBench } from './sync/run.js';
import { runValidateBench } from './validate/run.js';
import { freshPostgres } from './lib/databases.js';

const only = new Set((process.env.BENCH_ONLY ?? 'http,auth,validate,rules,sync,indicators').split(',').map((s) => s.trim()));
const duration = Number(process.env.BENCH_DURATION ?? 5);
const postgresUrl = process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const log = (line: string) => console.log(line);
const results: Record<string, unknown> = { date: new Date().toISOString() };

if (!process.env.BENCH_NO_BUILD) execFileSync('npm', ['run', 'build', '--silent'], { stdio: 'inherit' });

// The servers under test accept development tokens signed with a key of this run.
const keyFile = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'icr-bench-key-')), 'dev-key.json');
const key = await loadDevKey(keyFile);
const token = (claims: { scope: string; fhirUser?: string }) => mintDevToken(key, { ...claims, audience: 'integrated-care-record', expiresIn: 7200 });
const systemToken = await token({ scope: 'system/*.cruds' });
// The load generator is one client: the per-client rate limit is not what is measured.
const serverEnv = { ICR_DEV_KEY: keyFile, RATE_LIMIT_PER_MINUTE: '0', LOG_LEVEL: 'warn' };

if (only.has('http')) {
  const http = await runHttpBench({ durationSeconds: duration, postgresUrl, headers: async () => ({ authorization: `Bearer ${systemToken}` }), serverEnv, log });
  results.http = http;
  console.log('\nHTTP: ours vs the bare Express + SQL floor');
  console.table(
    http.rows.map((r) => ({
      backend: r.backend,
      scenario: r.scenario,
      conns: r.connections,
      'ours req/s': r.ours.rps,
      'ours p50 ms': r.ours.p50,
      'ours p99 ms': r.ours.p99,
      'floor req/s': r.floor.rps,
      'floor p99 ms': r.floor.p99,
      'ratio': `${Math.round(r.ratio * 100)}%`,
      errors: r.ours.errors + r.floor.errors,
    })),
  );
  console.table(http.startup.map((s) => ({ backend: s.backend, 'first start ms': s.fresh, 'start on existing data ms': s.existing })));
  console.table(http.peakRssMb);
}

if (only.has('auth')) {
  const db = await freshPostgres(postgresUrl, 'icr_bench_auth');
  try {
    const rows = await runAuthBench({
      databaseUrl: db.url,
      env: serverEnv,
      systemToken,
      practitionerToken: await token({ scope: 'user/*.cruds', fhirUser: 'Practitioner/prac-els-maes' }),
      durationSeconds: duration,
      connections: 8,
      log,
    });
    results.auth = rows;
    console.log('\nCare-team policy: practitioner token vs system token (PostgreSQL, 8 connections)');
    console.table(rows.map((r) => ({ scenario: r.scenario, 'system req/s': r.system.rps, 'practitioner req/s': r.practitioner.rps, 'practitioner p99 ms': r.practitioner.p99, ratio: `${Math.round(r.ratio * 100)}%`, errors: r.system.errors + r.practitioner.errors })));
  } finally {
    await db.drop();
  }
}

if (only.has('validate')) {
  const rows = await runValidateBench(log);
  results.validate = rows;
  console.log('\nValidation: ours vs @medplum/core validateResource and the fhir package (same inputs, same run)');
  console.table(rows.map((r) => ({ input: r.input, unit: r.unit, ours: r.ours, medplum: r.medplum, fhir: r.fhir, 'ours is x faster': r.ratio })));
}

if (only.has('rules')) {
  const rows = await runRulesBench(log);
  results.rules = rows;
  console.log('\nRules: time per call against plain validation of the same resources (same run); the aim is a ratio below 0.25');
  console.table(rows.map((r) => ({ scenario: r.scenario, 'validate us': r.validateUs, 'rules us': r.rulesUs, ratio: r.ratio, note: r.note })));
}

if (only.has('sync')) {
  const result = await runSyncBench({ postgresUrl, log });
  results.sync = result.rows;
  console.log('\nSync: push to the Medplum FHIR router, batched vs one request per resource; lag at a steady write rate');
  console.table(result.rows);
}

if (only.has('indicators')) {
  const sizes = process.env.BENCH_INDICATORS_SIZES?.split(',').map(Number).filter((n) => n > 0);
  const result = await runIndicatorsBench({ sizes, postgresUrl, log });
  results.indicators = result;
  printIndicatorsBench(result);
}

await fs.mkdir('bench/results', { recursive: true });
await fs.writeFile('bench/results/latest.json', JSON.stringify(results, null, 2));
console.log('\nresults written to bench/results/latest.json');
