import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { startTestRecord, type TestRecord } from '../support/harness.js';
import { startUpstream, type UpstreamServer } from '../support/upstream-server.js';
import { create, expectSameEverywhere, NO_VALIDATION, patient, startSyncedRecord, syncOf, until, update } from './helpers.js';

/**
 * `icr sync` in a child process, killed with SIGKILL between the moment the upstream applied a
 * transaction and the moment the worker could record it, then started again. PostgreSQL only: an
 * embedded PGlite folder belongs to one process.
 */
interface Child {
  process: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr: () => string;
}

function startWorker(env: Record<string, string>, args: string[] = []): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'sync', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { process: child, exited, stderr: () => stderr };
}

describe('a sync worker killed with SIGKILL in the middle of a batch (PostgreSQL)', () => {
  let upstream: UpstreamServer;
  let rec: TestRecord;
  let env: Record<string, string>;
  const children: Child[] = [];

  beforeAll(async () => {
    upstream = await startUpstream();
    rec = await startSyncedRecord('postgres', upstream, { ...NO_VALIDATION, config: { syncTypes: ['Patient'] } });
    env = {
      DATABASE_URL: inject('postgresUrl'),
      DATABASE_SCHEMA: rec.runtime.config.databaseSchema!,
      DATABASE_POOL_SIZE: '4',
      UPSTREAM_FHIR_URL: upstream.url,
      SYNC_TYPES: 'Patient',
      SYNC_BATCH_SIZE: '25',
      SYNC_REQUEST_TIMEOUT_MS: '1000',
      SYNC_RETRY_BASE_MS: '20',
      SYNC_RETRY_MAX_MS: '200',
      SYNC_PUSH_INTERVAL_MS: '50',
      SYNC_POLL_INTERVAL_MS: '300',
      LOG_LEVEL: 'warn',
    };
  });
  afterAll(async () => {
    for (const c of children) if (c.process.exitCode === null && c.process.signalCode === null) c.process.kill('SIGKILL');
    await Promise.all(children.map((c) => c.exited));
    await rec.close();
    await upstream.close();
  });

  /** Runs a worker until it is killed right after the upstream applied its n-th transaction. */
  async function killAfterTransaction(n: number): Promise<void> {
    let seen = 0;
    // The worker takes a second to start: the hook is in place long before its first request.
    const child = startWorker(env);
    children.push(child);
    upstream.faults.afterApply(async (method) => {
      if (method !== 'POST' || ++seen !== n) return;
      child.process.kill('SIGKILL');
      await child.exited;
    });
    const exit = await child.exited;
    upstream.faults.afterApply(undefined);
    expect(exit.signal, `the worker should have been killed; it ended with ${JSON.stringify(exit)}: ${child.stderr()}`).toBe('SIGKILL');
  }

  async function runUntilDone(): Promise<void> {
    const child = startWorker(env);
    children.push(child);
    try {
      await until(async () => {
        if (child.process.exitCode !== null) throw new Error(`the worker exited: ${child.stderr()}`);
        return (await syncOf(rec).syncStore.status()).pending === 0;
      }, 'the restarted worker to push everything', 60_000, 50);
    } finally {
      child.process.kill('SIGTERM');
      const exit = await child.exited;
      expect(exit.code, child.stderr()).toBe(0);
    }
  }

  it('loses nothing and sends nothing twice, for creates and for updates', async () => {
    const made: Record<string, unknown>[] = [];
    for (let i = 0; i < 300; i++) made.push(await create(rec, patient(`Killed${i}`)));

    await killAfterTransaction(3);
    // The third transaction is upstream, but the worker died before it could record it: the
    // upstream holds more than what is recorded here.
    const recorded = 300 - (await syncOf(rec).syncStore.status()).pending;
    expect(recorded).toBeGreaterThanOrEqual(25);
    expect((await upstream.resources('Patient')).length).toBeGreaterThan(recorded);
    await runUntilDone();
    const first = await expectSameEverywhere(rec, upstream, 'Patient');
    expect(first).toEqual({ count: 300, versions: 300 });

    for (const p of made) await update(rec, { ...p, gender: 'male' });
    await killAfterTransaction(2);
    const pending = (await syncOf(rec).syncStore.status()).pending;
    const updatedUpstream = (await upstream.resources('Patient')).filter((r) => (r as { gender?: string }).gender === 'male').length;
    expect(updatedUpstream).toBeGreaterThan(300 - pending);
    await runUntilDone();
    const second = await expectSameEverywhere(rec, upstream, 'Patient');
    expect(second).toEqual({ count: 300, versions: 600 });
    expect((await syncOf(rec).syncStore.status())).toMatchObject({ pending: 0, parked: 0, conflicts: 0 });
  });
});

describe('icr sync --once (PostgreSQL)', () => {
  it('queues what was written before sync was turned on (--enqueue-existing), pushes it and exits', async () => {
    const upstream = await startUpstream();
    // Written while sync was off: no hook, nothing queued.
    const rec = await startTestRecord('postgres', { ...NO_VALIDATION });
    try {
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push(String((await create(rec, patient(`Before${i}`))).id));
      expect((await rec.runtime.db.query('SELECT 1 FROM sync_outbox')).rows).toHaveLength(0);
      const env = {
        DATABASE_URL: inject('postgresUrl'),
        DATABASE_SCHEMA: rec.runtime.config.databaseSchema!,
        UPSTREAM_FHIR_URL: upstream.url,
        SYNC_TYPES: 'Patient',
        LOG_LEVEL: 'warn',
      };
      const once = startWorker(env, ['--once']);
      expect((await once.exited).code, once.stderr()).toBe(0);
      expect(await upstream.resources('Patient')).toHaveLength(0);
      const again = startWorker(env, ['--once', '--enqueue-existing']);
      expect((await again.exited).code, again.stderr()).toBe(0);
      expect((await upstream.resources('Patient')).map((r) => r.id).sort()).toEqual([...ids].sort());
    } finally {
      await rec.close();
      await upstream.close();
    }
  });
});
