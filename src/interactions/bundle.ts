import { randomUUID } from 'node:crypto';
import type { Bundle, BundleEntry, OperationOutcome, OperationOutcomeIssue } from 'fhir/r4.js';
import { badRequest, FhirError, issue, operationOutcome, preconditionFailed } from '../fhir/errors.js';
import { isResourceType } from '../fhir/resource-types.js';
import type { StoreSession } from '../store/resource-store.js';
import type { RequestContext } from './context.js';
import type { CrudInteractions } from './crud.js';
import type { InteractionRequest, Method } from './dispatch.js';
import { RawJson, RawText, type FhirResponse } from './response.js';

type Obj = Record<string, unknown>;

export interface BundleDeps {
  crud: CrudInteractions;
  transaction<T>(fn: (s: StoreSession) => Promise<T>): Promise<T>;
  dispatch(ctx: RequestContext, req: InteractionRequest, session?: StoreSession): Promise<FhirResponse>;
  maxEntries: number;
}

const METHODS: Method[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];
/** Transaction processing order (R4 3.1.0.11.2): deletes, creates, updates, then reads. */
const ORDER: Record<Method, number> = { DELETE: 0, POST: 1, PUT: 2, PATCH: 2, GET: 3, HEAD: 3 };

const STATUS_TEXT: Record<number, string> = { 200: 'OK', 201: 'Created', 204: 'No Content', 304: 'Not Modified' };

interface ParsedEntry {
  index: number;
  method: Method;
  url: string;
  path: string;
  rawQuery: string;
  fullUrl?: string;
  resource?: Obj;
  body?: unknown;
  request: Obj;
  /** POST in a transaction: the id given to the new resource. */
  presetId?: string;
  /** POST with If-None-Exist that matched: the id of the match. */
  existingId?: string;
  /** Conditional PUT in a transaction: the id it resolved to. */
  resolvedId?: string;
}

/** Each entry parsed, or the error that makes it unusable (a batch reports it, a transaction fails). */
function parseEntries(bundle: Bundle, maxEntries: number, baseUrl: string): (ParsedEntry | FhirError)[] {
  const entries = bundle.entry ?? [];
  if (!Array.isArray(entries)) throw badRequest('Bundle.entry must be an array', 'Bundle.entry');
  if (entries.length > maxEntries) throw badRequest(`The Bundle has ${entries.length} entries; at most ${maxEntries} are accepted in one request`, 'Bundle.entry');
  return entries.map((entry, index) => {
    try {
      return parseEntry(entry, index, baseUrl);
    } catch (err) {
      if (err instanceof FhirError) return err;
      throw err;
    }
  });
}

function parseEntry(entry: BundleEntry, index: number, baseUrl: string): ParsedEntry {
  const where = `Bundle.entry[${index}]`;
  if (!entry || typeof entry !== 'object') throw badRequest(`${where} is not an object`, where);
  const request = entry.request as unknown as Obj | undefined;
  if (!request || typeof request !== 'object') throw badRequest(`${where} has no request (method and url)`, `${where}.request`);
  const method = String(request.method ?? '').toUpperCase() as Method;
  if (!METHODS.includes(method)) throw badRequest(`${where}.request.method must be one of ${METHODS.join(', ')}`, `${where}.request.method`);
  if (typeof request.url !== 'string' || !request.url) throw badRequest(`${where}.request.url is missing`, `${where}.request.url`);
  // An absolute URL on this server is the same as the relative one.
  const url = request.url.startsWith(`${baseUrl}/`) ? request.url.slice(baseUrl.length + 1) : request.url;
  const q = url.indexOf('?');
  const path = (q >= 0 ? url.slice(0, q) : url).replace(/^\/+/, '');
  const rawQuery = q >= 0 ? url.slice(q + 1) : '';
  const resource = entry.resource as Obj | undefined;
  if ((method === 'POST' || method === 'PUT') && (!resource || typeof resource !== 'object')) {
    throw badRequest(`${where} (${method} ${url}) has no resource`, `${where}.resource`);
  }
  let body: unknown = resource;
  if (method === 'PATCH') body = patchBody(resource, where);
  return { index, method, url, path, rawQuery, fullUrl: entry.fullUrl, resource, body, request };
}

