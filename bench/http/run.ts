import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startChild, type ChildServer } from '../lib/child-server.js';
import { freshPostgres } from '../lib/databases.js';
import { load, type LoadRequest, type LoadResult } from '../lib/load.js';
import { benchCarePlan, benchCareTeam, benchCondition, benchPatient } from '../lib/bench-data.js';

export interface HttpRow {
  backend: string;
  scenario: string;
  connections: number;
  ours: LoadResult;
  floor: LoadResult;
  ratio: number;
}

export interface HttpBenchResult {
  rows: HttpRow[];
  startup: { backend: string; fresh: number; existing: number }[];
  peakRssMb: { backend: string; rss: number }[];
}

const PATIENTS = 100;
const SERVER_ARGS = ['dist/cli/main.js', 'serve'];
const FLOOR_ARGS = ['--import', 'tsx', 'bench/http/floor-server.ts'];

type Headers = Record<string, string>;

async function post(base: string, type: string, body: unknown, headers: Headers): Promise<string> {
  const res = await fetch(`${base}/fhir/${type}`, {
    method: 'POST',
    headers: { 'content-type': 'application/fhir+json', prefer: 'return=representation', ...headers },
    body: JSON.stringify(body),
  });
  if (res.status !== 201) throw new Error(`seeding ${type} failed with ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { id: string }).id;
}

interface Seeded {
  patientIds: string[];
  carePlanBody: string;
}

/** The same patients, care teams, conditions and plans on both servers. */
async function seed(base: string, headers: Headers, withFixtures: boolean): Promise<Seeded> {
  if (withFixtures) {
    for (const file of ['01-organizations.json', '02-practitioners.json']) {
      const res = await fetch(`${base}/fhir`, { method: 'POST', headers: { 'content-type': 'application/fhir+json', ...headers }, body: await fs.readFile(`fixtures/${file}`, 'utf8') });
      if (res.status !== 200) throw new Error(`loading ${file} failed: ${await res.text()}`);
    }
  }
  const patientIds: string[] = [];
  let carePlanBody = '';
  for (let i = 0; i < PATIENTS; i++) {
    const p = await post(base, 'Patient', benchPatient(i), headers);
    const team = await post(base, 'CareTeam', benchCareTeam(p), headers);
    const condition = await post(base, 'Condition', benchCondition(p), headers);
    for (let j = 0; j < 3; j++) await post(base, 'CarePlan', benchCarePlan(p, team, condition), headers);
    patientIds.push(p);
    carePlanBody = JSON.stringify(benchCarePlan(p, team, condition));
  }
  return { patientIds, carePlanBody };
}

function scenarios(seeded: Seeded, headers: Headers): { name: string; req: LoadRequest }[] {
  let n = 0;
  const pick = () => seeded.patientIds[n++ % seeded.patientIds.length];
  return [
    { name: 'create Patient', req: { method: 'POST', path: () => '/fhir/Patient', body: JSON.stringify(benchPatient(7)), headers } },
    { name: 'create CarePlan', req: { method: 'POST', path: () => '/fhir/CarePlan', body: seeded.carePlanBody, headers } },
    { name: 'read Patient', req: { method: 'GET', path: () => `/fhir/Patient/${pick()}`, headers } },
    { name: 'search CarePlan?patient=', req: { method: 'GET', path: () => `/fhir/CarePlan?patient=${pick()}`, headers } },
  ];
}

export interface HttpBenchOptions {
  durationSeconds: number;
  postgresUrl: string;
  /** Headers our server needs (authorization). */
  headers: () => Promise<Headers>;
  serverEnv?: Record<string, string>;
  log: (line: string) => void;
}

export async function runHttpBench(options: HttpBenchOptions): Promise<HttpBenchResult> {
  const result: HttpBenchResult = { rows: [], startup: [], peakRssMb: [] };
  const headers = await options.headers();
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'icr-bench-'));
  let port = 18080 + (process.pid % 1000);
  try {
    for (const backend of ['pglite', 'postgres'] as const) {
      const ours = backend === 'pglite' ? { url: `pglite://${tmp}/ours`, drop: async () => undefined } : await freshPostgres(options.postgresUrl, 'icr_bench_ours');
      const floorDb = backend === 'pglite' ? { url: 'memory://', drop: async () => undefined } : await freshPostgres(options.postgresUrl, 'icr_bench_floor');
      const env = { DATABASE_URL: ours.url, LOG_LEVEL: 'warn', DATA_DIR: tmp, ...options.serverEnv };
      let server: ChildServer | undefined = await startChild(SERVER_ARGS, env, port++);
      const fresh = server.startupMs;
      await server.stop();
      server = await startChild(SERVER_ARGS, env, port++);
      result.startup.push({ backend, fresh, existing: server.startupMs });
      const floor = await startChild(FLOOR_ARGS, { DATABASE_URL: floorDb.url }, port++);
      try {
        options.log(`${backend}: seeding ${PATIENTS} patients with care teams and plans`);
        const oursSeeded = await seed(server.url, headers, true);
        const floorSeeded = await seed(floor.url, {}, false);
        let peak = 0;
        for (const connections of [1, 32]) {
          const oursScenarios = scenarios(oursSeeded, headers);
          const floorScenarios = scenarios(floorSeeded, {});
          for (let i = 0; i < oursScenarios.length; i++) {
            const o = await load(server.url, oursScenarios[i].req, connections, options.durationSeconds);
            if (connections === 32) peak = Math.max(peak, server.rssMb());
            const f = await load(floor.url, floorScenarios[i].req, connections, options.durationSeconds);
            const row = { backend, scenario: oursScenarios[i].name, connections, ours: o, floor: f, ratio: Math.round((o.rps / f.rps) * 100) / 100 };
            options.log(`${backend} ${row.scenario} x${connections}: ours ${o.rps} req/s (p50 ${o.p50} ms, p99 ${o.p99} ms) floor ${f.rps} req/s -> ${Math.round(row.ratio * 100)}%`);
            result.rows.push(row);
          }
        }
        result.peakRssMb.push({ backend, rss: peak });
      } finally {
        await server.stop();
        await floor.stop();
        await ours.drop();
        await floorDb.drop();
      }
    }
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
  return result;
}
