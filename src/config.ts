/**
 * Configuration from environment variables. Every variable is validated at start-up, and all the
 * wrong values are reported together, each with what would be valid.
 */
import { isResourceType, RESOURCE_TYPES } from './fhir/resource-types.js';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
export type UpstreamAuth = 'none' | 'bearer' | 'smart-backend';

export interface Config {
  port: number;
  host: string;
  databaseUrl: string;
  databaseSchema: string | undefined;
  databasePoolSize: number;
  logLevel: LogLevel;
  bodyLimitBytes: number;
  baseUrl: string | undefined;
  trustProxy: boolean;
  defaultPageSize: number;
  maxPageSize: number;
  maxBundleEntries: number;
  refIntegrityOnWrite: boolean;
  refIntegrityOnDelete: boolean;
  requestTimeoutMs: number;
  shutdownTimeoutMs: number;
  dataDir: string;
  upstreamFhirUrl: string | undefined;
  upstreamAuth: UpstreamAuth;
  upstreamBearerToken: string | undefined;
  upstreamTokenUrl: string | undefined;
  upstreamClientId: string | undefined;
  upstreamClientSecret: string | undefined;
  upstreamPrivateKeyFile: string | undefined;
  upstreamScope: string;
  syncTypes: string[];
  syncBatchSize: number;
  syncPollIntervalMs: number;
  syncPushIntervalMs: number;
  syncInServer: boolean;
  syncRequestTimeoutMs: number;
  syncRetryBaseMs: number;
  syncRetryMaxMs: number;
  syncOverlapMs: number;
  authAudience: string;
  authIssuer: string | undefined;
  authJwksUrl: string | undefined;
  authJwksFile: string | undefined;
  authAlgorithms: string[];
  authClockSkewSeconds: number;
  devKeyFile: string;
  devTokens: boolean;
  authAuthorizeUrl: string | undefined;
  authTokenUrl: string | undefined;
  corsOrigins: string[];
  rateLimitPerMinute: number;
  auditFlushMs: number;
  requiredProfiles: Record<string, string[]> | undefined;
  exportKeyFile: string;
  exportFileResources: number;
  exportRetentionHours: number;
  exportLeaseSeconds: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** One row of the README's configuration table, and the parser of that variable. */
export interface Setting<T> {
  name: string;
  description: string;
  defaultText: string;
  parse(raw: string | undefined, env: NodeJS.ProcessEnv): T;
}

class Problem extends Error {}

function integer(name: string, raw: string | undefined, def: number, min: number, max: number): number {
  if (raw === undefined || raw === '') return def;
  if (!/^\d+$/.test(raw.trim())) throw new Problem(`${name}=${JSON.stringify(raw)} is not a whole number (expected ${min} to ${max})`);
  const n = Number(raw);
  if (n < min || n > max) throw new Problem(`${name}=${raw} is out of range (expected ${min} to ${max})`);
  return n;
}

function bool(name: string, raw: string | undefined, def: boolean): boolean {
  if (raw === undefined || raw === '') return def;
  const v = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  throw new Problem(`${name}=${JSON.stringify(raw)} is not a boolean (expected true or false)`);
}

const SIZE_UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

export function parseSize(name: string, raw: string | undefined, def: number): number {
  if (raw === undefined || raw === '') return def;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?\s*$/i.exec(raw);
  if (!m) throw new Problem(`${name}=${JSON.stringify(raw)} is not a size (expected e.g. 512kb, 10mb)`);
  const bytes = Math.floor(Number(m[1]) * SIZE_UNITS[(m[2] ?? 'b').toLowerCase()]);
  if (bytes < 1024) throw new Problem(`${name}=${raw} is too small (at least 1kb)`);
  return bytes;
}

const LOG_LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function databaseUrl(raw: string | undefined, env: NodeJS.ProcessEnv): string {
  if (raw === undefined || raw === '') return `pglite://${env.DATA_DIR || './data'}/db`;
  if (raw === 'memory://' || /^pglite:\/\/.+/.test(raw) || /^postgres(ql)?:\/\/.+/.test(raw)) return raw;
  throw new Problem(
    `DATABASE_URL=${JSON.stringify(raw)} is not supported (expected postgres://user@host:port/db, pglite://<folder> or memory://)`,
  );
}

function baseUrl(raw: string | undefined): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Problem(`FHIR_BASE_URL=${JSON.stringify(raw)} is not an absolute URL (expected e.g. https://record.example.be/fhir)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Problem(`FHIR_BASE_URL must be http or https, not ${url.protocol}`);
  return raw.replace(/\/+$/, '');
}

function httpUrl(name: string, raw: string | undefined, example: string): string | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new Problem(`${name}=${JSON.stringify(raw)} is not an absolute URL (expected e.g. ${example})`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Problem(`${name} must be http or https, not ${url.protocol}`);
  return raw.trim().replace(/\/+$/, '');
}

const text = (raw: string | undefined): string | undefined => (raw === undefined || raw.trim() === '' ? undefined : raw.trim());

const UPSTREAM_AUTHS: UpstreamAuth[] = ['none', 'bearer', 'smart-backend'];

function upstreamAuth(raw: string | undefined, env: NodeJS.ProcessEnv): UpstreamAuth {
  const value = text(raw) ?? (text(env.UPSTREAM_BEARER_TOKEN) ? 'bearer' : text(env.UPSTREAM_CLIENT_ID) ? 'smart-backend' : 'none');
  if (!UPSTREAM_AUTHS.includes(value as UpstreamAuth)) throw new Problem(`UPSTREAM_AUTH=${JSON.stringify(raw)} is not one of ${UPSTREAM_AUTHS.join(', ')}`);
  if (!text(env.UPSTREAM_FHIR_URL)) return value as UpstreamAuth;
  if (value === 'bearer' && !text(env.UPSTREAM_BEARER_TOKEN)) throw new Problem('UPSTREAM_AUTH=bearer needs UPSTREAM_BEARER_TOKEN, the token sent to the upstream FHIR server');
  if (value === 'smart-backend') {
    if (!text(env.UPSTREAM_CLIENT_ID)) throw new Problem('UPSTREAM_AUTH=smart-backend needs UPSTREAM_CLIENT_ID');
    if (!text(env.UPSTREAM_PRIVATE_KEY_FILE) && !text(env.UPSTREAM_CLIENT_SECRET)) {
      throw new Problem('UPSTREAM_AUTH=smart-backend needs UPSTREAM_PRIVATE_KEY_FILE (private_key_jwt: a JWK or PKCS#8 PEM file) or UPSTREAM_CLIENT_SECRET');
    }
  }
  return value as UpstreamAuth;
}

/** Everything but AuditEvent: the audit trail of this record stays here. */
const DEFAULT_SYNC_TYPES = RESOURCE_TYPES.filter((t) => t !== 'AuditEvent');

function syncTypes(raw: string | undefined): string[] {
  if (raw === undefined || raw.trim() === '') return [...DEFAULT_SYNC_TYPES];
  const types = [...new Set(raw.split(',').map((t) => t.trim()).filter(Boolean))];
  const unknown = types.filter((t) => !isResourceType(t));
  if (unknown.length) throw new Problem(`SYNC_TYPES names types this server does not hold: ${unknown.join(', ')} (expected some of ${RESOURCE_TYPES.join(', ')})`);
  if (!types.length) throw new Problem('SYNC_TYPES is empty: name at least one type, or unset UPSTREAM_FHIR_URL to turn sync off');
  return types;
}

export const SETTINGS = {
  port: { name: 'PORT', description: 'TCP port of the HTTP server (0 picks a free one)', defaultText: '8080', parse: (r) => integer('PORT', r, 8080, 0, 65535) },
  host: { name: 'HOST', description: 'Interface to listen on', defaultText: '0.0.0.0', parse: (r) => (r && r.trim()) || '0.0.0.0' },
  dataDir: { name: 'DATA_DIR', description: 'Folder for the embedded database and the dev signing key', defaultText: './data', parse: (r) => (r && r.trim()) || './data' },
  databaseUrl: {
    name: 'DATABASE_URL',
    description: '`postgres://...` for PostgreSQL, `pglite://<folder>` for embedded PostgreSQL (PGlite) in a folder, `memory://` for an in-memory PGlite',
    defaultText: 'pglite://$DATA_DIR/db',
    parse: databaseUrl,
  },
  databaseSchema: {
    name: 'DATABASE_SCHEMA',
    description: 'PostgreSQL schema to use (created if missing); lets several instances share one database',
    defaultText: 'public',
    parse: (r) => {
      if (r === undefined || r === '') return undefined;
      if (!/^[a-z_][a-z0-9_]{0,62}$/.test(r)) throw new Problem(`DATABASE_SCHEMA=${JSON.stringify(r)} is not a plain lower-case SQL identifier`);
      return r;
    },
  },
  databasePoolSize: { name: 'DATABASE_POOL_SIZE', description: 'Connections in the PostgreSQL pool', defaultText: '10', parse: (r) => integer('DATABASE_POOL_SIZE', r, 10, 1, 500) },
  logLevel: {
    name: 'LOG_LEVEL',
    description: `Log level: ${LOG_LEVELS.join(', ')}`,
    defaultText: 'info',
    parse: (r) => {
      if (r === undefined || r === '') return 'info';
      if (!LOG_LEVELS.includes(r as LogLevel)) throw new Problem(`LOG_LEVEL=${JSON.stringify(r)} is not one of ${LOG_LEVELS.join(', ')}`);
      return r as LogLevel;
    },
  },
  bodyLimitBytes: { name: 'BODY_LIMIT', description: 'Largest request body accepted (larger: 413)', defaultText: '10mb', parse: (r) => parseSize('BODY_LIMIT', r, 10 * 1024 ** 2) },
  baseUrl: {
    name: 'FHIR_BASE_URL',
    description: 'Public base URL of the FHIR API, used in fullUrl, Location and paging links',
    defaultText: 'from the request: http(s)://host/fhir',
    parse: baseUrl,
  },
  trustProxy: { name: 'TRUST_PROXY', description: 'Trust X-Forwarded-* headers from a reverse proxy', defaultText: 'false', parse: (r) => bool('TRUST_PROXY', r, false) },
  defaultPageSize: { name: 'DEFAULT_PAGE_SIZE', description: 'Search page size when `_count` is absent', defaultText: '20', parse: (r) => integer('DEFAULT_PAGE_SIZE', r, 20, 1, 10000) },
  maxPageSize: { name: 'MAX_PAGE_SIZE', description: 'Largest `_count` honoured (larger values are lowered to it)', defaultText: '1000', parse: (r) => integer('MAX_PAGE_SIZE', r, 1000, 1, 100000) },
  maxBundleEntries: { name: 'MAX_BUNDLE_ENTRIES', description: 'Most entries in a batch or transaction Bundle', defaultText: '10000', parse: (r) => integer('MAX_BUNDLE_ENTRIES', r, 10000, 1, 1000000) },
  refIntegrityOnWrite: {
    name: 'REFERENTIAL_INTEGRITY_ON_WRITE',
    description: 'Refuse writes that refer to a local resource that does not exist',
    defaultText: 'true',
    parse: (r) => bool('REFERENTIAL_INTEGRITY_ON_WRITE', r, true),
  },
  refIntegrityOnDelete: {
    name: 'REFERENTIAL_INTEGRITY_ON_DELETE',
    description: 'Refuse (409) deleting a resource that other resources refer to',
    defaultText: 'true',
    parse: (r) => bool('REFERENTIAL_INTEGRITY_ON_DELETE', r, true),
  },
  requestTimeoutMs: { name: 'REQUEST_TIMEOUT_MS', description: 'Longest time a request may take before it is answered 503', defaultText: '30000', parse: (r) => integer('REQUEST_TIMEOUT_MS', r, 30000, 100, 3600000) },
  shutdownTimeoutMs: {
    name: 'SHUTDOWN_TIMEOUT_MS',
    description: 'On SIGTERM, how long running requests (also those whose client hung up) may finish before the database closes anyway',
    defaultText: '10000',
    parse: (r) => integer('SHUTDOWN_TIMEOUT_MS', r, 10000, 0, 600000),
  },
  upstreamFhirUrl: {
    name: 'UPSTREAM_FHIR_URL',
    description: 'Base URL of the upstream FHIR server (the regional HAPI FHIR) to sync with, both ways; sync is off when unset',
    defaultText: 'unset (sync off)',
    parse: (r) => httpUrl('UPSTREAM_FHIR_URL', r, 'http://hapi:8080/fhir'),
  },
  upstreamAuth: {
    name: 'UPSTREAM_AUTH',
    description: '`none`, `bearer` (UPSTREAM_BEARER_TOKEN) or `smart-backend` (SMART Backend Services client credentials)',
    defaultText: 'bearer if UPSTREAM_BEARER_TOKEN is set, smart-backend if UPSTREAM_CLIENT_ID is set, else none',
    parse: upstreamAuth,
  },
  upstreamBearerToken: { name: 'UPSTREAM_BEARER_TOKEN', description: 'Static bearer token for the upstream server', defaultText: 'unset', parse: text },
  upstreamTokenUrl: {
    name: 'UPSTREAM_TOKEN_URL',
    description: 'Token endpoint for smart-backend',
    defaultText: "from the upstream's .well-known/smart-configuration",
    parse: (r) => httpUrl('UPSTREAM_TOKEN_URL', r, 'https://auth.example.be/token'),
  },
  upstreamClientId: { name: 'UPSTREAM_CLIENT_ID', description: 'Client id registered with the upstream authorization server (smart-backend)', defaultText: 'unset', parse: text },
  upstreamClientSecret: { name: 'UPSTREAM_CLIENT_SECRET', description: 'Client secret (smart-backend with client_secret_basic)', defaultText: 'unset', parse: text },
  upstreamPrivateKeyFile: {
    name: 'UPSTREAM_PRIVATE_KEY_FILE',
    description: 'Private key (JWK or PKCS#8 PEM) that signs the client assertion (smart-backend with private_key_jwt)',
    defaultText: 'unset',
    parse: text,
  },
  upstreamScope: { name: 'UPSTREAM_SCOPE', description: 'Scopes asked for with smart-backend', defaultText: 'system/*.cruds', parse: (r) => text(r) ?? 'system/*.cruds' },
  syncTypes: {
    name: 'SYNC_TYPES',
    description: 'Comma-separated resource types kept in sync with the upstream server',
    defaultText: 'every type held except AuditEvent',
    parse: syncTypes,
  },
  syncBatchSize: { name: 'SYNC_BATCH_SIZE', description: 'Most changes pushed in one transaction Bundle', defaultText: '50', parse: (r) => integer('SYNC_BATCH_SIZE', r, 50, 1, 1000) },
  syncPollIntervalMs: {
    name: 'SYNC_POLL_INTERVAL_MS',
    description: "How often the upstream's history is polled for changes made there",
    defaultText: '5000',
    parse: (r) => integer('SYNC_POLL_INTERVAL_MS', r, 5000, 10, 86400000),
  },
  syncPushIntervalMs: {
    name: 'SYNC_PUSH_INTERVAL_MS',
    description: 'How often an idle worker looks at the outbox (writes in the same process wake it at once)',
    defaultText: '1000',
    parse: (r) => integer('SYNC_PUSH_INTERVAL_MS', r, 1000, 10, 3600000),
  },
  syncInServer: {
    name: 'SYNC_IN_SERVER',
    description: 'Run the sync worker inside `icr serve`; set false when it runs alone (`icr sync`)',
    defaultText: 'true',
    parse: (r) => bool('SYNC_IN_SERVER', r, true),
  },
  syncRequestTimeoutMs: {
    name: 'SYNC_REQUEST_TIMEOUT_MS',
    description: 'Longest wait for one upstream request before it counts as failed (and is retried)',
    defaultText: '30000',
    parse: (r) => integer('SYNC_REQUEST_TIMEOUT_MS', r, 30000, 100, 600000),
  },
  syncRetryBaseMs: {
    name: 'SYNC_RETRY_BASE_MS',
    description: 'First retry delay after a network error, 5xx or 429; doubles per attempt, with full jitter',
    defaultText: '1000',
    parse: (r) => integer('SYNC_RETRY_BASE_MS', r, 1000, 1, 3600000),
  },
  syncRetryMaxMs: {
    name: 'SYNC_RETRY_MAX_MS',
    description: 'Longest retry delay (a longer Retry-After from upstream is still honoured)',
    defaultText: '300000',
    parse: (r, env) => {
      const max = integer('SYNC_RETRY_MAX_MS', r, 300000, 1, 86400000);
      const base = Number(env.SYNC_RETRY_BASE_MS || 1000);
      if (Number.isFinite(base) && max < base) throw new Problem(`SYNC_RETRY_MAX_MS (${max}) is smaller than SYNC_RETRY_BASE_MS (${base})`);
      return max;
    },
  },
  syncOverlapMs: {
    name: 'SYNC_OVERLAP_MS',
    description: 'How far back each history poll reaches before the last change seen (entries read twice are skipped by version)',
    defaultText: '5000',
    parse: (r) => integer('SYNC_OVERLAP_MS', r, 5000, 0, 3600000),
  },
  authAudience: {
    name: 'AUTH_AUDIENCE',
    description: 'The audience (aud) that bearer tokens must be issued for',
    defaultText: 'integrated-care-record',
    parse: (r) => (r && r.trim()) || 'integrated-care-record',
  },
  authIssuer: {
    name: 'AUTH_ISSUER',
    description: 'The issuer (iss) of tokens from the identity provider; required with AUTH_JWKS_URL or AUTH_JWKS_FILE',
    defaultText: 'unset',
    parse: (r, env) => {
      if ((env.AUTH_JWKS_URL || env.AUTH_JWKS_FILE) && !r) throw new Problem('AUTH_ISSUER must be set when AUTH_JWKS_URL or AUTH_JWKS_FILE is (the issuer your identity provider writes in iss)');
      return r || undefined;
    },
  },
  authJwksUrl: {
    name: 'AUTH_JWKS_URL',
    description: "The identity provider's JWKS URL (keys are cached and fetched again for an unknown kid)",
    defaultText: 'unset',
    parse: (r, env) => {
      if (!r) return undefined;
      if (env.AUTH_JWKS_FILE) throw new Problem('Set AUTH_JWKS_URL or AUTH_JWKS_FILE, not both');
      if (!/^https?:\/\/.+/.test(r)) throw new Problem(`AUTH_JWKS_URL=${JSON.stringify(r)} is not an http(s) URL`);
      return r;
    },
  },
  authJwksFile: {
    name: 'AUTH_JWKS_FILE',
    description: 'A JWKS file with the public keys of the identity provider (instead of AUTH_JWKS_URL)',
    defaultText: 'unset',
    parse: (r) => r || undefined,
  },
  authAlgorithms: {
    name: 'AUTH_ALGORITHMS',
    description: 'Signature algorithms accepted, comma-separated; asymmetric only (no none, no HS*)',
    defaultText: 'RS256,RS384,RS512,PS256,PS384,PS512,ES256,ES384,ES512,EdDSA',
    parse: (r) => {
      const allowed = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
      if (!r) return allowed;
      const list = r.split(',').map((a) => a.trim()).filter(Boolean);
      const bad = list.filter((a) => !allowed.includes(a));
      if (bad.length || !list.length) throw new Problem(`AUTH_ALGORITHMS has ${bad.join(', ') || 'nothing'}: only asymmetric algorithms are accepted (${allowed.join(', ')})`);
      return list;
    },
  },
  authClockSkewSeconds: {
    name: 'AUTH_CLOCK_SKEW_SECONDS',
    description: 'Tolerance on exp and nbf, for clocks that differ a little',
    defaultText: '60',
    parse: (r) => integer('AUTH_CLOCK_SKEW_SECONDS', r, 60, 0, 600),
  },
  devKeyFile: {
    name: 'ICR_DEV_KEY',
    description: 'Key file (a private JWK, made on first use) of the development tokens that `icr token` mints',
    defaultText: '$DATA_DIR/dev-key.json',
    parse: (r, env) => (r && r.trim()) || `${env.DATA_DIR || './data'}/dev-key.json`,
  },
  devTokens: {
    name: 'AUTH_DEV_TOKENS',
    description: 'Accept tokens signed with the development key (issuer urn:icr:dev-issuer)',
    defaultText: 'true without an identity provider, false with one',
    parse: (r, env) => {
      const def = !(env.AUTH_JWKS_URL || env.AUTH_JWKS_FILE);
      const on = bool('AUTH_DEV_TOKENS', r, def);
      if (!on && def) throw new Problem('AUTH_DEV_TOKENS=false leaves no way to authenticate: set AUTH_JWKS_URL (or AUTH_JWKS_FILE) and AUTH_ISSUER');
      return on;
    },
  },
  authAuthorizeUrl: {
    name: 'AUTH_AUTHORIZE_URL',
    description: "The identity provider's authorization endpoint, published in the SMART configuration",
    defaultText: 'unset',
    parse: (r) => r || undefined,
  },
  authTokenUrl: {
    name: 'AUTH_TOKEN_URL',
    description: "The identity provider's token endpoint, published in the SMART configuration",
    defaultText: 'unset',
    parse: (r) => r || undefined,
  },
  corsOrigins: {
    name: 'CORS_ORIGINS',
    description: 'Browser origins allowed to call the API (comma-separated, e.g. https://app.example.be); none by default',
    defaultText: 'none',
    parse: (r) => {
      const list = (r ?? '').split(',').map((o) => o.trim()).filter(Boolean);
      for (const o of list) if (!/^https?:\/\/[^/]+$/.test(o)) throw new Problem(`CORS_ORIGINS: ${JSON.stringify(o)} is not an origin (scheme://host[:port], no path)`);
      return list;
    },
  },
  rateLimitPerMinute: {
    name: 'RATE_LIMIT_PER_MINUTE',
    description: 'Requests per minute per client (token client or subject, else address); 0 turns the limit off',
    defaultText: '12000',
    parse: (r) => integer('RATE_LIMIT_PER_MINUTE', r, 12000, 0, 100000000),
  },
  auditFlushMs: {
    name: 'AUDIT_FLUSH_MS',
    description: 'Audit events are written together every this many ms (0: each before the response)',
    defaultText: '200',
    parse: (r) => integer('AUDIT_FLUSH_MS', r, 200, 0, 60000),
  },
  requiredProfiles: {
    name: 'REQUIRED_PROFILES',
    description: 'Profiles every write of a type must conform to, as Type=url pairs separated by commas (a type may appear twice); `none` for the base specification only',
    defaultText: "ours: icr-patient, icr-careteam, icr-careplan, ... (profiles/)",
    parse: (r) => {
      if (r === undefined || r.trim() === '') return undefined;
      if (r.trim() === 'none') return {};
      const map: Record<string, string[]> = {};
      for (const pair of r.split(',').map((p) => p.trim()).filter(Boolean)) {
        const m = /^([A-Z][A-Za-z]+)=(https?:\/\/\S+)$/.exec(pair);
        if (!m) throw new Problem(`REQUIRED_PROFILES: ${JSON.stringify(pair)} is not Type=https://canonical/url`);
        (map[m[1]] ??= []).push(m[2]);
      }
      return map;
    },
  },
  exportKeyFile: {
    name: 'EXPORT_KEY_FILE',
    description: 'Key file (32 random bytes, made on first use) of the keyed hash that pseudonymises evaluation exports; every replica must read the same one',
    defaultText: '$DATA_DIR/export-key',
    parse: (r, env) => (r && r.trim()) || `${env.DATA_DIR || './data'}/export-key`,
  },
  exportFileResources: {
    name: 'EXPORT_FILE_RESOURCES',
    description: 'Most resources in one NDJSON file of a bulk export (a type with more gets several files)',
    defaultText: '10000',
    parse: (r) => integer('EXPORT_FILE_RESOURCES', r, 10000, 1, 1000000),
  },
  exportRetentionHours: {
    name: 'EXPORT_RETENTION_HOURS',
    description: 'How long the files of a finished bulk export are kept (then the job and its files are deleted)',
    defaultText: '24',
    parse: (r) => integer('EXPORT_RETENTION_HOURS', r, 24, 1, 8760),
  },
  exportLeaseSeconds: {
    name: 'EXPORT_LEASE_SECONDS',
    description: 'A bulk export whose worker has not reported for this long (it died) is taken over by another worker and restarted',
    defaultText: '60',
    parse: (r) => integer('EXPORT_LEASE_SECONDS', r, 60, 1, 3600),
  },
} satisfies { [K in keyof Config]: Setting<Config[K]> };

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  for (const [key, setting] of Object.entries(SETTINGS) as [keyof Config, Setting<unknown>][]) {
    if (key in overrides) {
      out[key] = overrides[key];
      continue;
    }
    try {
      out[key] = setting.parse(env[setting.name], env);
    } catch (err) {
      if (err instanceof Problem) problems.push(err.message);
      else throw err;
    }
  }
  const config = out as unknown as Config;
  if (!problems.length && config.defaultPageSize > config.maxPageSize) {
    problems.push(`DEFAULT_PAGE_SIZE (${config.defaultPageSize}) is larger than MAX_PAGE_SIZE (${config.maxPageSize})`);
  }
  if (problems.length) throw new ConfigError(problems);
  return config;
}
