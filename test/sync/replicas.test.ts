import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime, type Runtime } from '../../src/bootstrap.js';
import { createLogger } from '../../src/logging.js';
import type { Obj } from '../../src/sync/content.js';
import { SyncWorker } from '../../src/sync/worker.js';
import type { TestRecord } from '../support/harness.js';
import { startUpstream, type UpstreamServer } from '../support/upstream-server.js';
import { ctx, expectSameEverywhere, NO_VALIDATION, patient, startSyncedRecord, syncOf, until, update, upstreamWrite } from './helpers.js';

/** Two replicas of the service (two runtimes, two pools) on one PostgreSQL database, each with a worker. */
describe('several sync workers on one database (PostgreSQL)', () => {
  let upstream: UpstreamServer;
  let rec: TestRecord;
  let second: Runtime;
  beforeAll(async () => {
    upstream = await startUpstream();
    rec = await startSyncedRecord('postgres', upstream, { ...NO_VALIDATION, config: { syncTypes: ['Patient'], syncBatchSize: 10 } });
    second = await createRuntime(rec.runtime.config, { ...NO_VALIDATION, logger: createLogger('silent') });
  });
  afterAll(async () => {
    await second.close();
    await rec.close();
    await upstream.close();
  });

  it('push every change once and pull with one of them at a time', async () => {
    const workers = [new SyncWorker(syncOf(rec)), new SyncWorker(syncOf(rec)), new SyncWorker(second.sync!)];
    for (const w of workers) w.start();
    try {
      const writeVia = async (runtime: Runtime, i: number) => {
        const res = await runtime.service.crud.create(ctx(rec), 'Patient', patient(`Replica${i}`), {});
        return JSON.parse((res.body as { text: string }).text) as Obj;
      };
      const made = await Promise.all(Array.from({ length: 300 }, (_, i) => writeVia(i % 2 ? second : rec.runtime, i)));
      for (let i = 0; i < made.length; i += 3) await update(rec, { ...made[i], gender: 'unknown' });
      const upstreamMade = await upstreamWrite(upstream, 'POST', 'Patient', patient('FromUpstream'));
      await until(async () => (await syncOf(rec).syncStore.status()).pending === 0, 'every change to be pushed', 60_000, 50);
      await until(async () => (await rec.runtime.store.reader().read('Patient', String(upstreamMade.body.id))) !== undefined, 'the upstream change to be pulled');
      const { count } = await expectSameEverywhere(rec, upstream, 'Patient');
      expect(count).toBe(301);
      // Each worker took part, and the pulled resource is here once, in one version.
      expect(workers.map((w) => w.stats.pushed > 0)).toEqual([true, true, true]);
      expect((await rec.runtime.store.reader().read('Patient', String(upstreamMade.body.id)))?.version).toBe(1);
      const { rows } = await rec.runtime.db.query<{ owner: string }>("SELECT owner FROM sync_lease WHERE name = 'pull'");
      expect(rows).toHaveLength(1);
      expect(workers.map((w) => w.owner)).toContain(rows[0].owner);
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
    }
  });
});
