import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Parameters } from 'fhir/r4.js';
import { BACKENDS, type TestRecord } from '../support/harness.js';
import { startUpstream, type UpstreamServer } from '../support/upstream-server.js';
import { create, expectSameEverywhere, newWorker, patient, readLocal, remove, startSyncedRecord, syncOf, syncStatus, until, update, upstreamRead } from './helpers.js';

describe.each(BACKENDS)('push to the upstream FHIR server on %s', (backend) => {
  let upstream: UpstreamServer;
  let rec: TestRecord;
  beforeAll(async () => {
    upstream = await startUpstream();
    rec = await startSyncedRecord(backend, upstream);
  });
  afterAll(async () => {
    await rec.close();
    await upstream.close();
  });
  afterEach(() => upstream.faults.clear());

  it('queues every local write of a synced type in the same transaction, and nothing for other types', async () => {
    const p = await create(rec, patient('Queued'));
    const { rows } = await rec.runtime.db.query<{ local_version: number; state: string }>('SELECT local_version, state FROM sync_outbox WHERE res_type = $1 AND id = $2', ['Patient', p.id]);
    expect(rows).toEqual([{ local_version: 1, state: 'pending' }]);
    await rec.runtime.store.transaction(async (s) => {
      await s.put({ resourceType: 'AuditEvent', id: 'audit-1', type: { code: 'rest' }, recorded: '2024-01-01T00:00:00Z', agent: [{ requestor: true }], source: { observer: { display: 'x' } } }, undefined, 'PUT');
    });
    expect((await rec.runtime.db.query('SELECT 1 FROM sync_outbox WHERE res_type = $1', ['AuditEvent'])).rows).toHaveLength(0);
    // A write that fails leaves no outbox row behind.
    await expect(rec.runtime.store.transaction(async (s) => {
      await s.put({ resourceType: 'Patient', id: 'rolled-back', name: [{ family: 'X' }] }, undefined, 'PUT');
      throw new Error('abort');
    })).rejects.toThrow('abort');
    expect((await rec.runtime.db.query('SELECT 1 FROM sync_outbox WHERE id = $1', ['rolled-back'])).rows).toHaveLength(0);
  });

  it('pushes creates, updates and deletes with identical content, in transaction Bundles with If-Match on the last upstream version', async () => {
    const start = upstream.requests.length;
    const a = await create(rec, patient('Aerts'));
    const b = await create(rec, patient('Bosmans'));
    const c = await create(rec, patient('Claes'));
    const worker = newWorker(rec);
    await worker.pushUntilIdle();
    const firstVersionOfA = (await upstreamRead(upstream, 'Patient', String(a.id)))!.meta as { versionId: string };

    await update(rec, { ...a, gender: 'male' });
    await remove(rec, 'Patient', String(c.id));
    const before = upstream.requests.length;
    await worker.pushUntilIdle();
    const sent = upstream.requests.slice(before).filter((r) => r.method !== 'GET');
    // The update went with If-Match on the version upstream had; the delete after a look upstream.
    const ifMatches = sent.flatMap((r) => r.entryIfMatch ?? [r.ifMatch]);
    expect(ifMatches).toContain(`W/"${firstVersionOfA.versionId}"`);
    expect(await upstreamRead(upstream, 'Patient', String(c.id))).toBeUndefined();
    expect((await upstreamRead(upstream, 'Patient', String(b.id)))?.name).toEqual(b.name);
    await expectSameEverywhere(rec, upstream, 'Patient');
    expect(await syncStatus(rec)).toMatchObject({ pending: 0, parked: 0, conflicts: 0, upstreamReachable: true });
    // Batched: the three creates went in transaction Bundles, not one by one (the worker's two push
    // lanes may split them, so at most two Bundles).
    const creates = upstream.requests.slice(start, before).filter((r) => r.method === 'POST' && (r.entries ?? 0) > 0);
    expect(creates.length).toBeGreaterThanOrEqual(1);
    expect(creates.length).toBeLessThanOrEqual(2);
    expect(creates.reduce((n, r) => n + (r.entries ?? 0), 0)).toBeGreaterThanOrEqual(3);
  });

  it('coalesces versions not yet sent: only the latest content goes, once', async () => {
    const p = await create(rec, patient('Coalesced'));
    for (const family of ['Two', 'Three', 'Four']) await update(rec, { ...p, name: [{ family }] });
    await newWorker(rec).pushUntilIdle();
    const versions = upstream.versions('Patient', String(p.id));
    expect(versions).toHaveLength(1);
    expect((versions[0].resource as unknown as { name: unknown }).name).toEqual([{ family: 'Four' }]);
  });

  it('keeps the order per resource: a write made while its resource is in flight is sent after it', async () => {
    const p = await create(rec, patient('Ordered'));
    const worker = newWorker(rec);
    const other = newWorker(rec);
    await worker.refreshCapabilities();
    await other.refreshCapabilities();
    upstream.faults.slow(300);
    const first = worker.pushOnce();
    await until(async () => (await rec.runtime.db.query('SELECT 1 FROM sync_outbox WHERE id = $1 AND lease_owner IS NOT NULL', [p.id])).rows.length, 'the first worker to claim the row');
    await update(rec, { ...p, name: [{ family: 'Ordered-2' }] });
    // A second worker must not send the resource while the first one holds it.
    expect((await other.pushOnce()).claimed).toBe(0);
    await first;
    upstream.faults.slow(0);
    await worker.pushUntilIdle();
    const families = upstream.versions('Patient', String(p.id)).map((v) => (v.resource as unknown as { name: { family: string }[] }).name[0].family);
    expect(families).toEqual(['Ordered-2', 'Ordered']);
    await expectSameEverywhere(rec, upstream, 'Patient');
  });

  it('parks a change the upstream refuses, with its OperationOutcome, and sends it again when the resource changes', async () => {
    upstream.repo.refuse = (r) => ((r as { name?: { family?: string }[] }).name?.[0]?.family === 'Refused' ? 'family names may not be Refused (an upstream rule)' : undefined);
    const ok = await create(rec, patient('Accepted'));
    const bad = await create(rec, patient('Refused'));
    const worker = newWorker(rec);
    await worker.pushUntilIdle();
    expect(await upstreamRead(upstream, 'Patient', String(ok.id))).toBeDefined();
    expect(await upstreamRead(upstream, 'Patient', String(bad.id))).toBeUndefined();
    expect(await syncStatus(rec)).toMatchObject({ pending: 0, parked: 1 });

    const res = await rec.api.get('/fhir/$sync-parked').set('Accept', 'application/fhir+json');
    const parked = (JSON.parse(res.text) as Parameters).parameter!.filter((p) => p.name === 'parked');
    expect(parked).toHaveLength(1);
    const parts = Object.fromEntries(parked[0].part!.map((p) => [p.name, p]));
    expect(parts.target.valueReference?.reference).toBe(`Patient/${bad.id}`);
    expect(JSON.stringify(parts.outcome.resource)).toContain('family names may not be Refused');

    // Not retried on its own: a second round sends nothing.
    const before = upstream.requests.length;
    await worker.pushUntilIdle();
    expect(upstream.requests.length).toBe(before);

    await update(rec, { ...bad, name: [{ family: 'Corrected' }] });
    await worker.pushUntilIdle();
    expect((await upstreamRead(upstream, 'Patient', String(bad.id)))?.name).toEqual([{ family: 'Corrected' }]);
    expect(await syncStatus(rec)).toMatchObject({ parked: 0, pending: 0 });
  });

  it('retries a parked change on request ($sync-resolve action=retry) once the cause is gone upstream', async () => {
    upstream.repo.refuse = () => 'the upstream is read-only today';
    const p = await create(rec, patient('Later'));
    const worker = newWorker(rec);
    await worker.pushUntilIdle();
    expect((await syncStatus(rec)).parked).toBe(1);
    upstream.repo.refuse = undefined;
    const res = await rec.api
      .post('/fhir/$sync-resolve')
      .set('Content-Type', 'application/fhir+json')
      .send(JSON.stringify({ resourceType: 'Parameters', parameter: [{ name: 'target', valueString: '*' }, { name: 'action', valueCode: 'retry' }] }));
    expect(res.status).toBe(200);
    await worker.pushUntilIdle();
    expect(await upstreamRead(upstream, 'Patient', String(p.id))).toBeDefined();
    expect((await syncStatus(rec)).parked).toBe(0);
  });

  it('splits a transaction the upstream finds too big and sends smaller ones from then on', async () => {
    // The Medplum router refuses transactions of more than 50 updates.
    const big = await startSyncedRecord(backend, upstream, { config: { syncBatchSize: 80 } });
    try {
      for (let i = 0; i < 80; i++) await create(big, patient(`Big${i}`));
      await newWorker(big).pushUntilIdle();
      expect(await syncOf(big).syncStore.status()).toMatchObject({ pending: 0, parked: 0, conflicts: 0 });
      const { rows } = await big.runtime.db.query<{ id: string }>("SELECT id FROM resource WHERE res_type = 'Patient'");
      for (const r of rows) expect(upstream.versions('Patient', r.id)).toHaveLength(1);
    } finally {
      await big.close();
    }
  });

  it('sends nothing for a resource created and deleted before any push', async () => {
    const p = await create(rec, patient('Ephemeral'));
    await remove(rec, 'Patient', String(p.id));
    const before = upstream.requests.length;
    await newWorker(rec).pushUntilIdle();
    expect(upstream.requests.slice(before).filter((r) => r.method !== 'GET')).toHaveLength(0);
    expect((await readLocal(rec, 'Patient', String(p.id)))?.deleted).toBe(true);
    expect((await syncStatus(rec)).pending).toBe(0);
  });
});
