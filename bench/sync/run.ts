/**
 * bench/sync: the push side of the sync against the Medplum FHIR router (in its own process).
 *
 * - throughput: N local changes waiting in the outbox, then timed until all are upstream:
 *   transaction Bundles (SYNC_BATCH_SIZE, default 50) versus one request per resource, in the same
 *   run; the ratio is the figure to compare between machines.
 * - lag: a steady stream of local writes (default 200/s, through the FHIR service: validation
 *   included) with the worker running as in the server; lag = when the version became visible
 *   upstream (its lastModified in the upstream history) minus its local lastUpdated. p50, p95, max.
 *
 *   npx tsx bench/sync/run.ts
 *   SYNC_BENCH_COUNT=5000 SYNC_BENCH_RATE=200 SYNC_BENCH_SECONDS=10 SYNC_BENCH_BACKENDS=pglite,postgres
 *   BENCH_POSTGRES_URL  PostgreSQL for the postgres backend (default the local one)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { createRuntime, type Runtime } from '../../src/bootstrap.js';
import { loadConfig, type Config } from '../../src/config.js';
import { SYSTEM_PRINCIPAL } from '../../src/interactions/context.js';
import { TRUSTED_POLICY } from '../../src/interactions/access-policy.js';
import type { RequestContext } from '../../src/interactions/context.js';
import { createLogger } from '../../src/logging.js';
import { PgliteDatabase } from '../../src/store/pglite-database.js';
import { migrate } from '../../src/store/migrations.js';
import { SyncWorker } from '../../src/sync/worker.js';
import { benchPatient } from '../lib/bench-data.js';

type Backend = 'pglite' | 'postgres';

export interface SyncBenchRow {
  backend: Backend;
  scenario: string;
  value: number;
  unit: string;
  note?: string;
}

export interface SyncBenchResult {
  rows: SyncBenchRow[];
}

export interface SyncBenchOptions {
  backends?: Backend[];
  /** Changes queued for each throughput run. */
  count?: number;
  /** Writes per second in the lag run, and for how long. */
  rate?: number;
  seconds?: number;
  postgresUrl?: string;
  log?: (line: string) => void;
}

interface Upstream {
  url: string;
  stop(): Promise<void>;
}

async function startUpstreamChild(): Promise<Upstream> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'bench/sync/upstream-child.ts'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n')) resolve(line.trim());
    });
    child.once('exit', (code) => reject(new Error(`the upstream exited with ${code}`)));
  });
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

let template: Blob | undefined;

/** A fresh local record on the backend, with sync to the upstream configured. */
async function freshRecord(backend: Backend, upstreamUrl: string, postgresUrl: string, validate: boolean, extra: Partial<Config> = {}): Promise<{ runtime: Runtime; close: () => Promise<void> }> {
  const schema = `bench_sync_${randomBytes(4).toString('hex')}`;
  const base: Partial<Config> = backend === 'pglite' ? { databaseUrl: 'memory://' } : { databaseUrl: postgresUrl, databaseSchema: schema, databasePoolSize: 10 };
  if (backend === 'pglite' && !template) {
    const db = await PgliteDatabase.open();
    await migrate(db);
    template = await db.dump();
    await db.close();
  }
  const config = loadConfig({}, { logLevel: 'silent', upstreamFhirUrl: upstreamUrl, syncTypes: ['Patient'], refIntegrityOnWrite: false, ...base, ...extra });
  const runtime = await createRuntime(config, {
    logger: createLogger('silent'),
    policy: TRUSTED_POLICY,
    template: backend === 'pglite' ? template : undefined,
    ...(validate ? {} : { validator: { validate: () => [], profileUrls: () => [] } }),
  });
  return {
    runtime,
    close: async () => {
      await runtime.close();
      if (backend === 'postgres') {
        const client = new pg.Client({ connectionString: postgresUrl });
        await client.connect();
        await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await client.end();
      }
    },
  };
}

const ctx: RequestContext = { baseUrl: 'http://localhost/fhir', lang: 'en', prefer: { return: 'minimal' }, requestId: 'bench', principal: SYSTEM_PRINCIPAL };

function patient(i: number): Record<string, unknown> {
  const { generalPractitioner: _gp, ...p } = benchPatient(i);
  return p;
}

