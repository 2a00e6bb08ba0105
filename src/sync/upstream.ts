import type { Bundle, BundleEntry, CapabilityStatement, OperationOutcome } from 'fhir/r4.js';
import { Client, type FhirResource, type RequestOptions } from 'fhir-kit-client';
import { AuthError, type TokenSource } from './auth.js';
import { parseRetryAfter } from './backoff.js';
import type { Obj } from './content.js';

/**
 * The upstream FHIR server as the sync sees it, through fhir-kit-client: every request has a
 * timeout and can be aborted when the worker stops, and every failure becomes an UpstreamError
 * that says whether trying again may help.
 */
export type UpstreamErrorKind = 'network' | 'timeout' | 'http' | 'auth' | 'stopped';

export class UpstreamError extends Error {
  constructor(
    message: string,
    readonly kind: UpstreamErrorKind,
    readonly status?: number,
    readonly outcome?: OperationOutcome,
    readonly retryAfterMs?: number,
    private readonly authRetryable = false,
  ) {
    super(message);
    this.name = 'UpstreamError';
  }

  /**
   * Network errors, timeouts, 408, 429 and 5xx: the same request may succeed later. So may 401:
   * a token the upstream does not take is a matter of configuration, not of the change, which
   * waits (with lastError in $sync-status) rather than being parked.
   */
  get retryable(): boolean {
    if (this.kind === 'http') return this.status === 401 || this.status === 408 || this.status === 429 || (this.status ?? 0) >= 500;
    if (this.kind === 'auth') return this.authRetryable;
    return true;
  }

  /** Whether the failure says something about reachability (for $sync-status). */
  get unreachable(): boolean {
    return this.kind === 'network' || this.kind === 'timeout' || (this.kind === 'http' && (this.status ?? 0) >= 500);
  }

  /** An OperationOutcome that describes the failure (the upstream's own one when it sent one). */
  toOutcome(): OperationOutcome {
    return this.outcome ?? { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: this.kind === 'http' ? 'processing' : 'transient', diagnostics: this.message }] };
  }
}

export interface TypeCapability {
  read: boolean;
  update: boolean;
  delete: boolean;
  historyType: boolean;
  searchType: boolean;
  /** versioning = versioned-update: the server honours If-Match on update. */
  versionedUpdate: boolean;
  /** update may create a resource with the client's id. */
  updateCreate: boolean;
}

export interface Capabilities {
  fhirVersion?: string;
  software?: string;
  transaction: boolean;
  batch: boolean;
  systemHistory: boolean;
  types: Map<string, TypeCapability>;
  /** The server has no CapabilityStatement: everything is assumed, and said so in the log. */
  assumed: boolean;
}

/** The answer for one resource written upstream. */
export interface WriteResult {
  status: number;
  version?: string;
  lastUpdated?: Date;
  outcome?: OperationOutcome;
}

export type ReadResult =
  | { found: true; resource: Obj; version?: string; lastUpdated?: Date }
  | { found: false; status: number };

export interface UpstreamOptions {
  baseUrl: string;
  tokens: TokenSource;
  timeoutMs: number;
  /** Aborts every request in flight (the worker stops). */
  stop?: AbortSignal;
  /** Called after each request: whether the upstream answered at all, and the trouble if any. */
  onContact?: (reachable: boolean, error?: string) => void;
}

export const ifMatch = (version: string) => `W/"${version}"`;

