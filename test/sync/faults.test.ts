import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BACKENDS, type TestRecord } from '../support/harness.js';
import { startUpstream, type UpstreamServer } from '../support/upstream-server.js';
import { create, expectSameEverywhere, newWorker, NO_VALIDATION, patient, startSyncedRecord, syncOf, syncStatus, until, update } from './helpers.js';

describe.each(BACKENDS)('an unreliable upstream on %s', (backend) => {
  let upstream: UpstreamServer;
  let rec: TestRecord;
  beforeAll(async () => {
    upstream = await startUpstream();
    // Validation is not what these tests are about: the writes go faster without it.
    rec = await startSyncedRecord(backend, upstream, { ...NO_VALIDATION, config: { syncTypes: ['Patient'] } });
  });
  afterAll(async () => {
    await rec.close();
    await upstream.close();
  });
  afterEach(async () => {
    upstream.faults.clear();
    await upstream.faults.up();
  });

  it('keeps 1,000 writes made while the upstream is down and delivers all of them once it is back, each once', async () => {
    const worker = newWorker(rec, { pull: false });
    await worker.refreshCapabilities();
    worker.start();
    try {
      await upstream.faults.down();
      const made: Record<string, unknown>[] = [];
      for (let i = 0; i < 1000; i++) made.push(await create(rec, patient(`Offline${i}`, { birthDate: `19${String(i % 100).padStart(2, '0')}-01-01` })));
      // Some of them change again before they could be sent.
      for (let i = 0; i < 1000; i += 7) await update(rec, { ...made[i], gender: 'male' });
      const down = await until(async () => {
        const s = await syncStatus(rec);
        return s.upstreamReachable === false && s.pending === 1000 ? s : undefined;
      }, 'the status to show the upstream unreachable with 1,000 pending');
      expect(down.lastError).toMatch(/ECONNREFUSED|ECONNRESET|UND_ERR_SOCKET|fetch failed/);
      expect(down.oldestPendingAgeSeconds).toBeGreaterThan(0);

      await upstream.faults.up();
      await until(async () => (await syncOf(rec).syncStore.status()).pending === 0, 'every change to be pushed', 60_000, 50);
      const { count, versions } = await expectSameEverywhere(rec, upstream, 'Patient');
      expect(count).toBe(1000);
      // Unsent versions are coalesced: one upstream version per resource, none applied twice.
      expect(versions).toBe(1000);
      expect(await syncStatus(rec)).toMatchObject({ pending: 0, parked: 0, conflicts: 0, upstreamReachable: true });
    } finally {
      await worker.stop();
    }
  });

  it('gets everything through bursts of 5xx, 429 with Retry-After and timeouts, nothing twice', async () => {
    // One push lane: with two, the other lane's request may already be on its way when the 429
    // comes back, and the assertion on Retry-After below would be about that one.
    const worker = newWorker(rec, { pull: false, pushLanes: 1 });
    await worker.refreshCapabilities();
    const writes = upstream.faults;
    // Only the pushes are disturbed (reads of the upstream resource after a timeout are not).
    writes.only((method) => method === 'POST' || method === 'PUT' || method === 'DELETE');
    writes.failNext(3, 503);
    writes.throttleNext(1, 1);
    writes.failNext(2, 502);
    // Processed upstream, but the answer never comes (the client times out) or is an error.
    writes.hangNext(1, { apply: true });
    writes.failNext(1, 500, { afterApply: true });
    writes.hangNext(1);
    worker.start();
    try {
      const made: Record<string, unknown>[] = [];
      for (let i = 0; i < 200; i++) {
        made.push(await create(rec, patient(`Flaky${i}`)));
        if (i % 20 === 0) await new Promise((r) => setTimeout(r, 10));
      }
      await until(async () => (await syncOf(rec).syncStore.status()).pending === 0, 'every change to be pushed', 60_000, 50);
      for (let i = 0; i < 200; i += 10) await update(rec, { ...made[i], gender: 'other' });
      writes.failNext(2, 504);
      writes.hangNext(1, { apply: true });
      await until(async () => (await syncOf(rec).syncStore.status()).pending === 0, 'the updates to be pushed', 60_000, 50);
    } finally {
      await worker.stop();
    }
    // Every fault was met by a request.
    expect(writes.remaining()).toBe(0);
    await expectSameEverywhere(rec, upstream, 'Patient');
    // The 429 was honoured: nothing was sent until its Retry-After (1 s) had passed.
    const pushes = upstream.requests.filter((r) => r.method === 'POST');
    const throttled = pushes.findIndex((r) => r.status === 429);
    expect(throttled).toBeGreaterThanOrEqual(0);
    expect(pushes[throttled + 1].at - pushes[throttled].at).toBeGreaterThanOrEqual(950);
    expect(await syncStatus(rec)).toMatchObject({ pending: 0, parked: 0, conflicts: 0 });
  });
});
