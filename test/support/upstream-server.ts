/**
 * The upstream FHIR server of the sync tests: a real, independent FHIR implementation (the Medplum
 * FHIR router, @medplum/fhir-router 4.5.2, with its MemoryRepository) behind a small node:http
 * adapter. The adapter adds only what the router lacks and what tests need to break it:
 *
 * - GET /metadata: a CapabilityStatement written here, saying what router + adapter do
 *   (transaction, batch, read, vread, update, delete, instance history, versioned-update, and
 *   type history unless typeHistory is false). The router itself has no /metadata.
 * - GET /[type]/_history: type history, which the router lacks (it only has instance history).
 *   It is served from a change log that the adapter keeps by wrapping the repository's write
 *   methods (createResource, which updates go through, and deleteResource). The log also gives
 *   deletes their history entry (request.method DELETE, no resource, as HAPI writes them): the
 *   MemoryRepository keeps no trace of a delete. Newest first, _since (inclusive), _count,
 *   paged with _offset and a next link.
 * - Fault switches: down/up (connection refused), slow, bursts of 5xx, 429 with Retry-After,
 *   requests that never get an answer (processed or not), a business rule that refuses some
 *   resources with 422 (inside transactions too), a hook between processing and answering.
 * - Optional auth: a static bearer token, or SMART Backend Services (a token endpoint that checks
 *   a client assertion signed with the client's key).
 *
 * Everything else, transactions included, is the router's own behaviour. Seen on 4.5.2: update
 * as create answers 200, versionId is a UUID, If-Match compares versionId, a failing transaction
 * is not rolled back (MemoryRepository.withTransaction is not atomic), a transaction holds at most
 * 50 updates, DELETE of an unknown resource answers 404, read of a deleted one 404, an update with
 * unchanged content still makes a new version, and readHistory reverses its stored list in place.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { businessRule, generateId, getStatus, OperationOutcomeError, type WithId } from '@medplum/core';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';
import type { Bundle, BundleEntry, OperationOutcome, Resource } from '@medplum/fhirtypes';
import { importJWK, jwtVerify, type JWK } from 'jose';
import { RESOURCE_TYPES } from '../../src/fhir/resource-types.js';

export interface LogEntry {
  type: string;
  id: string;
  versionId: string;
  lastUpdated: string;
  method: 'POST' | 'PUT' | 'DELETE';
  resource?: Resource;
}

/** The router's repository, with a change log of every write (type history, deletes). */
export class RecordingRepository extends MemoryRepository {
  readonly log: LogEntry[] = [];
  /** A business rule of the upstream: a message refuses the resource with 422. */
  refuse?: (resource: Resource) => string | undefined;

  override async createResource<T extends Resource>(resource: T): Promise<WithId<T>> {
    const reason = this.refuse?.(resource);
    if (reason) throw new OperationOutcomeError(businessRule('upstream-rule', reason));
    const existed = resource.id ? await super.readResource(resource.resourceType, resource.id).then(() => true, () => false) : false;
    const result = await super.createResource(resource);
    this.log.push({
      type: result.resourceType,
      id: result.id,
      versionId: result.meta!.versionId!,
      lastUpdated: result.meta!.lastUpdated!,
      method: existed ? 'PUT' : 'POST',
      resource: structuredClone(result),
    });
    return result;
  }

  override async deleteResource(resourceType: string, id: string): Promise<void> {
    await super.deleteResource(resourceType, id);
    this.log.push({ type: resourceType, id, versionId: generateId(), lastUpdated: new Date().toISOString(), method: 'DELETE' });
  }
}

export interface UpstreamServerOptions {
  /** Serve type history (default true); false: the CapabilityStatement offers search only. */
  typeHistory?: boolean;
  auth?: { bearer: string } | { smart: { clientId: string; publicJwk: JWK; tokenLifetimeSeconds?: number } };
}

export interface RequestRecord {
  method: string;
  path: string;
  status: number;
  /** Entries of a Bundle sent with POST, and their If-Match. */
  entries?: number;
  entryIfMatch?: (string | undefined)[];
  ifMatch?: string;
  /** When it arrived (Date.now()). */
  at: number;
}

type Fault =
  | { kind: 'fail'; status: number; afterApply: boolean; retryAfterSeconds?: number }
  | { kind: 'throttle'; retryAfterSeconds: number }
  | { kind: 'hang'; apply: boolean };