/** In a Bundle, a JSON Patch travels as a Binary resource (R4 3.1.0.11.3). */
function patchBody(resource: Obj | undefined, where: string): unknown {
  if (resource?.resourceType === 'Binary' && typeof resource.data === 'string') {
    try {
      return JSON.parse(Buffer.from(resource.data, 'base64').toString('utf8'));
    } catch {
      throw badRequest(`${where}.resource: the Binary does not hold a JSON Patch document`, `${where}.resource.data`);
    }
  }
  throw badRequest(`${where}: a PATCH entry needs a Binary resource holding the JSON Patch (contentType application/json-patch+json)`, `${where}.resource`);
}

function entryRequest(e: ParsedEntry): InteractionRequest {
  const str = (k: string) => (typeof e.request[k] === 'string' ? (e.request[k] as string) : undefined);
  return {
    method: e.method,
    path: e.path,
    rawQuery: e.rawQuery,
    query: [...new URLSearchParams(e.rawQuery)] as [string, string][],
    body: e.body,
    ifMatch: str('ifMatch'),
    ifNoneMatch: str('ifNoneMatch'),
    ifNoneExist: str('ifNoneExist'),
    ifModifiedSince: str('ifModifiedSince'),
  };
}

function responseEntry(r: FhirResponse): BundleEntry {
  const entry: BundleEntry = { response: { status: `${r.status} ${STATUS_TEXT[r.status] ?? ''}`.trim() } };
  if (r.headers.Location) entry.response!.location = r.headers.Location;
  if (r.headers.ETag) entry.response!.etag = r.headers.ETag;
  if (r.headers['Last-Modified']) entry.response!.lastModified = new Date(r.headers['Last-Modified']).toISOString();
  if (r.body) {
    // A body in another media type (CSV) travels in a bundle as a Binary.
    const body =
      r.body instanceof RawJson
        ? JSON.parse(r.body.text)
        : r.body instanceof RawText
          ? { resourceType: 'Binary', contentType: r.body.mediaType, data: Buffer.from(r.body.text).toString('base64') }
          : r.body;
    if ((body as Obj).resourceType === 'OperationOutcome') entry.response!.outcome = body as OperationOutcome;
    else entry.resource = body as BundleEntry['resource'];
  }
  const notes = [...(r.issues ?? []), ...(r.unchanged ? [issue('information', 'informational', 'Unchanged: the content is the same as the current version, so no new version was made')] : [])];
  if (notes.length && !entry.response!.outcome) entry.response!.outcome = operationOutcome(notes);
  return entry;
}

function errorEntry(err: unknown): BundleEntry {
  if (err instanceof FhirError) return { response: { status: String(err.status), outcome: err.outcome } };
  throw err;
}

/** Issue expressions of an entry's error, placed inside the Bundle. */
function locate(err: FhirError, index: number, type: string | undefined): FhirError {
  const prefix = `Bundle.entry[${index}]`;
  const issues: OperationOutcomeIssue[] = err.outcome.issue.map((i) => ({
    ...i,
    diagnostics: `${prefix}: ${i.diagnostics ?? i.details?.text ?? ''}`,
    expression: (i.expression ?? [prefix]).map((x) =>
      x.startsWith('Bundle') ? x : type && x.startsWith(type) ? `${prefix}.resource${x.slice(type.length)}` : `${prefix}.${x}`,
    ),
  }));
  return new FhirError(err.status, operationOutcome(issues), err.headers);
}

