import { createPrivateKey, createPublicKey, randomUUID, type KeyObject } from 'node:crypto';
import fs from 'node:fs/promises';
import { calculateJwkThumbprint, SignJWT, type JWK } from 'jose';
import type { Config } from '../config.js';

/**
 * The Authorization header of upstream requests: none, a static bearer token, or an access token
 * from SMART Backend Services (client_credentials with a signed client assertion, or with a client
 * secret), fetched when needed and renewed before it expires or when upstream answers 401.
 */
export interface TokenSource {
  header(signal?: AbortSignal): Promise<string | undefined>;
  /** The upstream refused the token (401): the next header() fetches a new one. */
  invalidate(): void;
}

export class AuthError extends Error {
  constructor(
    message: string,
    /** Whether trying again later may help (the token endpoint was unreachable or failed). */
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'AuthError';
  }
}

type AuthConfig = Pick<
  Config,
  'upstreamFhirUrl' | 'upstreamAuth' | 'upstreamBearerToken' | 'upstreamTokenUrl' | 'upstreamClientId' | 'upstreamClientSecret' | 'upstreamPrivateKeyFile' | 'upstreamScope'
>;

const NONE: TokenSource = { header: async () => undefined, invalidate: () => undefined };

export function createTokenSource(config: AuthConfig): TokenSource {
  switch (config.upstreamAuth) {
    case 'none':
      return NONE;
    case 'bearer':
      return { header: async () => `Bearer ${config.upstreamBearerToken}`, invalidate: () => undefined };
    case 'smart-backend':
      return new SmartBackendTokens(config);
  }
}

interface SigningKey {
  key: KeyObject;
  alg: 'RS384' | 'ES384';
  kid: string;
}

/** Renew this long before the token's own expiry. */
const EARLY_MS = 30_000;

class SmartBackendTokens implements TokenSource {
  private token?: { value: string; expiresAt: number };
  private pending?: Promise<string>;
  private signingKey?: Promise<SigningKey>;

  constructor(private readonly config: AuthConfig) {}

  invalidate(): void {
    this.token = undefined;
  }

  async header(signal?: AbortSignal): Promise<string> {
    if (this.token && this.token.expiresAt - EARLY_MS > Date.now()) return `Bearer ${this.token.value}`;
    this.pending ??= this.fetchToken(signal).finally(() => {
      this.pending = undefined;
    });
    return `Bearer ${await this.pending}`;
  }

  private async tokenUrl(signal?: AbortSignal): Promise<string> {
    if (this.config.upstreamTokenUrl) return this.config.upstreamTokenUrl;
    const url = `${this.config.upstreamFhirUrl}/.well-known/smart-configuration`;
    let res: Response;
    try {
      res = await fetch(url, { headers: { accept: 'application/json' }, signal });
    } catch (err) {
      throw new AuthError(`Could not read ${url}: ${(err as Error).message}`, true);
    }
    if (!res.ok) throw new AuthError(`${url} answered ${res.status}; set UPSTREAM_TOKEN_URL`, res.status >= 500 || res.status === 429);
    const body = (await res.json().catch(() => ({}))) as { token_endpoint?: unknown };
    if (typeof body.token_endpoint !== 'string') throw new AuthError(`${url} names no token_endpoint; set UPSTREAM_TOKEN_URL`, false);
    return body.token_endpoint;
  }

  private key(): Promise<SigningKey> {
    this.signingKey ??= loadSigningKey(this.config.upstreamPrivateKeyFile!);
    return this.signingKey;
  }

  private async fetchToken(signal?: AbortSignal): Promise<string> {
    const tokenUrl = await this.tokenUrl(signal);
    const form = new URLSearchParams({ grant_type: 'client_credentials', scope: this.config.upstreamScope });
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    if (this.config.upstreamPrivateKeyFile) {
      const { key, alg, kid } = await this.key();
      const assertion = await new SignJWT({})
        .setProtectedHeader({ alg, kid, typ: 'JWT' })
        .setIssuer(this.config.upstreamClientId!)
        .setSubject(this.config.upstreamClientId!)
        .setAudience(tokenUrl)
        .setJti(randomUUID())
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(key);
      form.set('client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
      form.set('client_assertion', assertion);
    } else {
      const basic = Buffer.from(`${encodeURIComponent(this.config.upstreamClientId!)}:${encodeURIComponent(this.config.upstreamClientSecret!)}`).toString('base64');
      headers.authorization = `Basic ${basic}`;
    }
    let res: Response;
    try {
      res = await fetch(tokenUrl, { method: 'POST', headers, body: form.toString(), signal });
    } catch (err) {
      throw new AuthError(`The token endpoint ${tokenUrl} could not be reached: ${(err as Error).message}`, true);
    }
    const body = (await res.json().catch(() => ({}))) as { access_token?: unknown; expires_in?: unknown; error?: unknown; error_description?: unknown };
    if (!res.ok || typeof body.access_token !== 'string') {
      const why = [body.error, body.error_description].filter((x) => typeof x === 'string').join(': ') || `HTTP ${res.status}`;
      throw new AuthError(`The token endpoint ${tokenUrl} refused client ${this.config.upstreamClientId}: ${why}`, res.status >= 500 || res.status === 429);
    }
    const expiresIn = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 300;
    this.token = { value: body.access_token, expiresAt: Date.now() + expiresIn * 1000 };
    return body.access_token;
  }
}

/** A JWK (JSON) or PKCS#8 PEM private key: RSA signs RS384, P-384 signs ES384 (what SMART asks for). */
export async function loadSigningKey(file: string): Promise<SigningKey> {
  const text = await fs.readFile(file, 'utf8');
  let key: KeyObject;
  let kid: string | undefined;
  if (text.trim().startsWith('{')) {
    const jwk = JSON.parse(text) as JWK;
    kid = jwk.kid;
    key = createPrivateKey({ key: jwk as never, format: 'jwk' });
  } else {
    key = createPrivateKey(text);
  }
  let alg: SigningKey['alg'];
  if (key.asymmetricKeyType === 'rsa') alg = 'RS384';
  else if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'secp384r1') alg = 'ES384';
  else throw new Error(`${file}: SMART Backend Services needs an RSA or EC P-384 private key, not ${key.asymmetricKeyType ?? 'this key'}`);
  kid ??= await calculateJwkThumbprint(createPublicKey(key).export({ format: 'jwk' }) as JWK);
  return { key, alg, kid };
}