export interface Faults {
  /** Stops listening (connection refused) and drops open connections. */
  down(): Promise<void>;
  up(): Promise<void>;
  /** The next n requests get this status (with an OperationOutcome); afterApply: processed first. */
  failNext(n: number, status?: number, options?: { afterApply?: boolean; retryAfterSeconds?: number }): void;
  /** The next n requests get 429 with Retry-After. */
  throttleNext(n: number, retryAfterSeconds: number): void;
  /** The next n requests never get an answer (the client times out); apply: processed anyway. */
  hangNext(n: number, options?: { apply?: boolean }): void;
  /** Every request waits this long first. */
  slow(ms: number): void;
  /** Requests whose method and path match get the faults above; default: all. */
  only(match: ((method: string, path: string) => boolean) | undefined): void;
  /** Runs after a request was processed and before it is answered (e.g. to kill the client). */
  afterApply(hook: ((method: string, path: string) => Promise<void> | void) | undefined): void;
  /** Faults queued and not yet met by a request. */
  remaining(): number;
  clear(): void;
}

export interface UpstreamServer {
  /** Base URL of the FHIR API: http://127.0.0.1:<port>/fhir */
  url: string;
  repo: RecordingRepository;
  faults: Faults;
  requests: RequestRecord[];
  /** Access tokens issued (SMART auth). */
  tokensIssued: number;
  /** Forgets issued access tokens: the next request with one gets 401. */
  revokeTokens(): void;
  /** Current resources of a type. */
  resources(type: string): Promise<WithId<Resource>[]>;
  /** Versions of one resource, newest first, deletes included (from the change log). */
  versions(type: string, id: string): LogEntry[];
  close(): Promise<void>;
}

const FHIR_JSON = 'application/fhir+json; charset=utf-8';

function outcome(status: number, text: string, code = 'processing'): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: code as 'processing', diagnostics: text, details: { text: `HTTP ${status}: ${text}` } }] };
}

function capabilityStatement(typeHistory: boolean): Record<string, unknown> {
  const interactions = ['read', 'vread', 'update', 'patch', 'delete', 'history-instance', 'create', 'search-type', ...(typeHistory ? ['history-type'] : [])];
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: new Date().toISOString(),
    kind: 'instance',
    fhirVersion: '4.0.1',
    format: ['json'],
    software: { name: '@medplum/fhir-router MemoryRepository (sync test upstream)', version: '4.5.2' },
    rest: [
      {
        mode: 'server',
        interaction: [{ code: 'transaction' }, { code: 'batch' }],
        resource: RESOURCE_TYPES.map((type) => ({ type, versioning: 'versioned-update', updateCreate: true, interaction: interactions.map((code) => ({ code })) })),
      },
    ],
  };
}

