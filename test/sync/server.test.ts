import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Parameters } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadDevKey, mintDevToken } from '../../src/auth/dev-key.js';
import { loadConfig, type Config } from '../../src/config.js';
import { createLogger } from '../../src/logging.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { startUpstream, type UpstreamServer } from '../support/upstream-server.js';
import { FAST_SYNC, NO_VALIDATION, patient, until, upstreamRead, upstreamWrite } from './helpers.js';

type Server = RunningServer & { headers: Record<string, string> };

/**
 * A server as `icr serve` runs it (the security layer included), with a development key of its
 * own; headers carry a system token for it.
 */
async function start(config: Partial<Config>): Promise<Server> {
  const template = new Blob([await fs.readFile(inject('pgliteTemplate'))]);
  const devKeyFile = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'icr-sync-key-')), 'dev-key.json');
  const full = loadConfig({}, { databaseUrl: 'memory://', port: 0, host: '127.0.0.1', logLevel: 'silent', devKeyFile, auditFlushMs: 0, rateLimitPerMinute: 0, ...config });
  const server = await startServer(full, { ...NO_VALIDATION, logger: createLogger('silent'), template });
  const token = await mintDevToken(await loadDevKey(devKeyFile), { audience: full.authAudience, scope: 'system/*.cruds', clientId: 'sync-test' });
  return Object.assign(server, { headers: { accept: 'application/fhir+json', 'content-type': 'application/fhir+json', authorization: `Bearer ${token}` } });
}

describe('the sync worker inside the server, $sync-status and /metrics', () => {
  let upstream: UpstreamServer;
  let server: Server;
  beforeAll(async () => {
    upstream = await startUpstream();
    server = await start({ upstreamFhirUrl: upstream.url, ...FAST_SYNC, syncPushIntervalMs: 5000 });
  });
  afterAll(async () => {
    await server.close();
    await upstream.close();
  });

  it('pushes a write made over HTTP at once and pulls upstream changes by itself', async () => {
    expect(server.syncWorker).toBeDefined();
    const res = await fetch(`${server.url}/fhir/Patient`, { method: 'POST', headers: server.headers, body: JSON.stringify(patient('OverHttp')) });
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as { id: string };
    // Woken by the write, well before the 5 s idle interval.
    const started = Date.now();
    await until(() => upstreamRead(upstream, 'Patient', id), 'the write to reach the upstream', 4000);
    expect(Date.now() - started).toBeLessThan(3000);

    const made = await upstreamWrite(upstream, 'POST', 'Patient', patient('MadeUpstream'));
    await until(async () => (await fetch(`${server.url}/fhir/Patient/${made.body.id}`, { headers: server.headers })).status === 200, 'the upstream change to be pulled');
  });

  it('reports the figures as Parameters and as Prometheus metrics', async () => {
    await until(async () => {
      const s = await fetch(`${server.url}/fhir/$sync-status`, { headers: server.headers });
      const names = ((await s.json()) as Parameters).parameter!.map((p) => p.name);
      return names.includes('lastPull') && names.includes('lastPush');
    }, 'a push and a pull to be recorded');
    const status = (await (await fetch(`${server.url}/fhir/$sync-status`, { headers: server.headers })).json()) as Parameters;
    const byName = Object.fromEntries(status.parameter!.map((p) => [p.name, p]));
    expect(byName.upstream.valueUrl).toBe(upstream.url);
    expect(byName.pending.valueInteger).toBe(0);
    expect(byName.oldestPendingAgeSeconds.valueDecimal).toBe(0);
    expect(byName.parked.valueInteger).toBe(0);
    expect(byName.conflicts.valueInteger).toBe(0);
    expect(byName.upstreamReachable.valueBoolean).toBe(true);
    expect(Date.parse(byName.lastPush.valueInstant!)).toBeGreaterThan(Date.now() - 60_000);
    expect(Date.parse(byName.lastPull.valueInstant!)).toBeGreaterThan(Date.now() - 60_000);

    const metrics = await fetch(`${server.url}/metrics`);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    await metrics.text();
    const text = await until(async () => {
      const t = await (await fetch(`${server.url}/metrics`)).text();
      return /^icr_sync_pulled_total [1-9]/m.test(t) ? t : undefined;
    }, 'the pulled change to be counted');
    expect(text).toContain('# TYPE icr_sync_pending gauge\nicr_sync_pending 0\n');
    expect(text).toContain('icr_sync_upstream_reachable 1\n');
    expect(text).toContain('icr_sync_conflicts 0\n');
    expect(text).toMatch(/^icr_sync_oldest_pending_age_seconds 0$/m);
    expect(text).toMatch(/^icr_sync_pushed_total [1-9]/m);
    expect(text).toMatch(/^icr_sync_pulled_total [1-9]/m);
    expect(Number(/^icr_sync_last_push_timestamp_seconds (\S+)$/m.exec(text)![1])).toBeCloseTo(Date.parse(byName.lastPush.valueInstant!) / 1000, 0);
  });

  it('shows pending changes and an unreachable upstream while it is down', async () => {
    await upstream.faults.down();
    try {
      await fetch(`${server.url}/fhir/Patient`, { method: 'POST', headers: server.headers, body: JSON.stringify(patient('WhileDown')) });
      const text = await until(async () => {
        const t = await (await fetch(`${server.url}/metrics`)).text();
        return t.includes('icr_sync_upstream_reachable 0') && t.includes('icr_sync_pending 1') ? t : undefined;
      }, 'the metrics to show the outage');
      expect(Number(/^icr_sync_oldest_pending_age_seconds (\S+)$/m.exec(text)![1])).toBeGreaterThan(0);
    } finally {
      await upstream.faults.up();
    }
    await until(async () => (await (await fetch(`${server.url}/metrics`)).text()).includes('icr_sync_pending 0'), 'the change to go once the upstream is back');
  });

  it('stops its worker when the server closes', async () => {
    const own = await startUpstream();
    try {
      const other = await start({ upstreamFhirUrl: own.url, ...FAST_SYNC });
      await until(() => own.requests.some((r) => r.path.endsWith('/_history')), 'the worker to poll');
      await other.close();
      // A request already on the wire when the worker stopped may still arrive: let it.
      await new Promise((r) => setTimeout(r, 100));
      const before = own.requests.length;
      await new Promise((r) => setTimeout(r, 400));
      expect(own.requests.length).toBe(before);
    } finally {
      await own.close();
    }
  });
});

describe('a server without UPSTREAM_FHIR_URL', () => {
  it('has no sync worker, no $sync-* operations, and says so in /metrics', async () => {
    const server = await start({});
    try {
      expect(server.syncWorker).toBeUndefined();
      expect((await fetch(`${server.url}/fhir/$sync-status`, { headers: server.headers })).status).toBe(404);
      expect(await (await fetch(`${server.url}/metrics`)).text()).toContain('icr_sync_enabled 0');
    } finally {
      await server.close();
    }
  });

  it('runs the worker alone when SYNC_IN_SERVER is false', async () => {
    const upstream = await startUpstream();
    const server = await start({ upstreamFhirUrl: upstream.url, syncInServer: false });
    try {
      expect(server.syncWorker).toBeUndefined();
      expect((await fetch(`${server.url}/fhir/$sync-status`, { headers: server.headers })).status).toBe(200);
      expect(upstream.requests).toHaveLength(0);
    } finally {
      await server.close();
      await upstream.close();
    }
  });
});
