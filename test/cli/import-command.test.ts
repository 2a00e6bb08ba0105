import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { icr } from '../support/cli.js';
import { startTestRecord } from '../support/harness.js';

describe('icr import', () => {
  let dir: string;
  let env: Record<string, string>;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'icr-cli-'));
    env = { DATABASE_URL: inject('postgresUrl'), DATABASE_SCHEMA: `cli_${process.pid}` };
  });
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
    const pg = (await import('pg')).default;
    const client = new pg.Client({ connectionString: inject('postgresUrl') });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS cli_${process.pid} CASCADE`);
    await client.end();
  });

  it('loads the fixtures, then finds them unchanged the second time', async () => {
    const first = await icr(['import', 'fixtures'], env);
    expect(first.stderr).toBe('');
    expect(first.stdout).toMatch(/created 139, updated 0, unchanged 0, failed 0/);
    expect(first.code).toBe(0);
    const second = await icr(['import', 'fixtures'], env);
    expect(second.stdout).toMatch(/created 0, updated 0, unchanged 139, failed 0/);
  });

  it('loads NDJSON and plain resources, retries those that refer to later ones, and reports failures with reasons', async () => {
    await fs.writeFile(
      path.join(dir, 'a.ndjson'),
      [
        JSON.stringify({ resourceType: 'Goal', id: 'goal-cli', lifecycleStatus: 'active', description: { text: 'x' }, subject: { reference: 'Patient/pat-cli' } }),
        '{ not json',
        JSON.stringify({ resourceType: 'Patient', id: 'pat-cli', gender: 'mail' }),
      ].join('\n'),
    );
    await fs.writeFile(path.join(dir, 'b.json'), JSON.stringify({ resourceType: 'Patient', id: 'pat-cli', gender: 'female', name: [{ family: 'Cli' }], birthDate: '1970-01-01' }));
    const res = await icr(['import', dir], env);
    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(/created 2, updated 0, unchanged 0, failed 2/);
    expect(res.stdout).toMatch(/failed .*a\.ndjson:2: not valid JSON/);
    expect(res.stdout).toMatch(/failed .*a\.ndjson:3: Patient\.gender: 'mail' is not in the value set/);
    expect(res.stdout).not.toMatch(/narrative/);
  });

  it('imports through a running server with --server, using a development token', async () => {
    const rec = await startTestRecord('pglite', { validation: 'base' });
    try {
      await fs.writeFile(path.join(dir, 'org.json'), JSON.stringify({ resourceType: 'Organization', id: 'org-via-http', name: 'Via HTTP' }));
      const res = await icr(['import', path.join(dir, 'org.json'), '--server', rec.baseUrl], { ICR_DEV_KEY: rec.runtime.config.devKeyFile });
      expect(res.stdout).toMatch(/created 1, updated 0, unchanged 0, failed 0/);
      expect((await rec.api.get('/fhir/Organization/org-via-http')).status).toBe(200);
      const refused = await icr(['import', path.join(dir, 'org.json'), '--server', rec.baseUrl, '--token', 'forged'], {});
      expect(refused.code).toBe(1);
      expect(refused.stdout).toMatch(/failed .*org\.json: Authentication failed/);
    } finally {
      await rec.close();
    }
  });

  it('explains its usage and refuses bad configuration with a clear message', async () => {
    const usage = await icr(['import'], env);
    expect(usage.code).toBe(2);
    expect(usage.stdout).toMatch(/Usage: icr import/);
    const bad = await icr(['import', 'fixtures'], { ...env, PORT: 'x' });
    expect(bad.code).toBe(78);
    expect(bad.stderr).toMatch(/PORT="x" is not a whole number/);
    const unknown = await icr(['frobnicate'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command 'frobnicate'/);
  });
});
