import fs from 'node:fs/promises';
import path from 'node:path';
import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK, type CryptoKey } from 'jose';

/** Issuer of tokens minted with the local development key (`icr token`). */
export const DEV_ISSUER = 'urn:icr:dev-issuer';
export const DEV_ALG = 'ES256';

export interface DevKey {
  privateKey: CryptoKey;
  publicJwk: JWK;
}

/**
 * The signing key of local development tokens: an EC P-256 key in a JSON file (a JWK), created on
 * first use with owner-only permissions. A server and `icr token` that use the same file agree.
 */
export async function loadDevKey(file: string): Promise<DevKey> {
  let jwk: JWK;
  try {
    jwk = JSON.parse(await fs.readFile(file, 'utf8')) as JWK;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    const { privateKey } = await generateKeyPair(DEV_ALG, { extractable: true });
    jwk = { ...(await exportJWK(privateKey)), alg: DEV_ALG, use: 'sig', kid: `icr-dev-${Date.now().toString(36)}` };
    await fs.mkdir(path.dirname(file), { recursive: true });
    try {
      await fs.writeFile(file, JSON.stringify(jwk, null, 2), { mode: 0o600, flag: 'wx' });
    } catch (e) {
      // Another process created it first: use theirs.
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      jwk = JSON.parse(await fs.readFile(file, 'utf8')) as JWK;
    }
  }
  const privateKey = (await importJWK(jwk, DEV_ALG)) as CryptoKey;
  const { d: _d, ...publicJwk } = jwk;
  return { privateKey, publicJwk };
}

export interface DevTokenClaims {
  scope: string;
  sub?: string;
  fhirUser?: string;
  patient?: string;
  roles?: string[];
  audience: string;
  /** Seconds until expiry. */
  expiresIn?: number;
  clientId?: string;
}

export async function mintDevToken(key: DevKey, claims: DevTokenClaims): Promise<string> {
  const payload: Record<string, unknown> = { scope: claims.scope };
  if (claims.fhirUser) payload.fhirUser = claims.fhirUser;
  if (claims.patient) payload.patient = claims.patient;
  if (claims.roles?.length) payload.roles = claims.roles;
  payload.client_id = claims.clientId ?? 'icr-cli';
  return new SignJWT(payload)
    .setProtectedHeader({ alg: DEV_ALG, kid: key.publicJwk.kid, typ: 'JWT' })
    .setIssuer(DEV_ISSUER)
    .setAudience(claims.audience)
    .setSubject(claims.sub ?? claims.fhirUser ?? 'icr-cli')
    .setIssuedAt()
    .setExpirationTime(`${claims.expiresIn ?? 3600}s`)
    .sign(key.privateKey);
}
