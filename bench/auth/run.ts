/**
 * What the care-team policy costs: reads and searches per second with a practitioner token
 * (restricted to the patients of their care teams) against the same with a system token of full
 * scope, on the same server and data, in the same run.
 */
import fs from 'node:fs/promises';
import { startChild } from '../lib/child-server.js';
import { load, type LoadResult } from '../lib/load.js';
import { benchCarePlan, benchCareTeam, benchCondition, benchPatient } from '../lib/bench-data.js';

export interface AuthRow {
  scenario: string;
  system: LoadResult;
  practitioner: LoadResult;
  /** practitioner req/s divided by system req/s */
  ratio: number;
}

export interface AuthBenchOptions {
  databaseUrl: string;
  env: Record<string, string>;
  systemToken: string;
  practitionerToken: string;
  durationSeconds: number;
  connections: number;
  log: (line: string) => void;
}

const PATIENTS = 300;

/** Two runs of the same load as one: mean throughput and p50, worst p99. */
function combine(a: LoadResult, b: LoadResult): LoadResult {
  return { rps: Math.round((a.rps + b.rps) / 2), p50: Math.round((a.p50 + b.p50) / 2), p99: Math.max(a.p99, b.p99), errors: a.errors + b.errors };
}

async function post(base: string, token: string, type: string, body: unknown): Promise<string> {
  const res = await fetch(`${base}/fhir/${type}`, { method: 'POST', headers: { 'content-type': 'application/fhir+json', authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
  if (res.status !== 201) throw new Error(`seeding ${type}: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { id: string }).id;
}

export async function runAuthBench(o: AuthBenchOptions): Promise<AuthRow[]> {
  const server = await startChild(['dist/cli/main.js', 'serve'], { ...o.env, DATABASE_URL: o.databaseUrl }, 19180 + (process.pid % 500));
  try {
    const auth = { 'content-type': 'application/fhir+json', authorization: `Bearer ${o.systemToken}` };
    for (const file of ['01-organizations.json', '02-practitioners.json']) {
      const res = await fetch(`${server.url}/fhir`, { method: 'POST', headers: auth, body: await fs.readFile(`fixtures/${file}`, 'utf8') });
      if (res.status !== 200) throw new Error(await res.text());
    }
    o.log(`auth: seeding ${PATIENTS} patients; the practitioner is in the care team of one in three`);
    const visible: string[] = [];
    for (let i = 0; i < PATIENTS; i++) {
      const p = await post(server.url, o.systemToken, 'Patient', benchPatient(i));
      const team = benchCareTeam(p) as { participant: { member: { reference: string } }[] };
      // Els Maes (the bench practitioner) is the nurse of every third patient; others have another nurse.
      if (i % 3 !== 0) team.participant = team.participant.map((x) => (x.member.reference === 'Practitioner/prac-els-maes' ? { ...x, member: { reference: 'Practitioner/prac-marc-dupont' } } : x));
      else visible.push(p);
      const t = await post(server.url, o.systemToken, 'CareTeam', team);
      const c = await post(server.url, o.systemToken, 'Condition', benchCondition(p));
      await post(server.url, o.systemToken, 'CarePlan', benchCarePlan(p, t, c));
    }
    let n = 0;
    const pick = () => visible[n++ % visible.length];
    const scenarios = [
      { name: 'read Patient', path: () => `/fhir/Patient/${pick()}` },
      { name: 'search CarePlan?patient=', path: () => `/fhir/CarePlan?patient=${pick()}` },
      { name: 'search Patient?family=', path: () => '/fhir/Patient?family=peeters&_count=20' },
    ];
    const rows: AuthRow[] = [];
    for (const s of scenarios) {
      const run = (token: string) => load(server.url, { method: 'GET', path: s.path, headers: { authorization: `Bearer ${token}` } }, o.connections, o.durationSeconds);
      // System, practitioner, practitioner, system: what drifts during the run (the audit trail
      // grows, autovacuum wakes up) weighs on both sides alike.
      const s1 = await run(o.systemToken);
      const p1 = await run(o.practitionerToken);
      const p2 = await run(o.practitionerToken);
      const s2 = await run(o.systemToken);
      const system = combine(s1, s2);
      const practitioner = combine(p1, p2);
      const row = { scenario: s.name, system, practitioner, ratio: Math.round((practitioner.rps / system.rps) * 100) / 100 };
      o.log(`auth ${s.name}: system ${system.rps} req/s, practitioner ${practitioner.rps} req/s -> ${Math.round(row.ratio * 100)}%`);
      rows.push(row);
    }
    return rows;
  } finally {
    await server.stop();
  }
}
