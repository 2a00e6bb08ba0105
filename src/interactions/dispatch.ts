import { badRequest, methodNotAllowed, notFound } from '../fhir/errors.js';
import { baseResourceDefinitions } from '../fhir/definitions.js';
import { isR4ResourceType, isResourceType } from '../fhir/resource-types.js';
import type { StoreSession } from '../store/resource-store.js';
import type { RequestContext } from './context.js';
import type { ConformanceResources } from './conformance.js';
import type { CrudInteractions } from './crud.js';
import type { OperationRegistry, OperationScope } from './operations.js';
import type { FhirResponse } from './response.js';
import type { SearchInteractions } from './search.js';
import { checkId } from './resource-body.js';

export type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** A FHIR request independent of HTTP: what the REST API and bundle entries both produce. */
export interface InteractionRequest {
  method: Method;
  /** Path below the base, without leading slash: '', 'Patient', 'Patient/1/_history/2', ... */
  path: string;
  query: [string, string][];
  body?: unknown;
  /** The raw query string, for conditional interactions. */
  rawQuery: string;
  ifMatch?: string;
  ifNoneMatch?: string;
  ifNoneExist?: string;
  ifModifiedSince?: string;
}

export interface DispatchTargets {
  crud: CrudInteractions;
  search: SearchInteractions;
  operations: OperationRegistry;
  bundle(ctx: RequestContext, body: unknown): Promise<FhirResponse>;
  capabilities(ctx: RequestContext): FhirResponse;
  /** Types served read-only from conformance resources (the Measures), not from the store. */
  conformance?: ConformanceResources;
}

function summaryOptions(query: [string, string][]) {
  const summary = query.find(([k]) => k === '_summary')?.[1];
  const elements = query.find(([k]) => k === '_elements')?.[1];
  if (summary && !['true', 'text', 'data', 'count', 'false'].includes(summary)) throw badRequest(`_summary must be one of true, text, data, false, not '${summary}'`, '_summary');
  return {
    summary: summary as 'true' | 'text' | 'data' | 'false' | undefined,
    elements: elements?.split(',').map((e) => e.trim()).filter(Boolean),
  };
}

const r4TypeNames = () => baseResourceDefinitions().filter((sd) => sd.kind === 'resource' && sd.derivation === 'specialization').map((sd) => sd.type);

function requireType(type: string): void {
  if (!isResourceType(type)) {
    if (isR4ResourceType(type, r4TypeNames)) throw notFound(`This server does not hold ${type} resources`);
    throw notFound(`'${type}' is not a resource type or endpoint of this server`);
  }
}

const allowed = (...methods: string[]) => methodNotAllowed(`Method not allowed here; use ${methods.join(', ')}`);

/**
 * Routes a FHIR request to its interaction. The HTTP layer and batch/transaction entries both go
 * through here, so a bundle entry behaves exactly like the same request sent alone.
 */
