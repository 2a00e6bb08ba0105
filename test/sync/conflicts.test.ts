import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Parameters, ParametersParameter } from 'fhir/r4.js';
import type { Obj } from '../../src/sync/content.js';
import type { SyncWorker } from '../../src/sync/worker.js';
import { BACKENDS, type TestRecord } from '../support/harness.js';
import { startUpstream, type UpstreamServer } from '../support/upstream-server.js';
import { create, newWorker, patient, readLocal, remove, startSyncedRecord, syncStatus, update, upstreamRead, upstreamWrite } from './helpers.js';

type Conflict = Record<string, ParametersParameter>;

describe.each(BACKENDS)('conflicts between local and upstream changes on %s', (backend) => {
  let upstream: UpstreamServer;
  let rec: TestRecord;
  let worker: SyncWorker;
  beforeAll(async () => {
    upstream = await startUpstream();
    rec = await startSyncedRecord(backend, upstream);
    worker = newWorker(rec);
  });
  afterAll(async () => {
    await rec.close();
    await upstream.close();
  });

  async function conflicts(): Promise<Map<string, Conflict>> {
    const res = await rec.api.get('/fhir/$sync-conflicts').set('Accept', 'application/fhir+json');
    expect(res.status).toBe(200);
    const out = new Map<string, Conflict>();
    for (const p of (JSON.parse(res.text) as Parameters).parameter ?? []) {
      if (p.name !== 'conflict') continue;
      const parts = Object.fromEntries(p.part!.map((x) => [x.name, x]));
      out.set(parts.target.valueReference!.reference!, parts);
    }
    return out;
  }

  async function resolve(target: string, action: string, extra: ParametersParameter[] = []) {
    return rec.api
      .post('/fhir/$sync-resolve')
      .set('Content-Type', 'application/fhir+json')
      .set('Accept', 'application/fhir+json')
      .send(JSON.stringify({ resourceType: 'Parameters', parameter: [{ name: 'target', valueReference: { reference: target } }, { name: 'action', valueCode: action }, ...extra] }));
  }

  /** A resource pushed and known on both sides, then changed here (not pushed) and upstream. */
  async function changedOnBothSides(family: string): Promise<{ id: string; local: Obj; remote: Obj }> {
    const p = await create(rec, patient(family));
    await worker.pushUntilIdle();
    await worker.pullOnce();
    const local = await update(rec, { ...p, name: [{ family: `${family}-local` }] });
    const remote = (await upstreamRead(upstream, 'Patient', String(p.id)))!;
    const changed = await upstreamWrite(upstream, 'PUT', `Patient/${p.id}`, { ...remote, name: [{ family: `${family}-upstream` }] });
    expect(changed.status).toBe(200);
    return { id: String(p.id), local, remote: changed.body };
  }

  it('finds the conflict on pull, keeps both versions, overwrites neither, and resolves keep-local with If-Match', async () => {
    const { id, remote } = await changedOnBothSides('Janssens');
    const round = await worker.pullOnce();
    expect(round?.outcomes.conflict).toBe(1);
    // Neither side overwritten.
    expect((await readLocal(rec, 'Patient', id))?.resource?.name).toEqual([{ family: 'Janssens-local' }]);
    await worker.pushUntilIdle();
    expect((await upstreamRead(upstream, 'Patient', id))?.name).toEqual([{ family: 'Janssens-upstream' }]);
    expect(await syncStatus(rec)).toMatchObject({ conflicts: 1, pending: 0 });

    const c = (await conflicts()).get(`Patient/${id}`)!;
    expect(c.detectedBy.valueCode).toBe('pull');
    expect((c.local.resource as unknown as Obj).name).toEqual([{ family: 'Janssens-local' }]);
    expect((c.upstream.resource as unknown as Obj).name).toEqual([{ family: 'Janssens-upstream' }]);
    expect(c.upstreamVersion.valueString).toBe((remote.meta as Obj).versionId);
    expect(c.localVersion.valueString).toBe('2');

    const res = await resolve(`Patient/${id}`, 'keep-local', [{ name: 'upstreamVersion', valueString: c.upstreamVersion.valueString }]);
    expect(res.status).toBe(200);
    await worker.pushUntilIdle();
    expect((await upstreamRead(upstream, 'Patient', id))?.name).toEqual([{ family: 'Janssens-local' }]);
    // The push went with If-Match on the upstream version of the conflict.
    expect(upstream.requests.some((r) => r.ifMatch === `W/"${c.upstreamVersion.valueString}"` || r.entryIfMatch?.includes(`W/"${c.upstreamVersion.valueString}"`))).toBe(true);
    const after = await worker.pullOnce();
    expect(after?.outcomes.conflict ?? 0).toBe(0);
    expect(await syncStatus(rec)).toMatchObject({ conflicts: 0, pending: 0 });
  });

  it('finds the conflict on push (the upstream refuses the If-Match) and resolves take-upstream', async () => {
    const { id } = await changedOnBothSides('Peeters');
    await worker.pushUntilIdle();
    expect((await upstreamRead(upstream, 'Patient', id))?.name).toEqual([{ family: 'Peeters-upstream' }]);
    const c = (await conflicts()).get(`Patient/${id}`)!;
    expect(c.detectedBy.valueCode).toBe('push');
    // The pull that follows sees the same upstream version: still one conflict, nothing applied.
    const round = await worker.pullOnce();
    expect(round?.outcomes.applied ?? 0).toBe(0);
    expect((await readLocal(rec, 'Patient', id))?.resource?.name).toEqual([{ family: 'Peeters-local' }]);

    expect((await resolve(`Patient/${id}`, 'take-upstream')).status).toBe(200);
    const local = await readLocal(rec, 'Patient', id);
    expect(local).toMatchObject({ version: 3, resource: { name: [{ family: 'Peeters-upstream' }] } });
    // Both earlier versions stay in the local history.
    const history = await rec.api.get(`/fhir/Patient/${id}/_history`).set('Accept', 'application/fhir+json');
    expect(JSON.parse(history.text).entry).toHaveLength(3);
    const before = upstream.requests.filter((r) => r.method !== 'GET').length;
    await worker.pushUntilIdle();
    expect(upstream.requests.filter((r) => r.method !== 'GET').length).toBe(before);
    expect(await syncStatus(rec)).toMatchObject({ conflicts: 0, pending: 0 });
  });

  it('resolves with a merged resource, validated, pushed on top of the upstream version', async () => {
    const { id, local } = await changedOnBothSides('Maes');
    await worker.pullOnce();
    const invalid = await resolve(`Patient/${id}`, 'merge', [{ name: 'resource', resource: { ...local, gender: 'bogus' } as never }]);
    expect(invalid.status).toBe(422);
    const merged = { ...local, name: [{ family: 'Maes-local' }, { family: 'Maes-upstream', use: 'old' }] };
    const res = await resolve(`Patient/${id}`, 'merge', [{ name: 'resource', resource: merged as never }]);
    expect(res.status).toBe(200);
    expect((await readLocal(rec, 'Patient', id))?.resource?.name).toEqual(merged.name);
    await worker.pushUntilIdle();
    expect((await upstreamRead(upstream, 'Patient', id))?.name).toEqual(merged.name);
    expect(await syncStatus(rec)).toMatchObject({ conflicts: 0, pending: 0 });
  });

  it('treats a local delete against an upstream edit as a conflict', async () => {
    const p = await create(rec, patient('Wouters'));
    await worker.pushUntilIdle();
    await worker.pullOnce();
    const remote = (await upstreamRead(upstream, 'Patient', String(p.id)))!;
    await upstreamWrite(upstream, 'PUT', `Patient/${p.id}`, { ...remote, gender: 'male' });
    await remove(rec, 'Patient', String(p.id));
    await worker.pushUntilIdle();
    expect((await upstreamRead(upstream, 'Patient', String(p.id)))?.gender).toBe('male');
    const c = (await conflicts()).get(`Patient/${p.id}`)!;
    expect(c.localDeleted.valueBoolean).toBe(true);
    expect((c.upstream.resource as unknown as Obj).gender).toBe('male');
    expect((await resolve(`Patient/${p.id}`, 'take-upstream')).status).toBe(200);
    expect((await readLocal(rec, 'Patient', String(p.id)))).toMatchObject({ deleted: false, resource: { gender: 'male' } });
  });

  it('ends a conflict by itself when the upstream takes our version', async () => {
    const { id, local } = await changedOnBothSides('Claes');
    await worker.pullOnce();
    expect((await conflicts()).has(`Patient/${id}`)).toBe(true);
    const remote = (await upstreamRead(upstream, 'Patient', id))!;
    await upstreamWrite(upstream, 'PUT', `Patient/${id}`, { ...remote, name: local.name });
    await worker.pullOnce();
    expect((await conflicts()).has(`Patient/${id}`)).toBe(false);
    expect((await readLocal(rec, 'Patient', id))?.version).toBe(2);
    const before = upstream.requests.filter((r) => r.method !== 'GET').length;
    await worker.pushUntilIdle();
    expect(upstream.requests.filter((r) => r.method !== 'GET').length).toBe(before);
  });

  it('refuses a resolution that is stale, unknown or malformed', async () => {
    const { id } = await changedOnBothSides('Jacobs');
    await worker.pullOnce();
    const stale = await resolve(`Patient/${id}`, 'keep-local', [{ name: 'upstreamVersion', valueString: 'not-the-version' }]);
    expect(stale.status).toBe(409);
    expect((await resolve('Patient/no-such-conflict', 'keep-local')).status).toBe(404);
    expect((await resolve(`Patient/${id}`, 'overwrite-everything')).status).toBe(400);
    expect((await resolve('Nonsense/1', 'keep-local')).status).toBe(400);
    expect((await resolve(`Patient/${id}`, 'merge')).status).toBe(400);
    const get = await rec.api.get('/fhir/$sync-resolve');
    expect(get.status).toBe(405);
    // Both versions of any patient's record: not for a practitioner's token.
    const user = rec.as(await rec.token({ scope: 'user/*.cruds', fhirUser: 'Practitioner/someone' }));
    expect((await user.get('/fhir/$sync-conflicts')).status).toBe(403);
    expect((await user.post('/fhir/$sync-resolve').set('Content-Type', 'application/fhir+json').send(JSON.stringify({ resourceType: 'Parameters', parameter: [{ name: 'target', valueString: `Patient/${id}` }, { name: 'action', valueCode: 'take-upstream' }] }))).status).toBe(403);
    expect((await conflicts()).has(`Patient/${id}`)).toBe(true);
  });
});
