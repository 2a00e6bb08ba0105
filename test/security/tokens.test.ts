import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import crypto from 'node:crypto';
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDevKey, DEV_ISSUER } from '../../src/auth/dev-key.js';
import { startTestRecord, type TestRecord } from '../support/harness.js';

/** Signs with the server's own development key, with any claims and header we like. */
async function signWithDevKey(rec: TestRecord, claims: Record<string, unknown>, header: Record<string, unknown> = {}): Promise<string> {
  const key = await loadDevKey(rec.runtime.config.devKeyFile);
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ scope: 'system/*.cruds', ...claims })
    .setProtectedHeader({ alg: 'ES256', kid: key.publicJwk.kid, ...header })
    .setIssuer((claims.iss as string) ?? DEV_ISSUER)
    .setAudience((claims.aud as string) ?? rec.runtime.config.authAudience)
    .setIssuedAt(now)
    .setExpirationTime((claims.exp as number) ?? now + 600)
    .sign(key.privateKey);
}

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

describe('bearer tokens', () => {
  let rec: TestRecord;
  beforeAll(async () => {
    rec = await startTestRecord('pglite', { validation: 'base' });
    await rec.api.put('/fhir/Patient/pat-tok').set('Content-Type', 'application/fhir+json').send(JSON.stringify({ resourceType: 'Patient', id: 'pat-tok', name: [{ family: 'Secret' }] }));
  });
  afterAll(() => rec.close());

  const read = (token?: string) => (token ? rec.as(token) : rec.anonymous).get('/fhir/Patient/pat-tok');

  const expect401 = async (res: { status: number; headers: Record<string, string>; text: string }, description: RegExp | undefined) => {
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="integrated-care-record"/);
    if (description) expect(res.headers['www-authenticate']).toMatch(description);
    const body = JSON.parse(res.text);
    expect(body.resourceType).toBe('OperationOutcome');
    expect(res.text).not.toContain('Secret');
  };

  it('no token: 401 with WWW-Authenticate and an OperationOutcome', async () => {
    await expect401(await read(), undefined);
  });

  it('a valid development token: 200', async () => {
    const res = await read(await rec.token({ scope: 'system/*.cruds' }));
    expect(res.status).toBe(200);
  });

  it('an expired token: 401', async () => {
    await expect401(await read(await signWithDevKey(rec, { exp: Math.floor(Date.now() / 1000) - 3600 })), /error="invalid_token".*expired/);
  });

  it('a token that is not valid yet: 401', async () => {
    const key = await loadDevKey(rec.runtime.config.devKeyFile);
    const token = await new SignJWT({ scope: 'system/*.cruds' })
      .setProtectedHeader({ alg: 'ES256', kid: key.publicJwk.kid })
      .setIssuer(DEV_ISSUER)
      .setAudience(rec.runtime.config.authAudience)
      .setNotBefore(Math.floor(Date.now() / 1000) + 3600)
      .setExpirationTime('2h')
      .sign(key.privateKey);
    await expect401(await read(token), /not valid yet/);
  });

  it('a token within the clock skew is accepted', async () => {
    const res = await read(await signWithDevKey(rec, { exp: Math.floor(Date.now() / 1000) - 20 }));
    expect(res.status).toBe(200);
  });

  it('a token without an expiry: 401', async () => {
    const key = await loadDevKey(rec.runtime.config.devKeyFile);
    const token = await new SignJWT({ scope: 'system/*.cruds' }).setProtectedHeader({ alg: 'ES256' }).setIssuer(DEV_ISSUER).setAudience(rec.runtime.config.authAudience).sign(key.privateKey);
    await expect401(await read(token), /exp/);
  });

  it('a token from another issuer: 401', async () => {
    await expect401(await read(await signWithDevKey(rec, { iss: 'https://evil.example/' })), /issuer this server does not trust/);
  });

  it('a token for another audience: 401', async () => {
    await expect401(await read(await signWithDevKey(rec, { aud: 'some-other-api' })), /another audience/);
  });

  it('a token signed with a key the server does not know: 401', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const token = await new SignJWT({ scope: 'system/*.cruds' }).setProtectedHeader({ alg: 'ES256' }).setIssuer(DEV_ISSUER).setAudience(rec.runtime.config.authAudience).setExpirationTime('1h').sign(privateKey);
    await expect401(await read(token), /signature is not valid/);
  });

  it("alg none: 401", async () => {
    const token = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ iss: DEV_ISSUER, aud: rec.runtime.config.authAudience, scope: 'system/*.cruds', exp: Math.floor(Date.now() / 1000) + 600 })}.`;
    await expect401(await read(token), /invalid_token/);
  });

  it('HS256 signed with the public key as the secret: 401', async () => {
    const key = await loadDevKey(rec.runtime.config.devKeyFile);
    const header = b64({ alg: 'HS256', typ: 'JWT', kid: key.publicJwk.kid });
    const payload = b64({ iss: DEV_ISSUER, aud: rec.runtime.config.authAudience, scope: 'system/*.cruds', exp: Math.floor(Date.now() / 1000) + 600 });
    const secret = JSON.stringify(key.publicJwk);
    const signature = crypto.createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
    await expect401(await read(`${header}.${payload}.${signature}`), /algorithm this server does not accept/);
  });

  it('a tampered payload: 401', async () => {
    const token = await rec.token({ scope: 'patient/*.rs', patient: 'someone-else' });
    const [header, , signature] = token.split('.');
    const forged = b64({ iss: DEV_ISSUER, aud: rec.runtime.config.authAudience, scope: 'system/*.cruds', exp: Math.floor(Date.now() / 1000) + 600 });
    await expect401(await read(`${header}.${forged}.${signature}`), /signature is not valid/);
  });

  it('garbage, or a header that is not Bearer: 401', async () => {
    await expect401(await read('not-a-jwt'), /malformed/);
    const basic = await rec.anonymous.get('/fhir/Patient/pat-tok').set('Authorization', 'Basic dXNlcjpwYXNz');
    await expect401(basic, /Bearer <token>/);
  });

  it('a scope that does not cover the interaction: 403 naming the scope needed', async () => {
    const token = await rec.token({ scope: 'system/Patient.rs' });
    expect((await rec.as(token).get('/fhir/Patient/pat-tok')).status).toBe(200);
    const write = await rec.as(token).post('/fhir/Patient').set('Content-Type', 'application/fhir+json').send(JSON.stringify({ resourceType: 'Patient' }));
    expect(write.status).toBe(403);
    expect(write.headers['www-authenticate']).toMatch(/insufficient_scope/);
    expect(JSON.parse(write.text).issue[0].diagnostics).toMatch(/system\/Patient\.c/);
    const other = await rec.as(token).get('/fhir/CarePlan?patient=pat-tok');
    expect(other.status).toBe(403);
  });

  it('maps SMART v1 scopes: .read allows reads, not writes', async () => {
    const token = await rec.token({ scope: 'system/*.read' });
    expect((await rec.as(token).get('/fhir/Patient/pat-tok')).status).toBe(200);
    expect((await rec.as(token).delete('/fhir/Patient/pat-tok')).status).toBe(403);
  });

  it('lets anyone read the CapabilityStatement and the SMART configuration', async () => {
    const cs = await rec.anonymous.get('/fhir/metadata');
    expect(cs.status).toBe(200);
    const security = JSON.parse(cs.text).rest[0].security;
    expect(security.service[0].coding[0].code).toBe('SMART-on-FHIR');
    const smart = await rec.anonymous.get('/fhir/.well-known/smart-configuration');
    expect(smart.status).toBe(200);
    expect(smart.body.capabilities).toContain('permission-v2');
    expect((await rec.anonymous.get('/.well-known/smart-configuration')).status).toBe(200);
  });
});

describe('tokens from an identity provider (JWKS URL)', () => {
  let jwks: { keys: JWK[] };
  let server: Server;
  let url: string;
  let rec: TestRecord;
  let fetches = 0;
  const issuer = 'https://idp.integrated-care.test/realms/icr';
  const keys: { kid: string; privateKey: CryptoKey }[] = [];

  async function addKey(): Promise<void> {
    const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
    const kid = `k${keys.length + 1}`;
    keys.push({ kid, privateKey: privateKey as CryptoKey });
    jwks.keys.push({ ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' });
  }

  const sign = (kid: string, claims: Record<string, unknown> = {}) =>
    new SignJWT({ scope: 'system/*.rs', ...claims })
      .setProtectedHeader({ alg: 'RS256', kid })
      .setIssuer(issuer)
      .setAudience('integrated-care-record')
      .setExpirationTime('10m')
      .sign(keys.find((k) => k.kid === kid)!.privateKey);

  beforeAll(async () => {
    jwks = { keys: [] };
    await addKey();
    const http = await import('node:http');
    server = http.createServer((_req, res) => {
      fetches++;
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify(jwks));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/jwks`;
    rec = await startTestRecord('pglite', { validation: 'base', config: { authJwksUrl: url, authIssuer: issuer, devTokens: false } });
  });
  afterAll(async () => {
    await rec.close();
    server.close();
  });

  it('accepts the provider\'s tokens, caches its keys, and fetches them again for a new kid', async () => {
    expect((await rec.as(await sign('k1')).get('/fhir/Patient')).status).toBe(200);
    expect((await rec.as(await sign('k1')).get('/fhir/Patient')).status).toBe(200);
    expect(fetches).toBe(1);
    await addKey();
    await new Promise((r) => setTimeout(r, 1100));
    expect((await rec.as(await sign('k2')).get('/fhir/Patient')).status).toBe(200);
    expect(fetches).toBe(2);
  });

  it('refuses development tokens once an identity provider is configured', async () => {
    const res = await rec.as(await rec.token({ scope: 'system/*.cruds' })).get('/fhir/Patient');
    expect(res.status).toBe(401);
  });

  it('reads roles the way Keycloak writes them (realm_access.roles)', async () => {
    const token = await sign('k1', { scope: 'user/*.rs', fhirUser: 'Practitioner/nobody', realm_access: { roles: ['admin'] } });
    expect((await rec.as(token).get('/fhir/AuditEvent')).status).toBe(200);
  });

});