export async function dispatch(t: DispatchTargets, ctx: RequestContext, req: InteractionRequest, session?: StoreSession): Promise<FhirResponse> {
  const method = req.method === 'HEAD' ? 'GET' : req.method;
  const segments = req.path.split('/').filter(Boolean).map(decodeURIComponent);
  const [first, second, third, fourth] = segments;

  if (segments.length === 0) {
    if (method === 'POST') {
      if (session) throw badRequest('A Bundle cannot be nested inside a batch or transaction');
      return t.bundle(ctx, req.body);
    }
    throw allowed('POST (batch or transaction Bundle)');
  }
  if (first.startsWith('$')) return operation(t, ctx, req, first.slice(1), 'system', undefined, undefined, session);
  if (segments.length === 1 && first === 'metadata') {
    if (method !== 'GET') throw allowed('GET');
    return t.capabilities(ctx);
  }
  if (segments.length === 1 && first === '_history') {
    if (method !== 'GET') throw allowed('GET');
    return t.search.history(ctx, undefined, undefined, req.query, session);
  }

  const type = first;
  if (t.conformance?.handles(type)) return conformanceRoute(t, t.conformance, ctx, req, segments, session);
  requireType(type);
  if (segments.length === 1) {
    switch (method) {
      case 'GET':
        return t.search.search(ctx, type, req.query, session);
      case 'POST':
        return t.crud.create(ctx, type, req.body, { ifNoneExist: req.ifNoneExist }, session);
      case 'PUT':
        if (!req.rawQuery) throw badRequest(`PUT ${type} needs an id (PUT ${type}/<id>) or search criteria (conditional update: PUT ${type}?identifier=...)`);
        return t.crud.conditionalUpdate(ctx, type, req.rawQuery, req.body, { ifMatch: req.ifMatch }, session);
      case 'DELETE':
        if (!req.rawQuery) throw badRequest(`DELETE ${type} needs an id or search criteria (conditional delete)`);
        return t.crud.conditionalDelete(ctx, type, req.rawQuery, session);
      case 'PATCH':
        if (!req.rawQuery) throw badRequest(`PATCH ${type} needs an id or search criteria (conditional patch)`);
        return t.crud.conditionalPatch(ctx, type, req.rawQuery, req.body, { ifMatch: req.ifMatch }, session);
    }
  }
  if (segments.length === 2) {
    if (second === '_search') {
      if (method !== 'POST') throw allowed('POST');
      return t.search.search(ctx, type, req.query, session);
    }
    if (second === '_history') {
      if (method !== 'GET') throw allowed('GET');
      return t.search.history(ctx, type, undefined, req.query, session);
    }
    if (second.startsWith('$')) return operation(t, ctx, req, second.slice(1), 'type', type, undefined, session);
    const id = second;
    checkId(id);
    switch (method) {
      case 'GET':
        return t.crud.read(ctx, type, id, { ifNoneMatch: req.ifNoneMatch, ifModifiedSince: req.ifModifiedSince, ...summaryOptions(req.query) }, session);
      case 'PUT':
        return t.crud.update(ctx, type, id, req.body, { ifMatch: req.ifMatch, ifNoneMatch: req.ifNoneMatch }, session);
      case 'PATCH':
        return t.crud.patch(ctx, type, id, req.body, { ifMatch: req.ifMatch }, session);
      case 'DELETE':
        return t.crud.delete(ctx, type, id, { ifMatch: req.ifMatch }, session);
      default:
        throw allowed('GET', 'PUT', 'PATCH', 'DELETE');
    }
  }
  const id = second;
  checkId(id);
  if (segments.length === 3) {
    if (third === '_history') {
      if (method !== 'GET') throw allowed('GET');
      return t.search.history(ctx, type, id, req.query, session);
    }
    if (third.startsWith('$')) return operation(t, ctx, req, third.slice(1), 'instance', type, id, session);
    if (isResourceType(third)) {
      if (method !== 'GET') throw allowed('GET');
      return t.search.search(ctx, third, req.query, session, { type, id });
    }
    requireType(third);
  }
  if (segments.length === 4 && third === '_history' && fourth) {
    if (method !== 'GET') throw allowed('GET');
    return t.crud.vread(ctx, type, id, fourth, summaryOptions(req.query), session);
  }
  throw notFound(`'${req.path}' is not a FHIR endpoint of this server`);
}

/** Read-only conformance types: read, search and their operations; nothing else. */
async function conformanceRoute(
  t: DispatchTargets,
  catalog: ConformanceResources,
  ctx: RequestContext,
  req: InteractionRequest,
  segments: string[],
  session: StoreSession | undefined,
): Promise<FhirResponse> {
  const [type, second, third] = segments;
  if (segments.length === 2 && second.startsWith('$')) return operation(t, ctx, req, second.slice(1), 'type', type, undefined, session);
  if (segments.length === 3 && third.startsWith('$')) {
    checkId(second);
    return operation(t, ctx, req, third.slice(1), 'instance', type, second, session);
  }
  if (segments.length > 2) throw notFound(`'${req.path}' is not a FHIR endpoint of this server: ${type} resources are read-only conformance resources without history`);
  if ((req.method === 'HEAD' ? 'GET' : req.method) !== 'GET') throw methodNotAllowed(`${type} resources are read-only here (conformance resources of the server); use GET`);
  if (segments.length === 1) return catalog.search(ctx, type, req.query);
  checkId(second);
  return catalog.read(ctx, type, second);
}

async function operation(
  t: DispatchTargets,
  ctx: RequestContext,
  req: InteractionRequest,
  name: string,
  scope: OperationScope,
  type: string | undefined,
  id: string | undefined,
  session: StoreSession | undefined,
): Promise<FhirResponse> {
  const op = t.operations.get(name);
  if (!op || !op.scopes.includes(scope) || (type && op.types && !op.types.includes(type))) {
    throw notFound(`The operation $${name} is not supported ${scope === 'system' ? 'at the system level' : `on ${type}${scope === 'instance' ? ' instances' : ''}`}`);
  }
  const method = req.method === 'HEAD' ? 'GET' : req.method;
  const methods = op.methods ?? (op.idempotent ? ['GET', 'POST'] : ['POST']);
  if (!(methods as string[]).includes(method)) throw allowed(methods.join(' or '));
  return op.handler(ctx, { type, id, method: method as 'GET' | 'POST' | 'DELETE', params: req.query, body: req.body, session });
}
