import fs from 'node:fs/promises';
import { createLocalJWKSet, createRemoteJWKSet, decodeJwt, errors, jwtVerify, type JWK, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { FhirError, issue, operationOutcome } from '../fhir/errors.js';
import type { Principal } from '../interactions/context.js';
import { DEV_ISSUER, type DevKey } from './dev-key.js';

export const REALM = 'integrated-care-record';

export interface VerifierOptions {
  audience: string;
  /** The identity provider's issuer; required with a JWKS. */
  issuer?: string;
  jwksUrl?: string;
  jwksFile?: string;
  /** Accept tokens signed with the local development key (`icr token`). */
  devKey?: DevKey;
  algorithms: string[];
  clockSkewSeconds: number;
}

/** 401 with the WWW-Authenticate header RFC 6750 asks for. */
export function authenticationError(description: string | undefined): FhirError {
  const header = description
    ? `Bearer realm="${REALM}", error="invalid_token", error_description="${description.replace(/"/g, "'")}"`
    : `Bearer realm="${REALM}"`;
  const text = description ? `Authentication failed: ${description}` : 'Authentication required: send a bearer token (Authorization: Bearer <token>)';
  return new FhirError(401, operationOutcome([issue('error', 'login', text)]), { 'WWW-Authenticate': header });
}

function describe(err: unknown): string {
  if (err instanceof errors.JWTExpired) return 'the token has expired';
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'nbf') return 'the token is not valid yet (nbf)';
    if (err.claim === 'iss') return 'the token was issued by an issuer this server does not trust';
    if (err.claim === 'aud') return 'the token is meant for another audience';
    return `the token's ${err.claim} claim is not acceptable`;
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return 'the token is signed with an algorithm this server does not accept';
  if (err instanceof errors.JWKSNoMatchingKey) return 'the token is signed with a key this server does not know';
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'the token signature is not valid';
  if (err instanceof errors.JWKSTimeout || err instanceof errors.JOSEError) {
    if ((err as errors.JOSEError).code === 'ERR_JWKS_TIMEOUT') return 'the identity provider keys could not be fetched';
  }
  return 'the token is malformed';
}

const asStrings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : typeof v === 'string' ? v.split(/\s+/).filter(Boolean) : []);

/** A fhirUser claim is a URL (or a relative reference): keep Type/id. */
function relativeReference(v: unknown): string | undefined {
  if (typeof v !== 'string') return undefined;
  const m = /([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/.exec(v);
  return m ? `${m[1]}/${m[2]}` : undefined;
}

export function principalFromClaims(payload: JWTPayload): Principal {
  const scopes = asStrings(payload.scope ?? payload.scp);
  const fhirUser = relativeReference(payload.fhirUser);
  const patient = typeof payload.patient === 'string' ? payload.patient : fhirUser?.startsWith('Patient/') ? fhirUser.slice(8) : undefined;
  const realmRoles = (payload.realm_access as { roles?: unknown } | undefined)?.roles;
  const roles = [...asStrings(payload.roles), ...asStrings(realmRoles)];
  const kind = scopes.some((s) => s.startsWith('system/')) && !fhirUser ? 'system' : scopes.some((s) => s.startsWith('patient/')) && patient && !scopes.some((s) => s.startsWith('user/')) ? 'patient' : fhirUser ? 'user' : 'system';
  return {
    kind,
    subject: String(payload.sub ?? ''),
    fhirUser,
    patient,
    scopes,
    roles,
    clientId: typeof payload.client_id === 'string' ? payload.client_id : typeof payload.azp === 'string' ? payload.azp : undefined,
  };
}

/**
 * Verifies bearer JWTs: signature against the identity provider's JWKS (fetched, cached, and
 * fetched again for an unknown kid) or the local development key; issuer, audience, expiry and
 * not-before with a small clock skew; only the asymmetric algorithms allowed.
 */
export class TokenVerifier {
  private constructor(
    private readonly options: VerifierOptions,
    private readonly idpKeys: JWTVerifyGetKey | undefined,
    private readonly devKeys: JWTVerifyGetKey | undefined,
  ) {}

  static async create(options: VerifierOptions): Promise<TokenVerifier> {
    let idp: JWTVerifyGetKey | undefined;
    if (options.jwksUrl) idp = createRemoteJWKSet(new URL(options.jwksUrl), { cooldownDuration: 1000, cacheMaxAge: 600_000 });
    else if (options.jwksFile) idp = createLocalJWKSet(JSON.parse(await fs.readFile(options.jwksFile, 'utf8')) as { keys: JWK[] });
    const dev = options.devKey ? createLocalJWKSet({ keys: [options.devKey.publicJwk] }) : undefined;
    return new TokenVerifier(options, idp, dev);
  }

  /**
   * Verified tokens, until they expire: a client sends the same token with every request, and a
   * signature check costs more than the rest of a read. Only successes are kept.
   */
  private readonly verified = new Map<string, { principal: Principal; exp: number }>();

  async verify(token: string): Promise<Principal> {
    const hit = this.verified.get(token);
    if (hit && Date.now() / 1000 < hit.exp + this.options.clockSkewSeconds) return hit.principal;
    if (hit) this.verified.delete(token);
    const principal = await this.verifyUncached(token);
    if (this.verified.size >= 10_000) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(token, { principal, exp: principal.expiresAt ?? 0 });
    return principal;
  }

  private async verifyUncached(token: string): Promise<Principal> {
    let issuer: string | undefined;
    try {
      issuer = decodeJwt(token).iss;
    } catch {
      throw authenticationError('the token is malformed');
    }
    const useDev = issuer === DEV_ISSUER && this.devKeys;
    const keys = useDev ? this.devKeys : this.idpKeys;
    if (!keys) throw authenticationError('the token was issued by an issuer this server does not trust');
    try {
      const { payload } = await jwtVerify(token, keys, {
        issuer: useDev ? DEV_ISSUER : this.options.issuer,
        audience: this.options.audience,
        algorithms: this.options.algorithms,
        clockTolerance: this.options.clockSkewSeconds,
        requiredClaims: ['exp'],
      });
      return { ...principalFromClaims(payload), expiresAt: payload.exp };
    } catch (err) {
      throw authenticationError(describe(err));
    }
  }
}