/** Resources per second from a full outbox to an empty one. */
async function throughput(backend: Backend, upstreamUrl: string, postgresUrl: string, mode: 'auto' | 'single', count: number): Promise<number> {
  const rec = await freshRecord(backend, upstreamUrl, postgresUrl, false);
  try {
    for (let i = 0; i < count; i++) await rec.runtime.service.crud.create(ctx, 'Patient', patient(i), {});
    const worker = new SyncWorker(rec.runtime.sync!, { pushMode: mode, singleConcurrency: 1 });
    await worker.refreshCapabilities();
    const started = performance.now();
    await worker.pushUntilIdle();
    const seconds = (performance.now() - started) / 1000;
    const s = await rec.runtime.sync!.syncStore.status();
    if (s.pending || s.parked || s.conflicts) throw new Error(`the ${mode} run left pending ${s.pending}, parked ${s.parked}, conflicts ${s.conflicts}`);
    return count / seconds;
  } finally {
    await rec.close();
  }
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Lag from a local write to its visibility upstream, under a steady write rate. */
async function lag(backend: Backend, upstreamUrl: string, postgresUrl: string, rate: number, seconds: number): Promise<{ p50: number; p95: number; max: number; achievedRate: number; writes: number }> {
  const rec = await freshRecord(backend, upstreamUrl, postgresUrl, true, { syncPollIntervalMs: 60_000 });
  const worker = new SyncWorker(rec.runtime.sync!, { pull: false });
  try {
    await worker.refreshCapabilities();
    worker.start();
    const written = new Map<string, number>();
    const total = Math.round(rate * seconds);
    const started = performance.now();
    const t0 = Date.now();
    for (let i = 0; i < total; i++) {
      const due = t0 + (i * 1000) / rate;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const res = await rec.runtime.service.crud.create(ctx, 'Patient', patient(100_000 + i), {});
      const id = /Patient\/([^/]+)\/_history/.exec(res.headers.Location ?? '')?.[1];
      if (!id) throw new Error('a write gave no Location');
      written.set(id, new Date(res.headers['Last-Modified']!).getTime());
    }
    const achievedRate = total / ((performance.now() - started) / 1000);
    const deadline = Date.now() + 60_000;
    while ((await rec.runtime.sync!.syncStore.status()).pending > 0) {
      if (Date.now() > deadline) throw new Error('the lag run did not drain within 60 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    // Local lastUpdated to the millisecond (Last-Modified has seconds only).
    const { rows } = await rec.runtime.db.query<{ id: string; last_updated: Date }>("SELECT id, last_updated FROM resource_version WHERE res_type = 'Patient' AND version = 1");
    for (const r of rows) if (written.has(r.id)) written.set(r.id, new Date(r.last_updated).getTime());
    const visible = await upstreamFirstVersions(upstreamUrl, t0 - 1000);
    const lags: number[] = [];
    for (const [id, local] of written) {
      const at = visible.get(id);
      if (at === undefined) throw new Error(`Patient/${id} is not upstream`);
      lags.push(at - local);
    }
    lags.sort((a, b) => a - b);
    return { p50: percentile(lags, 50), p95: percentile(lags, 95), max: lags[lags.length - 1], achievedRate, writes: total };
  } finally {
    await worker.stop();
    await rec.close();
  }
}

/** When each Patient first appeared upstream, from the upstream's own type history. */
async function upstreamFirstVersions(upstreamUrl: string, since: number): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  let url: string | undefined = `${upstreamUrl}/Patient/_history?_count=1000&_since=${encodeURIComponent(new Date(since).toISOString())}`;
  while (url) {
    const bundle = (await (await fetch(url)).json()) as { entry?: { resource?: { id: string; meta: { lastUpdated: string } } }[]; link?: { relation: string; url: string }[] };
    for (const e of bundle.entry ?? []) {
      if (!e.resource) continue;
      const t = Date.parse(e.resource.meta.lastUpdated);
      const seen = out.get(e.resource.id);
      if (seen === undefined || t < seen) out.set(e.resource.id, t);
    }
    url = bundle.link?.find((l) => l.relation === 'next')?.url;
  }
  return out;
}

async function postgresReachable(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function runSyncBench(options: SyncBenchOptions = {}): Promise<SyncBenchResult> {
  const log = options.log ?? (() => undefined);
  const count = options.count ?? 5000;
  const rate = options.rate ?? 200;
  const seconds = options.seconds ?? 10;
  const postgresUrl = options.postgresUrl ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  let backends = options.backends ?? ['pglite', 'postgres'];
  if (backends.includes('postgres') && !(await postgresReachable(postgresUrl))) {
    log(`sync bench: PostgreSQL at ${postgresUrl} not reachable, postgres backend left out`);
    backends = backends.filter((b) => b !== 'postgres');
  }
  const rows: SyncBenchRow[] = [];
  for (const backend of backends) {
    const upstream = await startUpstreamChild();
    try {
      log(`sync bench (${backend}): ${count} changes pushed in transaction Bundles...`);
      const batched = await throughput(backend, upstream.url, postgresUrl, 'auto', count);
      log(`sync bench (${backend}): ${count} changes pushed one request per resource...`);
      const single = await throughput(backend, upstream.url, postgresUrl, 'single', count);
      rows.push(
        { backend, scenario: 'push throughput, transaction Bundles of 50', value: Math.round(batched), unit: 'resources/s' },
        { backend, scenario: 'push throughput, one request per resource', value: Math.round(single), unit: 'resources/s' },
        { backend, scenario: 'batched / one by one', value: Math.round((batched / single) * 100) / 100, unit: 'x' },
      );
      log(`sync bench (${backend}): lag at ${rate} writes/s for ${seconds} s...`);
      const l = await lag(backend, upstream.url, postgresUrl, rate, seconds);
      const note = `${l.writes} writes at ${Math.round(l.achievedRate)}/s`;
      rows.push(
        { backend, scenario: `lag write → upstream p50 at ${rate} writes/s`, value: Math.round(l.p50), unit: 'ms', note },
        { backend, scenario: `lag write → upstream p95 at ${rate} writes/s`, value: Math.round(l.p95), unit: 'ms', note },
        { backend, scenario: `lag write → upstream max at ${rate} writes/s`, value: Math.round(l.max), unit: 'ms', note },
      );
    } finally {
      await upstream.stop();
    }
  }
  return { rows };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const env = process.env;
  const result = await runSyncBench({
    count: env.SYNC_BENCH_COUNT ? Number(env.SYNC_BENCH_COUNT) : undefined,
    rate: env.SYNC_BENCH_RATE ? Number(env.SYNC_BENCH_RATE) : undefined,
    seconds: env.SYNC_BENCH_SECONDS ? Number(env.SYNC_BENCH_SECONDS) : undefined,
    backends: env.SYNC_BENCH_BACKENDS ? (env.SYNC_BENCH_BACKENDS.split(',') as Backend[]) : undefined,
    postgresUrl: env.BENCH_POSTGRES_URL,
    log: (line) => console.log(line),
  });
  console.table(result.rows);
  await fs.mkdir('bench/results', { recursive: true });
  await fs.writeFile('bench/results/sync-latest.json', JSON.stringify({ date: new Date().toISOString(), ...result }, null, 2));
}