export async function startUpstream(options: UpstreamServerOptions = {}): Promise<UpstreamServer> {
  const typeHistory = options.typeHistory !== false;
  const repo = new RecordingRepository();
  const router = new FhirRouter();
  const requests: RequestRecord[] = [];
  const sockets = new Set<Socket>();
  const hung = new Set<http.ServerResponse>();
  let faults: Fault[] = [];
  let slowMs = 0;
  let match: ((method: string, path: string) => boolean) | undefined;
  let hook: ((method: string, path: string) => Promise<void> | void) | undefined;
  const tokens = new Map<string, number>();
  let tokensIssued = 0;
  let port = 0;
  let origin = '';

  const send = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    if (res.destroyed || res.headersSent) return;
    res.writeHead(status, { 'Content-Type': FHIR_JSON, ...headers });
    res.end(body === undefined ? undefined : JSON.stringify(body));
  };

  const typeHistoryBundle = (type: string, query: URLSearchParams): Bundle => {
    const since = query.get('_since') ? Date.parse(query.get('_since')!) : undefined;
    const count = Math.max(1, Math.min(1000, Number(query.get('_count') ?? 100) || 100));
    const offset = Math.max(0, Number(query.get('_offset') ?? 0) || 0);
    const all = repo.log.filter((e) => e.type === type && (since === undefined || Date.parse(e.lastUpdated) >= since)).reverse();
    const page = all.slice(offset, offset + count);
    const self = `${origin}/fhir/${type}/_history?${query.toString()}`;
    const link = [{ relation: 'self', url: self }];
    if (offset + count < all.length) {
      const next = new URLSearchParams(query);
      next.set('_offset', String(offset + count));
      next.set('_count', String(count));
      link.push({ relation: 'next', url: `${origin}/fhir/${type}/_history?${next.toString()}` });
    }
    return {
      resourceType: 'Bundle',
      id: generateId(),
      type: 'history',
      total: all.length,
      link,
      entry: page.map(
        (e): BundleEntry => ({
          fullUrl: `${origin}/fhir/${e.type}/${e.id}`,
          ...(e.resource ? { resource: structuredClone(e.resource) } : {}),
          request: { method: e.method, url: e.method === 'POST' ? e.type : `${e.type}/${e.id}` },
          response: { status: e.method === 'POST' ? '201 Created' : '200 OK', etag: `W/"${e.versionId}"`, lastModified: e.lastUpdated },
        }),
      ),
    };
  };

  const authorized = async (req: http.IncomingMessage, path: string, body: string): Promise<{ status: number; body: unknown } | 'ok'> => {
    const auth = options.auth;
    // The CapabilityStatement is public, as on HAPI.
    if (!auth || (req.method === 'GET' && path === '/fhir/metadata')) return 'ok';
    if ('bearer' in auth) return req.headers.authorization === `Bearer ${auth.bearer}` ? 'ok' : { status: 401, body: outcome(401, 'bearer token missing or wrong', 'login') };
    const smart = auth.smart;
    if (path === '/fhir/.well-known/smart-configuration') {
      return { status: 200, body: { token_endpoint: `${origin}/auth/token`, grant_types_supported: ['client_credentials'], token_endpoint_auth_methods_supported: ['private_key_jwt'] } };
    }
    if (path === '/auth/token') {
      const form = new URLSearchParams(body);
      try {
        if (form.get('grant_type') !== 'client_credentials') throw new Error('grant_type must be client_credentials');
        if (form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') throw new Error('client_assertion_type');
        const key = await importJWK(smart.publicJwk, smart.publicJwk.alg ?? 'RS384');
        await jwtVerify(form.get('client_assertion') ?? '', key, { issuer: smart.clientId, subject: smart.clientId, audience: `${origin}/auth/token`, maxTokenAge: '10m' });
      } catch (err) {
        return { status: 401, body: { error: 'invalid_client', error_description: (err as Error).message } };
      }
      const token = randomBytes(16).toString('hex');
      const lifetime = smart.tokenLifetimeSeconds ?? 300;
      tokens.set(token, Date.now() + lifetime * 1000);
      tokensIssued++;
      return { status: 200, body: { access_token: token, token_type: 'bearer', expires_in: lifetime, scope: form.get('scope') } };
    }
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const expires = token ? tokens.get(token) : undefined;
    return expires && expires > Date.now() ? 'ok' : { status: 401, body: outcome(401, 'access token missing, unknown or expired', 'login') };
  };

  const processRequest = async (method: string, path: string, query: URLSearchParams, body: unknown, headers: http.IncomingHttpHeaders): Promise<[number, unknown, Record<string, string>]> => {
    const rel = path.replace(/^\/fhir\/?/, '');
    if (method === 'GET' && rel === 'metadata') return [200, capabilityStatement(typeHistory), {}];
    const history = /^([A-Z][A-Za-z]+)\/_history$/.exec(rel);
    if (method === 'GET' && history && typeHistory) return [200, typeHistoryBundle(history[1], query), {}];
    const qs = query.toString();
    const [result, resource] = await router.handleRequest(
      { method: method as 'GET', url: qs ? `${rel}?${qs}` : rel, pathname: '', body, params: {}, query: {}, headers, config: { transactions: true } },
      repo,
    );
    const status = getStatus(result);
    const out: Record<string, string> = {};
    const meta = (resource as Resource | undefined)?.meta;
    if (resource && resource.resourceType !== 'Bundle' && resource.resourceType !== 'OperationOutcome' && meta?.versionId) {
      out.ETag = `W/"${meta.versionId}"`;
      if (meta.lastUpdated) out['Last-Modified'] = new Date(meta.lastUpdated).toUTCString();
      if (status === 201) out.Location = `${origin}/fhir/${resource.resourceType}/${resource.id}/_history/${meta.versionId}`;
    }
    return [status, resource ?? result, out];
  };

  const handler = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://upstream');
    const method = req.method ?? 'GET';
    const record: RequestRecord = { method, path: url.pathname, status: 0, ifMatch: req.headers['if-match'] as string | undefined, at: Date.now() };
    requests.push(record);
    res.on('finish', () => (record.status = res.statusCode));
    try {
      const auth = await authorized(req, url.pathname, text);
      if (auth !== 'ok') {
        record.status = auth.status;
        return send(res, auth.status, auth.body, { 'Content-Type': 'application/json' });
      }
      if (!url.pathname.startsWith('/fhir')) return send(res, 404, outcome(404, 'not a FHIR endpoint', 'not-found'));
      if (slowMs) await new Promise((r) => setTimeout(r, slowMs));
      const fault = faults.length && (!match || match(method, url.pathname)) ? faults.shift() : undefined;
      if (fault?.kind === 'throttle') return send(res, 429, outcome(429, 'too many requests', 'throttled'), { 'Retry-After': String(fault.retryAfterSeconds) });
      if (fault?.kind === 'fail' && !fault.afterApply) {
        return send(res, fault.status, outcome(fault.status, 'injected failure', 'transient'), fault.retryAfterSeconds !== undefined ? { 'Retry-After': String(fault.retryAfterSeconds) } : {});
      }
      if (fault?.kind === 'hang' && !fault.apply) {
        hung.add(res);
        return;
      }
      let body: unknown;
      if (text) {
        try {
          body = JSON.parse(text);
        } catch {
          return send(res, 400, outcome(400, 'the body is not JSON', 'structure'));
        }
        if (method === 'POST' && (body as Bundle)?.resourceType === 'Bundle') {
          record.entries = (body as Bundle).entry?.length ?? 0;
          record.entryIfMatch = ((body as Bundle).entry ?? []).map((e) => e.request?.ifMatch);
        }
      }
      const [status, out, headers] = await processRequest(method, url.pathname, url.searchParams, body, req.headers);
      await hook?.(method, url.pathname);
      if (fault?.kind === 'hang') {
        hung.add(res);
        return;
      }
      if (fault?.kind === 'fail') return send(res, fault.status, outcome(fault.status, 'injected failure after the request was processed', 'transient'));
      send(res, status, out, headers);
    } catch (err) {
      send(res, 500, outcome(500, (err as Error).message, 'exception'));
    }
  };

  const server = http.createServer((req, res) => void handler(req, res));
  server.keepAliveTimeout = 5000;
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      if (server.listening) return resolve();
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        port = (server.address() as AddressInfo).port;
        origin = `http://127.0.0.1:${port}`;
        resolve();
      });
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      for (const res of hung) res.destroy();
      hung.clear();
      for (const s of sockets) s.destroy();
    });
  await listen();

  return {
    url: `${origin}/fhir`,
    repo,
    requests,
    get tokensIssued() {
      return tokensIssued;
    },
    revokeTokens: () => tokens.clear(),
    faults: {
      down: stop,
      up: listen,
      failNext: (n, status = 503, o = {}) => {
        for (let i = 0; i < n; i++) faults.push({ kind: 'fail', status, afterApply: o.afterApply ?? false, retryAfterSeconds: o.retryAfterSeconds });
      },
      throttleNext: (n, retryAfterSeconds) => {
        for (let i = 0; i < n; i++) faults.push({ kind: 'throttle', retryAfterSeconds });
      },
      hangNext: (n, o = {}) => {
        for (let i = 0; i < n; i++) faults.push({ kind: 'hang', apply: o.apply ?? false });
      },
      slow: (ms) => {
        slowMs = ms;
      },
      only: (m) => {
        match = m;
      },
      afterApply: (h) => {
        hook = h;
      },
      remaining: () => faults.length,
      clear: () => {
        faults = [];
        slowMs = 0;
        match = undefined;
        hook = undefined;
        repo.refuse = undefined;
      },
    },
    async resources(type) {
      const bundle = await repo.search({ resourceType: type as 'Patient' });
      return (bundle.entry ?? []).map((e) => e.resource!) as WithId<Resource>[];
    },
    // Not the router's instance history: MemoryRepository.readHistory reverses its stored list
    // in place (4.5.2), so each call flips the order.
    versions: (type, id) => repo.log.filter((e) => e.type === type && e.id === id).reverse(),
    close: stop,
  };
}
