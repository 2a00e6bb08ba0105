import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Bundle } from 'fhir/r4.js';
import type supertest from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, startTestRecord, type TestRecord } from '../support/harness.js';
import { messages } from '../support/fhir-client.js';
import { PEOPLE, population } from '../indicators/population.js';
import { KEPT_TYPES } from '../../src/export/pseudonymise.js';

type Obj = Record<string, unknown>;
type Agent = supertest.Agent;

interface Manifest {
  transactionTime: string;
  request: string;
  requiresAccessToken: boolean;
  output: { type: string; url: string; count: number }[];
  error: { type: string; url: string; count: number }[];
}

interface Export {
  manifest: Manifest;
  /** File name -> text. */
  files: Map<string, string>;
  /** Every resource of every output file. */
  resources: Obj[];
}

const ASYNC = { Prefer: 'respond-async', Accept: 'application/fhir+json' };

const pathOf = (url: string) => url.slice(url.indexOf('/fhir/'));

async function kickOff(agent: Agent, url: string): Promise<string> {
  const res = await agent.get(url).set(ASYNC);
  expect(res.status, res.text).toBe(202);
  expect(res.headers['content-location']).toMatch(/\/fhir\/\$export-poll-status\?_jobId=/);
  return res.headers['content-location'];
}

async function waitFor(agent: Agent, statusUrl: string): Promise<Manifest> {
  for (let i = 0; i < 600; i++) {
    const res = await agent.get(pathOf(statusUrl));
    if (res.status === 200) {
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.headers.expires).toBeTruthy();
      return JSON.parse(res.text) as Manifest;
    }
    expect(res.status, res.text).toBe(202);
    expect(res.headers['x-progress']).toBeTruthy();
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`export ${statusUrl} did not complete`);
}

async function download(agent: Agent, manifest: Manifest): Promise<Export> {
  const files = new Map<string, string>();
  const resources: Obj[] = [];
  for (const o of [...manifest.output, ...manifest.error]) {
    const res = await agent.get(pathOf(o.url)).set('Accept', 'application/fhir+ndjson');
    expect(res.status, res.text).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/fhir\+ndjson/);
    files.set(new URL(o.url).searchParams.get('_file')!, res.text);
    if (manifest.output.includes(o)) {
      const lines = res.text.split('\n').filter(Boolean);
      expect(lines).toHaveLength(o.count);
      for (const line of lines) resources.push(JSON.parse(line) as Obj);
    }
  }
  return { manifest, files, resources };
}

async function runExport(agent: Agent, url: string): Promise<Export> {
  return download(agent, await waitFor(agent, await kickOff(agent, url)));
}

const byType = (e: Export) => {
  const out: Record<string, number> = {};
  for (const r of e.resources) out[String(r.resourceType)] = (out[String(r.resourceType)] ?? 0) + 1;
  return out;
};

/** Every `reference` string anywhere in a value. */
function references(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) for (const v of value) references(v, out);
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === 'reference' && typeof v === 'string') out.push(v);
      else references(v, out);
    }
  }
  return out;
}

/** The population has 8 patients, 3 related persons, 7 practitioners, 1 role, 2 consortia, 8 conditions, 7 care teams, 6 plans, 6 goals, 4 consents. */
const POPULATION_COUNTS = { Patient: 8, RelatedPerson: 3, Practitioner: 7, PractitionerRole: 1, Organization: 2, Condition: 8, CareTeam: 7, CarePlan: 6, Goal: 6, Consent: 4 };