export async function processBundle(deps: BundleDeps, ctx: RequestContext, body: unknown): Promise<FhirResponse> {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('POST to the base URL takes a Bundle of type batch or transaction');
  const bundle = body as Bundle;
  if (bundle.resourceType !== 'Bundle') throw badRequest(`POST to the base URL takes a Bundle, not a ${String(bundle.resourceType)}`, 'resourceType');
  if (bundle.type !== 'batch' && bundle.type !== 'transaction') {
    throw badRequest(`Bundle.type must be batch or transaction to be processed, not '${String(bundle.type)}'`, 'Bundle.type');
  }
  const parsed = parseEntries(bundle, deps.maxEntries, ctx.baseUrl);
  let responses: BundleEntry[];
  const accessed: { type: string; id: string }[] = [];
  if (bundle.type === 'batch') {
    responses = await batch(deps, ctx, parsed);
  } else {
    const invalid = parsed.find((e): e is FhirError => e instanceof FhirError);
    if (invalid) throw invalid;
    responses = await transaction(deps, ctx, parsed as ParsedEntry[], accessed);
  }
  const result: Bundle = {
    resourceType: 'Bundle',
    id: randomUUID(),
    type: bundle.type === 'batch' ? 'batch-response' : 'transaction-response',
    meta: { lastUpdated: new Date().toISOString() },
    entry: responses,
  };
  return { status: 200, headers: {}, body: result, accessed };
}

/** Each entry on its own: a failing entry does not stop the others. */
async function batch(deps: BundleDeps, ctx: RequestContext, entries: (ParsedEntry | FhirError)[]): Promise<BundleEntry[]> {
  const out: BundleEntry[] = [];
  for (const e of entries) {
    if (e instanceof FhirError) {
      out.push(errorEntry(e));
      continue;
    }
    if (e.path === '' && e.method === 'POST') {
      out.push(errorEntry(badRequest('A Bundle cannot be nested inside a batch')));
      continue;
    }
    try {
      out.push(responseEntry(await deps.dispatch(ctx, entryRequest(e))));
    } catch (err) {
      out.push(errorEntry(err));
    }
  }
  return out;
}

/**
 * All entries in one database transaction: either all succeed or nothing is stored. Before
 * anything runs, every new resource gets its id, so that references to `urn:uuid:` fullUrls and
 * conditional references (`Patient?identifier=...`) can be rewritten to real ones.
 */
async function transaction(deps: BundleDeps, ctx: RequestContext, entries: ParsedEntry[], accessed: { type: string; id: string }[]): Promise<BundleEntry[]> {
  return deps.transaction(async (session) => {
    const idMap = new Map<string, string>();
    const fullUrls = new Set<string>();
    for (const e of entries) {
      if (e.fullUrl) {
        if (fullUrls.has(e.fullUrl)) throw badRequest(`Bundle.entry[${e.index}].fullUrl '${e.fullUrl}' appears twice`, `Bundle.entry[${e.index}].fullUrl`);
        fullUrls.add(e.fullUrl);
      }
      await assignId(deps, ctx, session, e, idMap);
    }
    for (const e of entries) if (e.resource) await rewriteReferences(deps, ctx, session, e, idMap);

    const responses: BundleEntry[] = new Array(entries.length);
    const ordered = [...entries].sort((a, b) => ORDER[a.method] - ORDER[b.method] || a.index - b.index);
    for (const e of ordered) {
      const type = e.path.split('/')[0];
      try {
        let response: FhirResponse;
        if (e.method === 'POST' && e.existingId) {
          // If-None-Exist matched: nothing is created, the match is returned.
          response = await deps.crud.read(ctx, type, e.existingId, {}, session);
        } else if (e.method === 'POST' && e.presetId) {
          response = await deps.crud.create(ctx, type, e.body, {}, session, e.presetId);
        } else if (e.method === 'PUT' && e.resolvedId) {
          response = await deps.dispatch(ctx, { ...entryRequest(e), path: `${type}/${e.resolvedId}`, query: [], rawQuery: '' }, session);
        } else {
          response = await deps.dispatch(ctx, entryRequest(e), session);
        }
        responses[e.index] = responseEntry(response);
        accessed.push(...(response.accessed ?? []));
      } catch (err) {
        if (err instanceof FhirError) throw locate(err, e.index, type);
        throw err;
      }
    }
    return responses;
  });
}