/** Version id from an ETag (W/"3"), a Location (.../_history/3) or the resource's meta. */
export function versionOf(etag?: string | null, location?: string | null, resource?: Obj): string | undefined {
  const e = etag ? /^(?:W\/)?"([^"]+)"$/.exec(etag.trim()) : null;
  if (e) return e[1];
  const l = location ? /\/_history\/([^/?#]+)/.exec(location) : null;
  if (l) return l[1];
  const v = (resource?.meta as Obj | undefined)?.versionId;
  return typeof v === 'string' ? v : undefined;
}

function dateOf(...values: unknown[]): Date | undefined {
  for (const v of values) {
    if (typeof v !== 'string') continue;
    const d = new Date(v);
    if (!Number.isNaN(d.getTime())) return d;
  }
  return undefined;
}

/** '201 Created' or '200' → the number. */
export function statusOf(text: string | undefined): number {
  const n = parseInt(text ?? '', 10);
  return Number.isFinite(n) ? n : 0;
}

/** The result of one entry of a transaction-response (or batch-response) Bundle. */
export function entryResult(entry: BundleEntry | undefined): WriteResult {
  const response = entry?.response;
  const resource = entry?.resource as Obj | undefined;
  const status = statusOf(response?.status);
  if (status >= 400 || !response) {
    const outcome = (response?.outcome ?? (resource?.resourceType === 'OperationOutcome' ? resource : undefined)) as OperationOutcome | undefined;
    return { status: status || 500, outcome };
  }
  return {
    status,
    version: versionOf(response.etag, response.location, resource?.resourceType === 'OperationOutcome' ? undefined : resource),
    lastUpdated: dateOf(response.lastModified, (resource?.meta as Obj | undefined)?.lastUpdated),
  };
}

const EVERYTHING: TypeCapability = { read: true, update: true, delete: true, historyType: true, searchType: true, versionedUpdate: true, updateCreate: true };

/** What the upstream says it does with a type (everything, when it has no CapabilityStatement). */
export function typeCapability(caps: Capabilities, type: string): TypeCapability | undefined {
  return caps.assumed ? EVERYTHING : caps.types.get(type);
}

export function parseCapabilities(cs: CapabilityStatement | undefined): Capabilities {
  if (!cs || cs.resourceType !== 'CapabilityStatement') return { transaction: true, batch: true, systemHistory: true, types: new Map(), assumed: true };
  const rest = cs.rest?.find((r) => r.mode === 'server') ?? cs.rest?.[0];
  const system = new Set((rest?.interaction ?? []).map((i) => i.code));
  const types = new Map<string, TypeCapability>();
  for (const r of rest?.resource ?? []) {
    const codes = new Set((r.interaction ?? []).map((i) => i.code));
    types.set(r.type, {
      read: codes.has('read'),
      update: codes.has('update'),
      delete: codes.has('delete'),
      historyType: codes.has('history-type'),
      searchType: codes.has('search-type'),
      versionedUpdate: r.versioning === 'versioned-update',
      updateCreate: r.updateCreate !== false,
    });
  }
  return {
    fhirVersion: cs.fhirVersion,
    software: [cs.software?.name, cs.software?.version].filter(Boolean).join(' ') || undefined,
    transaction: system.has('transaction'),
    batch: system.has('batch'),
    systemHistory: system.has('history-system'),
    types,
    assumed: false,
  };
}

export class UpstreamClient {
  readonly client: Client;
  readonly baseUrl: string;

  constructor(private readonly options: UpstreamOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    const tokens = options.tokens;
    this.client = new Client({
      baseUrl: this.baseUrl,
      customHeaders: { 'user-agent': 'integrated-care-record-sync' },
      // fhir-kit-client awaits the signer: the token is fetched (or renewed) here, per request.
      requestSigner: (async (_url: string, init: RequestInit) => {
        const header = await tokens.header();
        if (header) (init.headers as Headers).set('authorization', header);
      }) as unknown as (url: string, init: RequestInit) => void,
    });
  }

  /**
   * One request with its timeout. A 401 is tried once more with a new token. A GET whose kept-alive
   * connection the server had just closed (a race every HTTP client meets) is tried once more on a
   * new one; writes are not: whether they arrived is for the outbox to find out.
   */
  private async call<T>(what: string, fn: (options: RequestOptions) => Promise<T>, idempotent = false): Promise<T> {
    let staleConnectionRetried = false;
    for (let attempt = 0; ; attempt++) {
      const timeout = AbortSignal.timeout(this.options.timeoutMs);
      const signal = this.options.stop ? AbortSignal.any([timeout, this.options.stop]) : timeout;
      try {
        const result = await fn({ signal });
        this.options.onContact?.(true);
        return result;
      } catch (err) {
        const e = this.toError(err, what, timeout);
        // An access token the upstream no longer accepts: fetch a new one and try once more.
        if (e.status === 401 && attempt === 0) {
          this.options.tokens.invalidate();
          continue;
        }
        if (idempotent && !staleConnectionRetried && e.kind === 'network' && /UND_ERR_SOCKET|ECONNRESET|EPIPE/.test(e.message)) {
          staleConnectionRetried = true;
          continue;
        }
        // 404, 412 and the like are answers about one resource, not trouble with the upstream.
        const trouble = e.unreachable || e.kind === 'auth' || e.status === 401 || e.status === 403 || e.status === 429;
        if (e.kind !== 'stopped') this.options.onContact?.(!e.unreachable, trouble ? e.message : undefined);
        throw e;
      }
    }
  }

  private toError(err: unknown, what: string, timeout: AbortSignal): UpstreamError {
    if (err instanceof UpstreamError) return err;
    if (err instanceof AuthError) return new UpstreamError(`${what}: ${err.message}`, 'auth', undefined, undefined, undefined, err.retryable);
    const response = (err as { response?: { status?: number; data?: unknown } }).response;
    if (response?.status) {
      const headers = (err as { config?: { headers?: Headers } }).config?.headers;
      const retryAfter = parseRetryAfter(headers?.get?.('retry-after'));
      const data = response.data as Obj | undefined;
      const outcome = data && typeof data === 'object' && data.resourceType === 'OperationOutcome' ? (data as unknown as OperationOutcome) : undefined;
      const detail = outcome?.issue?.map((i) => i.diagnostics ?? i.details?.text ?? i.code).join('; ');
      return new UpstreamError(`${what}: HTTP ${response.status}${detail ? ` (${detail})` : ''}`, 'http', response.status, outcome, retryAfter);
    }
    if (this.options.stop?.aborted) return new UpstreamError(`${what}: stopped`, 'stopped');
    const name = (err as { name?: string }).name;
    if (timeout.aborted || name === 'TimeoutError' || name === 'AbortError') {
      return new UpstreamError(`${what}: no answer within ${this.options.timeoutMs} ms`, 'timeout');
    }
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return new UpstreamError(`${what}: ${cause?.code ?? cause?.message ?? (err as Error).message ?? String(err)}`, 'network');
  }

  async capabilities(): Promise<Capabilities> {
    try {
      const cs = await this.call('GET metadata', (options) => this.client.capabilityStatement(options), true);
      return parseCapabilities(cs as unknown as CapabilityStatement);
    } catch (err) {
      if (err instanceof UpstreamError && err.kind === 'http' && (err.status === 404 || err.status === 405 || err.status === 501)) return parseCapabilities(undefined);
      throw err;
    }
  }

  async read(type: string, id: string): Promise<ReadResult> {
    try {
      const resource = (await this.call(`GET ${type}/${id}`, (options) => this.client.read({ resourceType: type, id, options }), true)) as Obj;
      const response = Client.httpFor(resource as FhirResource).response;
      return {
        found: true,
        resource,
        version: versionOf(response?.headers.get('etag'), undefined, resource),
        lastUpdated: dateOf((resource.meta as Obj | undefined)?.lastUpdated, response?.headers.get('last-modified')),
      };
    } catch (err) {
      if (err instanceof UpstreamError && err.kind === 'http' && (err.status === 404 || err.status === 410)) return { found: false, status: err.status };
      throw err;
    }
  }

  async put(type: string, id: string, body: Obj, version?: string): Promise<WriteResult> {
    const headers: Record<string, string> = { prefer: 'return=representation' };
    if (version !== undefined) headers['if-match'] = ifMatch(version);
    const result = (await this.call(`PUT ${type}/${id}`, (options) =>
      this.client.update({ resourceType: type, id, body: body as FhirResource, options: { ...options, headers } }),
    )) as Obj;
    const response = Client.httpFor(result as FhirResource).response;
    const resource = result.resourceType === type ? result : undefined;
    return {
      status: response?.status ?? 200,
      version: versionOf(response?.headers.get('etag'), response?.headers.get('location') ?? response?.headers.get('content-location'), resource),
      lastUpdated: dateOf((resource?.meta as Obj | undefined)?.lastUpdated, response?.headers.get('last-modified')),
    };
  }

  async delete(type: string, id: string, version?: string): Promise<WriteResult> {
    const headers: Record<string, string> = {};
    if (version !== undefined) headers['if-match'] = ifMatch(version);
    const result = (await this.call(`DELETE ${type}/${id}`, (options) => this.client.delete({ resourceType: type, id, options: { ...options, headers } }))) as Obj;
    const response = Client.httpFor(result as FhirResource).response;
    return { status: response?.status ?? 200, version: versionOf(response?.headers.get('etag')), lastUpdated: dateOf(response?.headers.get('last-modified')) };
  }

  async transaction(bundle: Bundle): Promise<Bundle> {
    const n = bundle.entry?.length ?? 0;
    return (await this.call(`POST transaction (${n} entries)`, (options) =>
      this.client.transaction({ body: bundle as unknown as FhirResource, options: { ...options, headers: { prefer: 'return=representation' } } }),
    )) as unknown as Bundle;
  }

  /**
   * A Bundle by path or absolute URL (history pages, paging links). A paging link that names
   * the server by another host than ours (a server behind a proxy or in a container) is read
   * from our base URL's host.
   */
  async bundle(pathOrUrl: string): Promise<Bundle> {
    let url = pathOrUrl;
    if (/^https?:\/\//i.test(url)) {
      const ours = new URL(this.baseUrl);
      const theirs = new URL(url);
      if (theirs.origin !== ours.origin) url = `${ours.origin}${theirs.pathname}${theirs.search}`;
    }
    return (await this.call(`GET ${shorten(url)}`, (options) => this.client.request(url, { options }), true)) as unknown as Bundle;
  }
}

function shorten(url: string): string {
  return url.length > 200 ? `${url.slice(0, 200)}...` : url;
}