describe.each(BACKENDS)('bulk export on %s', (backend) => {
  let rec: TestRecord;
  let system: Agent;
  let evaluation: Agent;
  let keyDir: string;

  beforeAll(async () => {
    keyDir = await fs.mkdtemp(path.join(os.tmpdir(), 'icr-export-key-'));
    rec = await startTestRecord(backend, { validation: 'base', writeChecks: [], config: { exportKeyFile: path.join(keyDir, 'export-key') } });
    const res = await rec.api.post('/fhir').set('Content-Type', 'application/fhir+json').send(JSON.stringify(population()));
    expect(res.status, res.text.slice(0, 500)).toBe(200);
    system = rec.as(await rec.token({ scope: 'system/*.rs', clientId: 'export-system' }));
    evaluation = rec.as(await rec.token({ scope: 'system/*.rs', roles: ['evaluation'], clientId: 'evaluation-team' }));
  });
  afterAll(async () => {
    await rec.close();
    await fs.rm(keyDir, { recursive: true, force: true });
  });

  it('system export for a backend: 202, polling, a v2 manifest, one NDJSON file per type with the data as stored', async () => {
    const e = await runExport(system, '/fhir/$export');
    expect(e.manifest).toMatchObject({ requiresAccessToken: true, error: [] });
    expect(e.manifest.request).toBe(`${rec.baseUrl}/$export`);
    expect(Date.parse(e.manifest.transactionTime)).not.toBeNaN();
    expect(byType(e)).toMatchObject(POPULATION_COUNTS);
    for (const o of e.manifest.output) expect(o.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/fhir\/\$export-file\?_jobId=.+&_file=[A-Za-z]+\.1\.ndjson$/);
    // Identified: the SSINs are there.
    const patients = e.resources.filter((r) => r.resourceType === 'Patient');
    expect(JSON.stringify(patients)).toContain(PEOPLE.find((p) => p.family === 'Janssens')!.ssin);
  });

  it('_type and _since select what is exported', async () => {
    const typed = await runExport(system, '/fhir/$export?_type=Patient,Condition');
    expect(byType(typed)).toEqual({ Patient: 8, Condition: 8 });
    const since = new Date(Date.now() - 1).toISOString();
    await new Promise((r) => setTimeout(r, 20));
    const p7 = await system.get('/fhir/Patient/ind-p7');
    const changed = { ...JSON.parse(p7.text), active: true };
    expect((await rec.api.put('/fhir/Patient/ind-p7').set('Content-Type', 'application/fhir+json').send(JSON.stringify(changed))).status).toBe(200);
    const recent = await runExport(system, `/fhir/$export?_type=Patient&_since=${encodeURIComponent(since)}`);
    expect(recent.resources.map((r) => r.id)).toEqual(['ind-p7']);
  });

  it('refuses a kick-off without Prefer: respond-async, unknown types, bad _since and parameters it does not support', async () => {
    const sync = await system.get('/fhir/$export').set('Accept', 'application/fhir+json');
    expect(sync.status).toBe(400);
    expect(messages(JSON.parse(sync.text))).toMatch(/Prefer: respond-async/);
    expect((await system.get('/fhir/$export?_type=Observation').set(ASYNC)).status).toBe(400);
    expect((await system.get('/fhir/$export?_since=yesterday').set(ASYNC)).status).toBe(400);
    expect((await system.get('/fhir/$export?_outputFormat=text/csv').set(ASYNC)).status).toBe(400);
    const elements = await system.get('/fhir/$export?_elements=id').set(ASYNC);
    expect(elements.status).toBe(400);
    expect(messages(JSON.parse(elements.text))).toMatch(/_elements is not supported/);
    // With Prefer: handling=lenient, it is ignored and said so.
    const lenient = await system.get('/fhir/$export?_elements=id&_type=Goal').set({ ...ASYNC, Prefer: 'respond-async, handling=lenient' });
    expect(lenient.status).toBe(202);
    expect(lenient.text).toContain('Ignored (Prefer: handling=lenient): _elements');
    expect((await system.get('/fhir/Group/nope/$export').set(ASYNC)).status).toBe(404);
  });

  it('user and patient tokens cannot start an export; an evaluation token cannot read identified data', async () => {
    const nurse = rec.as(await rec.token({ scope: 'user/*.rs', fhirUser: 'Practitioner/ind-nurse' }));
    expect((await nurse.get('/fhir/$export').set(ASYNC)).status).toBe(403);
    expect((await nurse.get('/fhir/Patient/$export').set(ASYNC)).status).toBe(403);
    const patient = rec.as(await rec.token({ scope: 'patient/*.rs', patient: 'ind-p1' }));
    expect((await patient.get('/fhir/$export').set(ASYNC)).status).toBe(403);
    // A system token without read scope on what it asks for.
    const writer = rec.as(await rec.token({ scope: 'system/Patient.rs', clientId: 'narrow' }));
    expect((await writer.get('/fhir/$export?_type=Patient,Condition').set(ASYNC)).status).toBe(403);
    expect((await evaluation.get('/fhir/Patient/ind-p1')).status).toBe(403);
    expect((await evaluation.get('/fhir/Patient')).status).toBe(403);
    expect((await evaluation.get('/fhir/$export?_type=AuditEvent').set(ASYNC)).status).toBe(403);
  });

  it('pseudonymises every export of an evaluation token: no SSIN, name, phone, email or street in any file', async () => {
    const e = await runExport(evaluation, '/fhir/$export');
    expect(byType(e)).toMatchObject(POPULATION_COUNTS);
    expect(byType(e).AuditEvent).toBeUndefined();
    const all = [...e.files.values()].join('\n');
    for (const p of PEOPLE) {
      expect(all, p.ssin).not.toContain(p.ssin);
      expect(all).not.toContain(`${p.ssin.slice(0, 2)}.${p.ssin.slice(2, 4)}.${p.ssin.slice(4, 6)}-${p.ssin.slice(6, 9)}.${p.ssin.slice(9)}`);
      expect(all, p.family).not.toContain(p.family);
      if (p.given.length >= 4) expect(all, p.given).not.toMatch(new RegExp(`\\b${p.given}\\b`));
      expect(all, p.phone).not.toContain(p.phone);
      expect(all, p.email).not.toContain(p.email);
      expect(all, p.street).not.toContain(p.street);
    }
    // Guidelines and partner organisations are public and exported as they are; what is about a patient carries no
    // free text at all, not even a reference's display.
    const aboutPatients = e.resources.filter((r) => !KEPT_TYPES.has(String(r.resourceType)));
    expect(aboutPatients.length).toBeGreaterThan(0);
    expect(JSON.stringify(aboutPatients)).not.toMatch(/INSZ|"telecom"|"name":\s*\[|"line"|"photo"|"note"|"div"|"display"/);
    const patients = e.resources.filter((r) => r.resourceType === 'Patient');
    for (const p of patients) {
      expect(p.birthDate).toMatch(/^\d{4}$/);
      for (const a of (p.address as Obj[]) ?? []) expect(Object.keys(a).every((k) => ['use', 'type', 'postalCode', 'country', 'period'].includes(k))).toBe(true);
      expect(String(p.id)).toMatch(/^[0-9a-f]{40}$/);
    }
    // What evaluators need is kept: the consortium, care team roles, plan and condition codes and dates.
    expect(e.resources.some((r) => r.resourceType === 'Organization' && r.id === 'ind-cons-a' && r.name === 'Consortium Leie')).toBe(true);
    expect(JSON.stringify(e.resources.filter((r) => r.resourceType === 'CareTeam'))).toContain('persgeneralphysician');
    expect(e.resources.some((r) => r.resourceType === 'Condition' && r.recordedDate === '2024-01-10')).toBe(true);
    // References resolve inside the export.
    const ids = new Set(e.resources.map((r) => `${String(r.resourceType)}/${String(r.id)}`));
    const refs = e.resources.flatMap((r) => references(r));
    expect(refs.length).toBeGreaterThan(50);
    for (const ref of refs) expect(ids, ref).toContain(ref);
  });

  it('the same patient has the same pseudonym in every export with the same key, another one with another key', async () => {
    const first = await runExport(evaluation, '/fhir/$export?_type=Patient');
    const second = await runExport(evaluation, '/fhir/$export?_type=Patient');
    const ids = (e: Export) => e.resources.map((r) => r.id).sort();
    expect(ids(second)).toEqual(ids(first));
    const ssinHash = (e: Export) => e.resources.map((r) => (r.identifier as Obj[])[0].value).sort();
    expect(ssinHash(second)).toEqual(ssinHash(first));
    // Another evaluation team (another client) gets pseudonyms of its own key.
    const other = rec.as(await rec.token({ scope: 'system/*.rs', roles: ['evaluation'], clientId: 'other-team' }));
    const theirs = await runExport(other, '/fhir/$export?_type=Patient');
    expect(ids(theirs)).toHaveLength(8);
    for (const id of ids(theirs)) expect(ids(first)).not.toContain(id);
  });

  it('Patient/$export: the patient compartments and the providers they refer to; Group/{id}/$export: the group members only', async () => {
    const patients = await runExport(system, '/fhir/Patient/$export');
    expect(byType(patients)).toMatchObject({ Patient: 8, Condition: 8, CareTeam: 7, CarePlan: 6, Goal: 6, Consent: 4, RelatedPerson: 3, Practitioner: 7, PractitionerRole: 1 });
    // P5's team is managed by consortium A: the consortium comes along, B (referred to by nothing) does not.
    expect(patients.resources.filter((r) => r.resourceType === 'Organization').map((r) => r.id)).toEqual(['ind-cons-a']);

    const group = {
      resourceType: 'Group',
      id: 'ind-cohort',
      type: 'person',
      actual: true,
      name: 'Evaluatiecohorte',
      member: [{ entity: { reference: 'Patient/ind-p1' } }, { entity: { reference: 'Patient/ind-p2' } }, { entity: { reference: 'Patient/ind-p3' }, inactive: true }],
    };
    expect((await rec.api.put('/fhir/Group/ind-cohort').set('Content-Type', 'application/fhir+json').send(JSON.stringify(group))).status).toBe(201);
    const cohort = await runExport(system, '/fhir/Group/ind-cohort/$export');
    expect(cohort.resources.filter((r) => r.resourceType === 'Patient').map((r) => r.id).sort()).toEqual(['ind-p1', 'ind-p2']);
    // P1: t1, t1-old; P2: t2a, t2b. Conditions: 1 + 2. Plans: cp1, cp2.
    expect(byType(cohort)).toMatchObject({ Patient: 2, CareTeam: 4, Condition: 3, CarePlan: 2, RelatedPerson: 1 });
    const pseudonymised = await runExport(evaluation, '/fhir/Group/ind-cohort/$export');
    const ids = new Set(pseudonymised.resources.map((r) => `${String(r.resourceType)}/${String(r.id)}`));
    for (const ref of pseudonymised.resources.flatMap((r) => references(r))) expect(ids, ref).toContain(ref);
  });

  it('only the client that started an export polls and downloads it; DELETE cancels it', async () => {
    const statusUrl = await kickOff(system, '/fhir/$export?_type=Patient');
    const manifest = await waitFor(system, statusUrl);
    const other = rec.as(await rec.token({ scope: 'system/*.rs', clientId: 'someone-else' }));
    expect((await other.get(pathOf(statusUrl))).status).toBe(404);
    expect((await other.get(pathOf(manifest.output[0].url))).status).toBe(404);
    // An evaluation token of the same client id still cannot touch an identified export.
    const sameClientEvaluation = rec.as(await rec.token({ scope: 'system/*.rs', roles: ['evaluation'], clientId: 'export-system' }));
    expect((await sameClientEvaluation.get(pathOf(manifest.output[0].url))).status).toBe(404);
    expect((await rec.anonymous.get(pathOf(manifest.output[0].url))).status).toBe(401);

    const cancelled = await system.delete(pathOf(statusUrl));
    expect(cancelled.status).toBe(202);
    expect((await system.get(pathOf(statusUrl))).status).toBe(404);
    expect((await system.get(pathOf(manifest.output[0].url))).status).toBe(404);
  });

  it('reports progress while running, and a job whose worker died is taken over and finished', async () => {
    const statusUrl = await kickOff(system, '/fhir/$export?_type=Patient,Goal');
    const id = new URL(statusUrl).searchParams.get('_jobId')!;
    await waitFor(system, statusUrl);
    // As if another replica had claimed it and died at 42%: running, lease held, then expired.
    await rec.runtime.db.query(
      "UPDATE export_job SET status = 'running', lease_owner = 'dead-replica', lease_until = now() + interval '1 hour', total = 100000, done = 42000, manifest = NULL WHERE id = $1",
      [id],
    );
    const running = await system.get(pathOf(statusUrl));
    expect(running.status).toBe(202);
    expect(running.headers['x-progress']).toBe('42% (42,000 of 100,000 resources)');
    expect(Number(running.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    await rec.runtime.db.query("UPDATE export_job SET lease_until = now() - interval '1 second' WHERE id = $1", [id]);
    const manifest = await waitFor(system, statusUrl);
    expect(manifest.output.map((o) => [o.type, o.count])).toEqual([
      ['Patient', 8],
      ['Goal', 6],
    ]);
    const { rows } = await rec.runtime.db.query<{ attempts: number; status: string }>('SELECT attempts, status FROM export_job WHERE id = $1', [id]);
    expect(rows[0]).toEqual({ attempts: 2, status: 'completed' });
  });

  it('audits every export job with its query, and every download', async () => {
    const statusUrl = await kickOff(evaluation, '/fhir/$export?_type=Consent');
    const e = await download(evaluation, await waitFor(evaluation, statusUrl));
    expect(e.resources).toHaveLength(4);
    const admin = rec.as(await rec.token({ scope: 'system/*.rs', clientId: 'auditor' }));
    const kicks = await admin.get(`/fhir/AuditEvent?subtype=${encodeURIComponent('https://fhir.integrated-care.be/bulk-export|kick-off')}&_count=100`);
    const events = (JSON.parse(kicks.text) as Bundle).entry!.map((x) => x.resource as unknown as Obj);
    const mine = events.find((ev) => JSON.stringify(ev).includes('_type=Consent') && JSON.stringify(ev).includes('pseudonymised'));
    expect(mine).toBeTruthy();
    expect(JSON.stringify(mine)).toContain('evaluation-team');
    const downloads = await admin.get(`/fhir/AuditEvent?subtype=${encodeURIComponent('https://fhir.integrated-care.be/bulk-export|download')}&_count=100`);
    expect(JSON.stringify(JSON.parse(downloads.text))).toContain('Consent.1.ndjson');
  });
});

describe('bulk export across replicas (PostgreSQL)', () => {
  let one: TestRecord;
  let two: TestRecord;
  const keyDir = path.join(os.tmpdir(), `icr-export-replicas-${process.pid}`);

  beforeAll(async () => {
    await fs.mkdir(keyDir, { recursive: true });
    one = await startTestRecord('postgres', { validation: 'base', writeChecks: [], config: { exportKeyFile: path.join(keyDir, 'key-one') } });
    // A second replica on the same database, with another export key.
    two = await startTestRecord('postgres', { validation: 'base', writeChecks: [], shareSchemaOf: one, config: { exportKeyFile: path.join(keyDir, 'key-two') } });
    expect((await one.api.post('/fhir').set('Content-Type', 'application/fhir+json').send(JSON.stringify(population()))).status).toBe(200);
  });
  afterAll(async () => {
    await two.close();
    await one.close();
    await fs.rm(keyDir, { recursive: true, force: true });
  });

  it('any replica answers the polling and serves the files of a job another one started', async () => {
    const token = await one.token({ scope: 'system/*.rs', clientId: 'replicated' });
    const statusUrl = await kickOff(one.as(token), '/fhir/$export?_type=Patient');
    const onTwo = statusUrl.replace(one.baseUrl, two.baseUrl);
    const manifest = await waitFor(two.as(token), onTwo);
    const e = await download(two.as(token), manifest);
    expect(e.resources).toHaveLength(8);
  });

  it('another export key gives other pseudonyms', async () => {
    const token = await one.token({ scope: 'system/*.rs', roles: ['evaluation'], clientId: 'evaluation-team' });
    const a = await runExport(one.as(token), '/fhir/$export?_type=Patient');
    // The job is claimed by whichever replica wakes first: kick off on two with its worker only.
    await one.runtime.evaluation.worker.stop();
    const b = await runExport(two.as(token), '/fhir/$export?_type=Patient');
    const ids = (e: Export) => new Set(e.resources.map((r) => String(r.id)));
    expect(ids(a).size).toBe(8);
    expect([...ids(b)].filter((id) => ids(a).has(id))).toEqual([]);
  });
});