async function assignId(deps: BundleDeps, ctx: RequestContext, session: StoreSession, e: ParsedEntry, idMap: Map<string, string>): Promise<void> {
  const type = e.path.split('/')[0];
  const key = e.fullUrl ?? `#${e.index}`;
  if (e.method === 'POST') {
    if (!isResourceType(type) || e.path.includes('/')) return;
    const ifNoneExist = typeof e.request.ifNoneExist === 'string' ? e.request.ifNoneExist : undefined;
    if (ifNoneExist) {
      const matches = await deps.crud.findMatches(ctx, session, type, ifNoneExist, `Bundle.entry[${e.index}] If-None-Exist`);
      if (matches.length > 1) throw preconditionFailed(`Bundle.entry[${e.index}]: ${matches.length} ${type} resources match If-None-Exist '${ifNoneExist}'`);
      if (matches.length === 1) {
        e.existingId = matches[0].id;
        idMap.set(key, `${type}/${matches[0].id}`);
        return;
      }
    }
    e.presetId = randomUUID();
    idMap.set(key, `${type}/${e.presetId}`);
  } else if (e.method === 'PUT') {
    if (!isResourceType(type)) return;
    const segments = e.path.split('/');
    if (segments.length === 2) {
      idMap.set(key, `${type}/${segments[1]}`);
    } else if (e.rawQuery && segments.length === 1) {
      const matches = await deps.crud.findMatches(ctx, session, type, e.rawQuery, `Bundle.entry[${e.index}] conditional update`);
      if (matches.length > 1) throw preconditionFailed(`Bundle.entry[${e.index}]: ${matches.length} ${type} resources match '${e.rawQuery}'`);
      const id = matches[0]?.id ?? (typeof e.resource?.id === 'string' ? e.resource.id : randomUUID());
      if (e.resource) {
        if (matches[0] && e.resource.id !== undefined && e.resource.id !== id) {
          throw badRequest(`Bundle.entry[${e.index}]: the id in the resource differs from the id of the matching ${type}/${id}`, `Bundle.entry[${e.index}].resource.id`);
        }
        e.resource.id = id;
      }
      e.resolvedId = id;
      idMap.set(key, `${type}/${id}`);
    }
  }
}

async function rewriteReferences(deps: BundleDeps, ctx: RequestContext, session: StoreSession, e: ParsedEntry, idMap: Map<string, string>): Promise<void> {
  const pending: Obj[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      const o = v as Obj;
      if (typeof o.reference === 'string') pending.push(o);
      for (const child of Object.values(o)) if (child && typeof child === 'object') walk(child);
    }
  };
  walk(e.resource);
  for (const o of pending) {
    const ref = o.reference as string;
    const mapped = idMap.get(ref);
    if (mapped) {
      o.reference = mapped;
    } else if (ref.startsWith('urn:uuid:') || ref.startsWith('urn:oid:')) {
      throw badRequest(`Bundle.entry[${e.index}] refers to ${ref}, which is not the fullUrl of any entry of this transaction`, `Bundle.entry[${e.index}].resource`);
    } else if (/^[A-Z][A-Za-z]+\?/.test(ref)) {
      const [type, query] = [ref.slice(0, ref.indexOf('?')), ref.slice(ref.indexOf('?') + 1)];
      if (!isResourceType(type)) throw badRequest(`Conditional reference '${ref}': this server does not hold ${type} resources`, `Bundle.entry[${e.index}].resource`);
      const matches = await deps.crud.findMatches(ctx, session, type, query, `conditional reference '${ref}'`);
      if (matches.length !== 1) {
        throw preconditionFailed(
          `Bundle.entry[${e.index}]: the conditional reference '${ref}' matches ${matches.length === 0 ? 'no' : matches.length} resources; it must match exactly one`,
        );
      }
      const resolved = `${type}/${matches[0].id}`;
      o.reference = resolved;
      idMap.set(ref, resolved);
    }
  }
}
