import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRecord, type TestRecord } from '../support/harness.js';

const run = promisify(execFile);

describe('hardening', () => {
  let rec: TestRecord;
  beforeAll(async () => {
    rec = await startTestRecord('pglite', {
      validation: 'base',
      config: { corsOrigins: ['https://app.integrated-care.test'], rateLimitPerMinute: 5, requestTimeoutMs: 300 },
      writeChecks: [
        async (_ctx, _s, resource) => {
          if (resource.resourceType === 'PlanDefinition' && resource.title === 'slow') await new Promise((r) => setTimeout(r, 800));
          if (resource.resourceType === 'PlanDefinition' && resource.title === 'crash') throw new Error('relation "secret_table" does not exist at /srv/icr/src/store.ts:42');
          return [];
        },
      ],
    });
  });
  afterAll(() => rec.close());

  it('sends security headers', async () => {
    const res = await rec.anonymous.get('/fhir/metadata');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['x-powered-by']).toBeUndefined();
  });

  it('answers CORS for allowed origins only', async () => {
    const allowed = await rec.anonymous.options('/fhir/Patient').set('Origin', 'https://app.integrated-care.test').set('Access-Control-Request-Method', 'GET').set('Access-Control-Request-Headers', 'authorization');
    expect(allowed.headers['access-control-allow-origin']).toBe('https://app.integrated-care.test');
    expect(allowed.headers['access-control-allow-headers']).toMatch(/Authorization/);
    const other = await rec.anonymous.options('/fhir/Patient').set('Origin', 'https://evil.test').set('Access-Control-Request-Method', 'GET');
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('hides internals: an unexpected error is a 500 OperationOutcome with a request id, no stack, no SQL', async () => {
    const res = await rec.api.post('/fhir/PlanDefinition').set('Content-Type', 'application/fhir+json').send(JSON.stringify({ resourceType: 'PlanDefinition', status: 'draft', title: 'crash' }));
    expect(res.status).toBe(500);
    const body = JSON.parse(res.text);
    expect(body.resourceType).toBe('OperationOutcome');
    expect(body.issue[0].diagnostics).toContain(res.headers['x-request-id']);
    expect(res.text).not.toMatch(/secret_table|\/srv\/icr|at .*\.ts/);
  });

  it('answers 503 when a request takes longer than REQUEST_TIMEOUT_MS', async () => {
    const res = await rec.api.post('/fhir/PlanDefinition').set('Content-Type', 'application/fhir+json').send(JSON.stringify({ resourceType: 'PlanDefinition', status: 'draft', title: 'slow' }));
    expect(res.status).toBe(503);
    expect(JSON.parse(res.text).issue[0].code).toBe('timeout');
    // The slow write still finishes in the background; let it, before the next test.
    await new Promise((r) => setTimeout(r, 800));
  });

  it('limits requests per client: 429 with Retry-After and an OperationOutcome', async () => {
    const token = await rec.token({ scope: 'system/*.rs', clientId: 'busy-gp-software' });
    const statuses: number[] = [];
    let last: { status: number; headers: Record<string, string>; text: string } | undefined;
    for (let i = 0; i < 7; i++) {
      last = await rec.as(token).get('/fhir/Organization');
      statuses.push(last.status);
    }
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(statuses[6]).toBe(429);
    expect(Number(last!.headers['retry-after'])).toBeGreaterThan(0);
    expect(JSON.parse(last!.text).issue[0].code).toBe('throttled');
    // Another client is not affected.
    const other = await rec.token({ scope: 'system/*.rs', clientId: 'other-software' });
    expect((await rec.as(other).get('/fhir/Organization')).status).toBe(200);
  });
});

describe('icr token', () => {
  it('mints a token that a server with the same key accepts, with the claims asked for', async () => {
    const rec = await startTestRecord('pglite', { validation: 'base' });
    try {
      const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'token', '--scope', 'user/*.rs', '--sub', 'Practitioner/prac-x', '--role', 'admin'], {
        env: { ...process.env, ICR_DEV_KEY: rec.runtime.config.devKeyFile },
      });
      const token = stdout.trim();
      const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
      expect(claims).toMatchObject({ scope: 'user/*.rs', fhirUser: 'Practitioner/prac-x', roles: ['admin'], iss: 'urn:icr:dev-issuer', aud: 'integrated-care-record' });
      expect((await rec.as(token).get('/fhir/AuditEvent')).status).toBe(200);
      const usage = await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'token', '--scope', 'x', '--sub', 'nonsense']).catch((e: { code: number; stderr: string }) => e);
      expect((usage as { code: number }).code).toBe(2);
    } finally {
      await rec.close();
    }
  });
});
