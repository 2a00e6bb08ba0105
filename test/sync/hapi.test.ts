import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sameContent, type Obj } from '../../src/sync/content.js';
import type { SyncWorker } from '../../src/sync/worker.js';
import type { TestRecord } from '../support/harness.js';
import { create, newWorker, patient, readLocal, remove, startSyncedRecord, syncStatus, update, upstreamRead, upstreamWrite } from './helpers.js';

/**
 * The sync against a real HAPI FHIR server, when HAPI_BASE_URL names one, e.g. the one of
 * docker-compose.yml:
 *
 *   docker compose up -d hapi
 *   HAPI_BASE_URL=http://localhost:8090/fhir npx vitest run test/sync/hapi.test.ts
 *
 * HAPI must accept client ids (client_id_strategy ANY), transactions and If-Match, and must not
 * add a narrative to what it stores (narrative_enabled false), as configured in docker-compose.yml.
 * Without HAPI_BASE_URL this file holds one test that says that the HAPI run was not done.
 */
const HAPI = process.env.HAPI_BASE_URL?.replace(/\/+$/, '');

if (!HAPI) {
  describe('sync against a real HAPI FHIR server', () => {
    it('was not run: HAPI_BASE_URL is not set', () => {
      console.info('HAPI_BASE_URL not set: the real-HAPI sync test did not run (see test/sync/hapi.test.ts to run it against docker compose)');
      expect(HAPI).toBeUndefined();
    });
  });
} else {
  describe(`sync against the HAPI FHIR server at ${HAPI}`, () => {
    const upstream = { url: HAPI };
    let rec: TestRecord;
    let worker: SyncWorker;
    const run = randomUUID().slice(0, 8);
    beforeAll(async () => {
      rec = await startSyncedRecord('pglite', upstream, { config: { syncTypes: ['Patient'], syncRequestTimeoutMs: 20_000, syncOverlapMs: 5000 } });
      worker = newWorker(rec);
      const caps = await worker.refreshCapabilities();
      expect(caps.transaction).toBe(true);
      expect(caps.types.get('Patient')).toMatchObject({ update: true, historyType: true, versionedUpdate: true });
    });
    afterAll(() => rec?.close());

    /** Starts the pull at our first push: a shared HAPI may hold years of history. */
    async function pullFromOurFirstPush(): Promise<void> {
      const { rows } = await rec.runtime.db.query<{ first: Date }>('SELECT min(upstream_updated) AS first FROM sync_state');
      await rec.runtime.db.query(`INSERT INTO sync_cursor (res_type, since) VALUES ('Patient', $1) ON CONFLICT (res_type) DO NOTHING`, [new Date(rows[0].first).toISOString()]);
    }

    it('pushes in transactions, pulls changes made in HAPI, carries deletes both ways, and keeps conflicts', async () => {
      const a = await create(rec, patient(`HapiA-${run}`));
      const b = await create(rec, patient(`HapiB-${run}`));
      const c = await create(rec, patient(`HapiC-${run}`));
      await worker.pushUntilIdle();
      expect(await syncStatus(rec)).toMatchObject({ pending: 0, parked: 0, conflicts: 0, upstreamReachable: true });
      for (const p of [a, b, c]) expect(sameContent((await upstreamRead(upstream, 'Patient', String(p.id)))!, p)).toBe(true);
      await pullFromOurFirstPush();

      // Our own pushes come back through the history and are not applied again.
      const first = await worker.pullOnce();
      expect(first?.outcomes.applied ?? 0).toBe(0);
      expect((await readLocal(rec, 'Patient', String(a.id)))?.version).toBe(1);

      // Changes made in HAPI by others: an update, a create with HAPI's own id, a delete.
      const remoteA = (await upstreamRead(upstream, 'Patient', String(a.id)))!;
      expect((await upstreamWrite(upstream, 'PUT', `Patient/${a.id}`, { ...remoteA, gender: 'other' })).status).toBe(200);
      const made = await upstreamWrite(upstream, 'POST', 'Patient', patient(`HapiMade-${run}`));
      expect(made.status).toBe(201);
      expect((await upstreamWrite(upstream, 'DELETE', `Patient/${c.id}`)).status).toBeLessThan(300);
      await worker.pullOnce();
      expect((await readLocal(rec, 'Patient', String(a.id)))?.resource?.gender).toBe('other');
      expect(sameContent((await readLocal(rec, 'Patient', String(made.body.id)))!.resource!, made.body)).toBe(true);
      expect((await readLocal(rec, 'Patient', String(c.id)))?.deleted).toBe(true);
      // Not echoed back.
      await worker.pushUntilIdle();
      expect((await syncStatus(rec)).pending).toBe(0);

      // A local delete reaches HAPI.
      await remove(rec, 'Patient', String(b.id));
      await worker.pushUntilIdle();
      expect(await upstreamRead(upstream, 'Patient', String(b.id))).toBeUndefined();

      // Changed on both sides: a conflict, neither side overwritten, then resolved keep-local.
      const localA = (await readLocal(rec, 'Patient', String(a.id)))!.resource!;
      await update(rec, { ...localA, name: [{ family: `HapiA-local-${run}` }] });
      const remoteA2 = (await upstreamRead(upstream, 'Patient', String(a.id)))!;
      await upstreamWrite(upstream, 'PUT', `Patient/${a.id}`, { ...remoteA2, name: [{ family: `HapiA-upstream-${run}` }] });
      await worker.pushUntilIdle();
      await worker.pullOnce();
      expect((await syncStatus(rec)).conflicts).toBe(1);
      expect(((await upstreamRead(upstream, 'Patient', String(a.id)))!.name as Obj[])[0].family).toBe(`HapiA-upstream-${run}`);
      expect(((await readLocal(rec, 'Patient', String(a.id)))!.resource!.name as Obj[])[0].family).toBe(`HapiA-local-${run}`);
      const resolved = await rec.api
        .post('/fhir/$sync-resolve')
        .set('Content-Type', 'application/fhir+json')
        .send(JSON.stringify({ resourceType: 'Parameters', parameter: [{ name: 'target', valueString: `Patient/${a.id}` }, { name: 'action', valueCode: 'keep-local' }] }));
      expect(resolved.status).toBe(200);
      await worker.pushUntilIdle();
      expect(((await upstreamRead(upstream, 'Patient', String(a.id)))!.name as Obj[])[0].family).toBe(`HapiA-local-${run}`);
      expect(await syncStatus(rec)).toMatchObject({ pending: 0, parked: 0, conflicts: 0 });
    });
  });
}
