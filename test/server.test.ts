import http from 'node:http';
import pg from 'pg';
import os from 'node:os';
import path from 'node:path';
import { loadDevKey, mintDevToken } from '../src/auth/dev-key.js';
import { afterEach, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { loadConfig } from '../src/config.js';
import { startServer, type RunningServer } from '../src/server.js';
import { createLogger } from '../src/logging.js';

/** A request whose body arrives in two parts, so that it is still running when shutdown starts. */
function slowCreate(url: string, token: string): { sendRest(): void; done: Promise<number> } {
  const body = JSON.stringify({ resourceType: 'PlanDefinition', status: 'draft', title: 'Slow' });
  const req = http.request(`${url}/fhir/PlanDefinition`, { method: 'POST', headers: { 'Content-Type': 'application/fhir+json', 'Content-Length': Buffer.byteLength(body), Authorization: `Bearer ${token}` } });
  const done = new Promise<number>((resolve, reject) => {
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
  });
  req.write(body.slice(0, 10));
  return { sendRest: () => req.end(body.slice(10)), done };
}

describe('server lifecycle', () => {
  let running: RunningServer | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  it('starts on an in-memory database, is ready, and drains running requests on shutdown', async () => {
    const config = loadConfig({}, { databaseUrl: 'memory://', port: 0, host: '127.0.0.1', logLevel: 'silent', shutdownTimeoutMs: 5000, devKeyFile: path.join(os.tmpdir(), `icr-server-test-${process.pid}.json`) });
    running = await startServer(config, { logger: createLogger('silent') });
    const { url } = running;
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    const token = await mintDevToken(await loadDevKey(config.devKeyFile), { scope: 'system/*.cruds', audience: config.authAudience });
    const slow = slowCreate(url, token);
    await new Promise((r) => setTimeout(r, 50));
    const closing = running.close();
    await new Promise((r) => setTimeout(r, 50));
    slow.sendRest();
    expect(await slow.done).toBe(201);
    await closing;
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
    running = undefined;
  });

  it('finishes and audits a request whose client hung up before it closes the database', async () => {
    const schema = `srv_hangup_${process.pid}`;
    const config = loadConfig({}, { databaseUrl: inject('postgresUrl'), databaseSchema: schema, port: 0, host: '127.0.0.1', logLevel: 'silent', shutdownTimeoutMs: 5000, auditFlushMs: 1000, requiredProfiles: {}, devKeyFile: path.join(os.tmpdir(), `icr-server-test-${process.pid}.json`) });
    let reached!: () => void;
    let release!: () => void;
    const inCheck = new Promise<void>((r) => (reached = r));
    const gate = new Promise<void>((r) => (release = r));
    // A write check that holds the Patient's create inside its transaction until the test lets it go.
    const hold = async (_ctx: unknown, _s: unknown, resource: Record<string, unknown>) => {
      if (resource.resourceType === 'Patient') {
        reached();
        await gate;
      }
      return [];
    };
    running = await startServer(config, { logger: createLogger('silent'), writeChecks: [hold] });
    const token = await mintDevToken(await loadDevKey(config.devKeyFile), { scope: 'system/*.cruds', audience: config.authAudience });
    const body = JSON.stringify({ resourceType: 'Patient', name: [{ family: 'HungUp' }] });
    const req = http.request(`${running.url}/fhir/Patient`, { method: 'POST', headers: { 'Content-Type': 'application/fhir+json', Authorization: `Bearer ${token}` } });
    req.on('error', () => undefined);
    req.end(body);
    await inCheck;
    req.destroy();
    const closing = running.close();
    await new Promise((r) => setTimeout(r, 100));
    release();
    await closing;
    running = undefined;
    const client = new pg.Client({ connectionString: inject('postgresUrl') });
    await client.connect();
    try {
      const stored = await client.query(`SELECT id FROM ${schema}.resource WHERE res_type = 'Patient'`);
      expect(stored.rows).toHaveLength(1);
      const audited = await client.query(`SELECT content FROM ${schema}.resource WHERE res_type = 'AuditEvent'`);
      expect(audited.rows.map((r: { content: string }) => r.content).join()).toContain(`Patient/${stored.rows[0].id}`);
    } finally {
      await client.query(`DROP SCHEMA ${schema} CASCADE`);
      await client.end();
    }
  });

  it('runs on PostgreSQL with DATABASE_URL', async () => {
    const config = loadConfig({}, { databaseUrl: inject('postgresUrl'), databaseSchema: `srv_${process.pid}`, port: 0, host: '127.0.0.1', logLevel: 'silent', devKeyFile: path.join(os.tmpdir(), `icr-server-test-${process.pid}.json`) });
    running = await startServer(config, { logger: createLogger('silent') });
    const res = await fetch(`${running.url}/fhir/metadata`);
    expect(res.status).toBe(200);
    expect(running.runtime.db.kind).toBe('postgres');
    await running.runtime.db.query(`DROP SCHEMA srv_${process.pid} CASCADE`);
  });
});
