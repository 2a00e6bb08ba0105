import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Parameters } from 'fhir/r4.js';
import { sameContent, type Obj } from '../../src/sync/content.js';
import type { SyncWorker } from '../../src/sync/worker.js';
import { BACKENDS, type TestRecord } from '../support/harness.js';
import { startUpstream, type UpstreamServer } from '../support/upstream-server.js';
import { create, newWorker, patient, readLocal, remove, startSyncedRecord, syncOf, syncStatus, update, upstreamRead, upstreamWrite } from './helpers.js';

describe.each(BACKENDS)('pull from the upstream FHIR server on %s', (backend) => {
  let upstream: UpstreamServer;
  let rec: TestRecord;
  // One worker for the whole file: the pull lease belongs to one worker at a time.
  let worker: SyncWorker;
  beforeAll(async () => {
    upstream = await startUpstream();
    rec = await startSyncedRecord(backend, upstream, { config: { syncTypes: ['CarePlan', 'Patient'] } });
    worker = newWorker(rec);
  });
  afterAll(async () => {
    await rec.close();
    await upstream.close();
  });

  it('stores changes made upstream as new local versions, numeric ids included, and does not send them back', async () => {
    const mine = await create(rec, patient('Mine'));
    await worker.pushUntilIdle();
    const created = await upstreamWrite(upstream, 'POST', 'Patient', patient('MadeUpstream'));
    expect(created.status).toBe(201);
    const numeric = await upstreamWrite(upstream, 'PUT', 'Patient/12345', { ...patient('Numeric'), id: '12345' });
    expect(numeric.status).toBe(200);
    const remote = (await upstreamRead(upstream, 'Patient', String(mine.id)))!;
    await upstreamWrite(upstream, 'PUT', `Patient/${mine.id}`, { ...remote, gender: 'other' });

    const round = await worker.pullOnce();
    expect(round?.outcomes.applied).toBe(3);
    const a = await readLocal(rec, 'Patient', String(created.body.id));
    expect(a && sameContent(a.resource!, created.body)).toBe(true);
    expect((await readLocal(rec, 'Patient', '12345'))?.resource?.name).toEqual([{ family: 'Numeric', given: ['Test'] }]);
    const m = await readLocal(rec, 'Patient', String(mine.id));
    expect(m).toMatchObject({ version: 2, resource: { gender: 'other' } });

    // Not echoed: nothing is queued, and a push round sends nothing.
    expect((await rec.runtime.db.query("SELECT 1 FROM sync_outbox WHERE state = 'pending'")).rows).toHaveLength(0);
    const before = upstream.requests.filter((r) => r.method !== 'GET').length;
    await worker.pushUntilIdle();
    expect(upstream.requests.filter((r) => r.method !== 'GET').length).toBe(before);
    // Polling again applies nothing twice.
    const again = await worker.pullOnce();
    expect(again?.outcomes.applied ?? 0).toBe(0);
    expect((await readLocal(rec, 'Patient', String(mine.id)))?.version).toBe(2);

    // A local change to a resource made upstream goes back with If-Match on its upstream version.
    await update(rec, { ...a!.resource!, gender: 'male' });
    await worker.pushUntilIdle();
    expect((await upstreamRead(upstream, 'Patient', String(created.body.id)))?.gender).toBe('male');
    expect(await syncStatus(rec)).toMatchObject({ pending: 0, conflicts: 0 });
  });

  it('carries deletes both ways', async () => {
    const here = await create(rec, patient('DeletedHere'));
    const there = await create(rec, patient('DeletedThere'));
    await worker.pushUntilIdle();
    await worker.pullOnce();

    await remove(rec, 'Patient', String(here.id));
    await worker.pushUntilIdle();
    expect(await upstreamRead(upstream, 'Patient', String(here.id))).toBeUndefined();

    expect((await upstreamWrite(upstream, 'DELETE', `Patient/${there.id}`)).status).toBe(200);
    const round = await worker.pullOnce();
    expect(round?.outcomes.applied).toBe(1);
    expect((await readLocal(rec, 'Patient', String(there.id)))?.deleted).toBe(true);
    const gone = await rec.api.get(`/fhir/Patient/${there.id}`);
    expect(gone.status).toBe(410);
    // Our own delete coming back through the history is not applied again.
    expect((await readLocal(rec, 'Patient', String(here.id)))).toMatchObject({ deleted: true, version: 2 });
    await worker.pushUntilIdle();
    expect((await syncStatus(rec)).pending).toBe(0);
  });

  it('stores a resource whose reference points at something not pulled yet', async () => {
    const plan = {
      resourceType: 'CarePlan',
      id: 'plan-before-patient',
      status: 'active',
      intent: 'plan',
      subject: { reference: 'Patient/patient-after-plan' },
    };
    await upstreamWrite(upstream, 'PUT', 'CarePlan/plan-before-patient', plan);
    const first = await worker.pullOnce();
    expect(first?.outcomes.applied).toBe(1);
    expect((await readLocal(rec, 'CarePlan', 'plan-before-patient'))?.resource?.subject).toEqual({ reference: 'Patient/patient-after-plan' });
    expect(await readLocal(rec, 'Patient', 'patient-after-plan')).toBeUndefined();
    await upstreamWrite(upstream, 'PUT', 'Patient/patient-after-plan', { ...patient('After'), id: 'patient-after-plan' });
    await worker.pullOnce();
    expect((await readLocal(rec, 'Patient', 'patient-after-plan'))?.resource?.name).toEqual([{ family: 'After', given: ['Test'] }]);
  });

  it('validates pulled versions: an invalid one is kept aside with its OperationOutcome, visible, and not applied', async () => {
    const bad = await upstreamWrite(upstream, 'POST', 'Patient', patient('Invalid', { gender: 'bogus' }));
    const round = await worker.pullOnce();
    expect(round?.outcomes.rejected).toBe(1);
    expect(await readLocal(rec, 'Patient', String(bad.body.id))).toBeUndefined();
    expect((await syncStatus(rec)).rejected).toBe(1);
    const res = await rec.api.get('/fhir/$sync-parked').set('Accept', 'application/fhir+json');
    const rejected = (JSON.parse(res.text) as Parameters).parameter!.filter((p) => p.name === 'rejected');
    expect(rejected).toHaveLength(1);
    const parts = Object.fromEntries(rejected[0].part!.map((p) => [p.name, p]));
    expect(parts.target.valueReference?.reference).toBe(`Patient/${bad.body.id}`);
    expect(JSON.stringify(parts.outcome.resource)).toContain('bogus');
    expect((parts.upstream.resource as unknown as Obj).gender).toBe('bogus');
    // Read again by the next poll (the overlap window): still not applied, not recorded twice.
    await worker.pullOnce();
    expect((await syncStatus(rec)).rejected).toBe(1);

    await upstreamWrite(upstream, 'PUT', `Patient/${bad.body.id}`, { ...bad.body, gender: 'female' });
    await worker.pullOnce();
    expect((await readLocal(rec, 'Patient', String(bad.body.id)))?.resource?.gender).toBe('female');
    expect((await syncStatus(rec)).rejected).toBe(0);
  });

  it('applies each version once when entries share a timestamp or arrive late within the overlap window', async () => {
    await worker.pullOnce();
    // Written with a lastUpdated of their own (the router keeps it on create): one at the newest
    // instant seen so far, as a second entry with the same timestamp, and one a little earlier,
    // as a transaction committing late would.
    const { rows } = await rec.runtime.db.query<{ since: Date }>("SELECT since FROM sync_cursor WHERE res_type = 'Patient'");
    const cursor = new Date(rows[0].since);
    const same = { ...patient('SameInstant'), meta: { lastUpdated: cursor.toISOString(), versionId: 'same-instant-1' } };
    const late = { ...patient('LateCommit'), meta: { lastUpdated: new Date(cursor.getTime() - 500).toISOString(), versionId: 'late-1' } };
    const a = await upstreamWrite(upstream, 'POST', 'Patient', same);
    const b = await upstreamWrite(upstream, 'POST', 'Patient', late);
    expect(a.body.meta).toMatchObject({ lastUpdated: cursor.toISOString() });
    const round = await worker.pullOnce();
    expect(round?.outcomes.applied).toBe(2);
    expect(round?.outcomes.seen).toBeGreaterThan(0);
    expect((await readLocal(rec, 'Patient', String(a.body.id)))?.version).toBe(1);
    expect((await readLocal(rec, 'Patient', String(b.body.id)))?.version).toBe(1);
    await worker.pullOnce();
    expect((await readLocal(rec, 'Patient', String(a.body.id)))?.version).toBe(1);
  });

  it('recognises its own push in the history before the push is recorded, and waits on a change made meanwhile', async () => {
    // The upstream holds the answer to our write until the pull has run.
    let release!: () => void;
    let reached!: () => void;
    const arrived = () => new Promise<void>((r) => (reached = r));
    const hold = () => {
      const gate = new Promise<void>((r) => (release = r));
      upstream.faults.afterApply(async (method) => {
        if (method === 'GET') return;
        reached();
        await gate;
      });
    };
    try {
      const p = await create(rec, patient('Racing'));
      hold();
      let reachedUpstream = arrived();
      let pushing = worker.pushOnce();
      await reachedUpstream;
      const echo = await worker.pullOnce();
      expect(echo?.outcomes.echo).toBe(1);
      release();
      expect((await pushing).recorded).toBe(1);
      expect(upstream.versions('Patient', String(p.id))).toHaveLength(1);
      expect((await readLocal(rec, 'Patient', String(p.id)))?.version).toBe(1);

      // Changed upstream, and here: our push is refused (If-Match) but held; the pull waits for it.
      const remote = (await upstreamRead(upstream, 'Patient', String(p.id)))!;
      upstream.faults.afterApply(undefined);
      await upstreamWrite(upstream, 'PUT', `Patient/${p.id}`, { ...remote, gender: 'other' });
      await update(rec, { ...p, gender: 'male' });
      hold();
      reachedUpstream = arrived();
      pushing = worker.pushOnce();
      await reachedUpstream;
      const waiting = await worker.pullOnce();
      expect(waiting?.outcomes.deferred).toBe(1);
      release();
      expect((await pushing).conflicts).toBe(1);
      const after = await worker.pullOnce();
      expect(after?.outcomes.conflict).toBe(1);
      expect((await readLocal(rec, 'Patient', String(p.id)))?.resource?.gender).toBe('male');
      expect((await upstreamRead(upstream, 'Patient', String(p.id)))?.gender).toBe('other');
      expect((await syncStatus(rec)).conflicts).toBe(1);
    } finally {
      upstream.faults.afterApply(undefined);
      release?.();
    }
  });

  it('does not send again a change that the pull found upstream while a dead worker still held it', async () => {
    const p = await create(rec, patient('Orphaned'));
    await worker.pushUntilIdle();
    const changed = await update(rec, { ...p, gender: 'male' });
    // A worker claims the change, its transaction is applied upstream, and it dies before recording it.
    const claimed = await syncOf(rec).syncStore.claim(10, 'worker-that-died', 300);
    const item = claimed.find((c) => c.id === p.id);
    expect(item?.upstreamVersion).toBeDefined();
    const applied = await upstreamWrite(upstream, 'PUT', `Patient/${p.id}`, { ...changed, meta: undefined }, { 'if-match': `W/"${item!.upstreamVersion}"` });
    expect(applied.status).toBe(200);
    // The pull recognises our own change; the dead worker's lease keeps its outbox row for now.
    expect((await worker.pullOnce())?.outcomes.echo).toBe(1);
    await new Promise((r) => setTimeout(r, 350));
    await worker.pushUntilIdle();
    expect(upstream.versions('Patient', String(p.id))).toHaveLength(2);
    expect((await syncStatus(rec)).pending).toBe(0);
  });

  it('forgets seen versions only once no poll can read them again', async () => {
    const db = rec.runtime.db;
    await db.query(`INSERT INTO sync_seen (res_type, id, version, upstream_updated) VALUES ('Patient', 'ancient', 'v1', '2001-01-01T00:00:00Z'), ('Patient', 'recent', 'v1', now())`);
    const removed = await syncOf(rec).syncStore.pruneSeen(5000);
    expect(removed).toBeGreaterThanOrEqual(1);
    const { rows } = await db.query<{ id: string }>(`SELECT id FROM sync_seen WHERE id IN ('ancient', 'recent')`);
    expect(rows.map((r) => r.id)).toEqual(['recent']);
  });
});

describe('pull from an upstream without type history', () => {
  it('reads the CapabilityStatement and polls by _lastUpdated instead', async () => {
    const upstream = await startUpstream({ typeHistory: false });
    const rec = await startSyncedRecord('pglite', upstream, { config: { syncTypes: ['Patient'] } });
    try {
      const worker = newWorker(rec);
      const made = await upstreamWrite(upstream, 'POST', 'Patient', patient('FoundBySearch'));
      const round = await worker.pullOnce();
      expect(worker.capabilities?.types.get('Patient')?.historyType).toBe(false);
      expect(round?.outcomes.applied).toBe(1);
      expect((await readLocal(rec, 'Patient', String(made.body.id)))?.resource?.name).toEqual([{ family: 'FoundBySearch', given: ['Test'] }]);
      expect(upstream.requests.some((r) => r.method === 'GET' && r.path === '/fhir/Patient')).toBe(true);
      expect(upstream.requests.some((r) => r.path.endsWith('/_history'))).toBe(false);
    } finally {
      await rec.close();
      await upstream.close();
    }
  });
});
