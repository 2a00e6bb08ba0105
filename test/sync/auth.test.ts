import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { exportJWK, exportPKCS8, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream } from '../support/upstream-server.js';
import { create, newWorker, NO_VALIDATION, patient, startSyncedRecord, syncStatus, upstreamRead } from './helpers.js';

describe('authentication to the upstream server', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'icr-sync-auth-'));
  });
  afterAll(() => fs.rm(dir, { recursive: true, force: true }));

  it('sends a static bearer token; a token the upstream refuses holds changes back instead of parking them', async () => {
    const upstream = await startUpstream({ auth: { bearer: 's3cret' } });
    const good = await startSyncedRecord('pglite', upstream, { ...NO_VALIDATION, config: { upstreamAuth: 'bearer', upstreamBearerToken: 's3cret', syncTypes: ['Patient'] } });
    const bad = await startSyncedRecord('pglite', upstream, { ...NO_VALIDATION, config: { upstreamAuth: 'bearer', upstreamBearerToken: 'wrong', syncTypes: ['Patient'] } });
    try {
      const p = await create(good, patient('Token'));
      await newWorker(good).pushUntilIdle();
      expect(await upstreamRead(upstream, 'Patient', String(p.id))).toBeUndefined(); // our read has no token
      expect((await upstream.resources('Patient')).map((r) => r.id)).toEqual([p.id]);

      await create(bad, patient('NoEntry'));
      await newWorker(bad).pushUntilIdle();
      expect(upstream.requests.filter((r) => r.status === 401).length).toBeGreaterThanOrEqual(2);
      expect(await syncStatus(bad)).toMatchObject({ pending: 1, parked: 0 });
      expect(String((await syncStatus(bad)).lastError)).toMatch(/HTTP 401/);
    } finally {
      await good.close();
      await bad.close();
      await upstream.close();
    }
  });

  for (const alg of ['RS384', 'ES384'] as const) {
    it(`gets SMART Backend Services tokens with a client assertion signed ${alg}, and a new one when the upstream refuses the old one`, async () => {
      const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
      const publicJwk = { ...(await exportJWK(publicKey)), alg, kid: `icr-${alg}` };
      const keyFile = path.join(dir, `${alg}.key`);
      // An RSA key as a JWK (with its kid); an EC key as PKCS#8 PEM (kid: the key's thumbprint).
      if (alg === 'RS384') await fs.writeFile(keyFile, JSON.stringify({ ...(await exportJWK(privateKey)), alg, kid: publicJwk.kid }));
      else await fs.writeFile(keyFile, await exportPKCS8(privateKey));
      const upstream = await startUpstream({ auth: { smart: { clientId: 'icr-sync', publicJwk } } });
      const rec = await startSyncedRecord('pglite', upstream, {
        ...NO_VALIDATION,
        config: { upstreamAuth: 'smart-backend', upstreamClientId: 'icr-sync', upstreamPrivateKeyFile: keyFile, syncTypes: ['Patient'] },
      });
      try {
        const worker = newWorker(rec);
        await create(rec, patient('Smart'));
        await worker.pushUntilIdle();
        expect(await upstream.resources('Patient')).toHaveLength(1);
        expect(upstream.tokensIssued).toBe(1);

        upstream.revokeTokens();
        await create(rec, patient('Smarter'));
        await worker.pushUntilIdle();
        expect(await upstream.resources('Patient')).toHaveLength(2);
        expect(upstream.tokensIssued).toBe(2);
        expect(await syncStatus(rec)).toMatchObject({ pending: 0, parked: 0 });
      } finally {
        await rec.close();
        await upstream.close();
      }
    });
  }
});
