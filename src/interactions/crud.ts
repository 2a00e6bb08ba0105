import { randomUUID } from 'node:crypto';
import type { OperationOutcomeIssue } from 'fhir/r4.js';
import jsonpatch from 'fast-json-patch';
import { badRequest, conflict, FhirError, gone, hasErrors, notFound, preconditionFailed, unprocessable } from '../fhir/errors.js';
import type { StoredResource, StoreSession, WriteMethod } from '../store/resource-store.js';
import type { RequestContext } from './context.js';
import { checkId, parseEtag, relativeToServer, resourceFromBody, sameContent } from './resource-body.js';
import { stripServerMeta } from '../fhir/resource-content.js';
import { outcomeResponse, RawJson, versionHeaders, writeResponse, type FhirResponse } from './response.js';
import type { ServiceDeps } from './service-deps.js';
import { isSubsetting, subset } from './subsetting.js';
import type { Summary } from '../search/search-request.js';

type Obj = Record<string, unknown>;

export interface ReadOptions {
  ifNoneMatch?: string;
  ifModifiedSince?: string;
  summary?: Summary;
  elements?: string[];
}

export interface WriteOptions {
  ifMatch?: string;
  ifNoneExist?: string;
  ifNoneMatch?: string;
}

/** read, vread, create, update, patch and delete, plain and conditional. */
export class CrudInteractions {
  constructor(private readonly deps: ServiceDeps) {}

  /** Runs fn in the caller's transaction (bundle entries) or in a new one. */
  inTransaction<T>(session: StoreSession | undefined, fn: (s: StoreSession) => Promise<T>): Promise<T> {
    return session ? fn(session) : this.deps.store.transaction(fn);
  }

  private async visibleOrNotFound(ctx: RequestContext, r: StoredResource | undefined, what: string, s?: StoreSession): Promise<StoredResource> {
    if (r && (await this.deps.policy.visible(ctx, [r], s?.exec)).length) return r;
    throw notFound(`${what} is not known`);
  }

  async read(ctx: RequestContext, type: string, id: string, options: ReadOptions = {}, session?: StoreSession): Promise<FhirResponse> {
    await this.deps.policy.checkInteraction(ctx, 'read', type);
    const where = await this.deps.policy.readRestrictions(ctx, type, session?.exec, id);
    const r = await (session ?? this.deps.store.reader()).read(type, id, { where });
    if (!r) throw notFound(`${type}/${id} is not known`);
    if (r.deleted) throw gone(`${type}/${id} was deleted (version ${r.version - 1} was the last one with content)`);
    const headers = versionHeaders(ctx, r, false);
    if (options.ifNoneMatch && options.ifNoneMatch.trim() !== '*' && safeEtag(options.ifNoneMatch) === r.version) return { status: 304, headers };
    if (options.ifModifiedSince) {
      const since = Date.parse(options.ifModifiedSince);
      if (!Number.isNaN(since) && Math.floor(r.lastUpdated.getTime() / 1000) <= Math.floor(since / 1000)) return { status: 304, headers };
    }
    return { status: 200, headers, body: subsetBody(r.json!, options), accessed: [{ type, id }] };
  }

  async vread(ctx: RequestContext, type: string, id: string, versionText: string, options: ReadOptions = {}, session?: StoreSession): Promise<FhirResponse> {
    await this.deps.policy.checkInteraction(ctx, 'vread', type);
    if (!/^\d{1,9}$/.test(versionText)) throw notFound(`${type}/${id} has no version '${versionText}' (versions are whole numbers)`);
    const reader = session ?? this.deps.store.reader();
    // Visibility is decided on the current version: who may see a resource may see its history.
    const where = await this.deps.policy.readRestrictions(ctx, type, session?.exec, id);
    if (!(await reader.read(type, id, { where }))) throw notFound(`${type}/${id} is not known`);
    const r = await reader.readVersion(type, id, Number(versionText));
    if (!r) throw notFound(`${type}/${id} has no version ${versionText}`);
    if (r.deleted) throw gone(`Version ${versionText} of ${type}/${id} is its deletion`);
    return { status: 200, headers: versionHeaders(ctx, r, false), body: subsetBody(r.json!, options), accessed: [{ type, id }] };
  }

  async create(ctx: RequestContext, type: string, body: unknown, options: WriteOptions = {}, session?: StoreSession, presetId?: string): Promise<FhirResponse> {
    await this.deps.policy.checkInteraction(ctx, 'create', type);
    const resource = this.prepare(ctx, body, type);
    return this.inTransaction(session, async (s) => {
      if (options.ifNoneExist !== undefined) {
        const matches = await this.findMatches(ctx, s, type, options.ifNoneExist, 'If-None-Exist');
        if (matches.length > 1) throw preconditionFailed(`If-None-Exist: ${matches.length} ${type} resources match '${options.ifNoneExist}'; be more specific`);
        if (matches.length === 1) {
          return writeResponse(ctx, 200, matches[0], `${type}/${matches[0].id} already exists and matches If-None-Exist; nothing was created`);
        }
      }
      resource.id = presetId ?? randomUUID();
      const { stored, issues } = await this.checkAndPut(ctx, s, resource, undefined, 'POST');
      return writeResponse(ctx, 201, stored, `Created ${type}/${stored.id}`, issues);
    });
  }

  async update(ctx: RequestContext, type: string, id: string, body: unknown, options: WriteOptions = {}, session?: StoreSession): Promise<FhirResponse> {
    await this.deps.policy.checkInteraction(ctx, 'update', type);
    checkId(id);
    const resource = this.prepare(ctx, body, type);
    if (resource.id === undefined) throw badRequest(`The body has no id: a PUT to ${type}/${id} must carry "id": "${id}"`, `${type}.id`);
    if (resource.id !== id) throw badRequest(`The id in the body ('${String(resource.id)}') differs from the id in the URL ('${id}')`, `${type}.id`);
    return this.inTransaction(session, (s) => this.updateIn(ctx, s, type, id, resource, options, 'PUT'));
  }

  private async updateIn(ctx: RequestContext, s: StoreSession, type: string, id: string, resource: Obj, options: WriteOptions, method: WriteMethod): Promise<FhirResponse> {
    const current = await s.read(type, id, { lock: true });
    const exists = current && !current.deleted;
    if (options.ifMatch !== undefined) {
      const expected = parseEtag(options.ifMatch, 'If-Match');
      if (!exists) throw preconditionFailed(`If-Match: ${type}/${id} does not exist`);
      if (current.version !== expected) {
        await this.visibleOrNotFound(ctx, current, `${type}/${id}`, s);
        throw preconditionFailed(`If-Match: ${type}/${id} is at version ${current.version}, not ${expected}; read it again and reapply your change`);
      }
    }
    if (options.ifNoneMatch?.trim() === '*' && exists) throw preconditionFailed(`If-None-Match: *: ${type}/${id} already exists`);
    if (!exists) {
      if (/^\d+$/.test(id)) {
        throw badRequest(
          `Cannot create ${type}/${id}: ids made only of digits are refused, because the upstream FHIR server (HAPI) reserves them for its own ids; use a UUID or add letters`,
          `${type}.id`,
        );
      }
      const { stored, issues } = await this.checkAndPut(ctx, s, resource, current, method);
      return writeResponse(ctx, 201, stored, `Created ${type}/${id}`, issues);
    }
    if (sameContent(resource, current.json!)) {
      await this.deps.policy.checkWrite(ctx, type, resource, current, s.exec);
      const issues = this.validate(ctx, resource);
      return { ...writeResponse(ctx, 200, current, `${type}/${id} is unchanged: no new version was made`, issues), unchanged: true };
    }
    const { stored, issues } = await this.checkAndPut(ctx, s, resource, current, method);
    return writeResponse(ctx, 200, stored, `Updated ${type}/${id} to version ${stored.version}`, issues);
  }

  async conditionalUpdate(ctx: RequestContext, type: string, query: string, body: unknown, options: WriteOptions = {}, session?: StoreSession): Promise<FhirResponse> {
    await this.deps.policy.checkInteraction(ctx, 'update', type);
    const resource = this.prepare(ctx, body, type);
    return this.inTransaction(session, async (s) => {
      const matches = await this.findMatches(ctx, s, type, query, 'conditional update');
      if (matches.length > 1) throw preconditionFailed(`Conditional update: ${matches.length} ${type} resources match '${query}'; be more specific`);
      if (matches.length === 1) {
        const id = matches[0].id;
        if (resource.id !== undefined && resource.id !== id) {
          throw badRequest(`The id in the body ('${String(resource.id)}') differs from the id of the matching resource (${type}/${id})`, `${type}.id`);
        }
        resource.id = id;
        return this.updateIn(ctx, s, type, id, resource, options, 'PUT');
      }
      if (resource.id !== undefined) {
        checkId(String(resource.id));
        return this.updateIn(ctx, s, type, String(resource.id), resource, options, 'PUT');
      }
      resource.id = randomUUID();
      const { stored, issues } = await this.checkAndPut(ctx, s, resource, undefined, 'PUT');
      return writeResponse(ctx, 201, stored, `Created ${type}/${stored.id}`, issues);
    });
  }

  async patch(ctx: RequestContext, type: string, id: string, patch: unknown, options: WriteOptions = {}, session?: StoreSession): Promise<FhirResponse> {
    await this.deps.policy.checkInteraction(ctx, 'patch', type);
    const operations = checkPatchDocument(patch);
    return this.inTransaction(session, async (s) => {
      const current = await s.read(type, id, { lock: true });
      if (!current || current.deleted) {
        await this.visibleOrNotFound(ctx, current, `${type}/${id}`, s);
        throw current ? gone(`${type}/${id} was deleted`) : notFound(`${type}/${id} is not known`);
      }
      await this.visibleOrNotFound(ctx, current, `${type}/${id}`, s);
      if (options.ifMatch !== undefined) {
        const expected = parseEtag(options.ifMatch, 'If-Match');
        if (current.version !== expected) throw preconditionFailed(`If-Match: ${type}/${id} is at version ${current.version}, not ${expected}`);
      }
      const patched = applyPatch(JSON.parse(current.json!) as Obj, operations);
      if (patched.resourceType !== type || patched.id !== id) throw unprocessable([errorIssue('A patch may not change resourceType or id', `${type}`)]);
      stripServerMeta(patched);
      relativeToServer(patched, ctx);
      if (sameContent(patched, current.json!)) return { ...writeResponse(ctx, 200, current, `${type}/${id} is unchanged: no new version was made`), unchanged: true };
      const { stored, issues } = await this.checkAndPut(ctx, s, patched, current, 'PATCH');
      return writeResponse(ctx, 200, stored, `Patched ${type}/${id} to version ${stored.version}`, issues);
    });
  }

  async conditionalPatch(ctx: RequestContext, type: string, query: string, patch: unknown, options: WriteOptions = {}, session?: StoreSession): Promise<FhirResponse> {
    return this.inTransaction(session, async (s) => {
      const matches = await this.findMatches(ctx, s, type, query, 'conditional patch');
      if (matches.length !== 1) {
        if (!matches.length) throw notFound(`Conditional patch: no ${type} matches '${query}'`);
        throw preconditionFailed(`Conditional patch: ${matches.length} ${type} resources match '${query}'; be more specific`);
      }
      return this.patch(ctx, type, matches[0].id, patch, options, s);
    });
  }

  async delete(ctx: RequestContext, type: string, id: string, options: WriteOptions = {}, session?: StoreSession): Promise<FhirResponse> {
    await this.deps.policy.checkInteraction(ctx, 'delete', type);
    return this.inTransaction(session, async (s) => {
      const current = await s.read(type, id, { lock: true });
      await this.visibleOrNotFound(ctx, current, `${type}/${id}`, s);
      if (current!.deleted) return { status: 204, headers: {} };
      if (options.ifMatch !== undefined) {
        const expected = parseEtag(options.ifMatch, 'If-Match');
        if (current!.version !== expected) throw preconditionFailed(`If-Match: ${type}/${id} is at version ${current!.version}, not ${expected}`);
      }
      await this.deps.policy.checkWrite(ctx, type, undefined, current, s.exec);
      const deleted = await s.delete(current!);
      return deleteResponse(ctx, `Deleted ${type}/${id}`, deleted);
    });
  }

  async conditionalDelete(ctx: RequestContext, type: string, query: string, session?: StoreSession): Promise<FhirResponse> {
    await this.deps.policy.checkInteraction(ctx, 'delete', type);
    return this.inTransaction(session, async (s) => {
      const matches = await this.findMatches(ctx, s, type, query, 'conditional delete');
      if (matches.length > 1) throw preconditionFailed(`Conditional delete: ${matches.length} ${type} resources match '${query}'; be more specific`);
      if (!matches.length) return outcomeResponse(200, `No ${type} matches '${query}': nothing was deleted`);
      return this.delete(ctx, type, matches[0].id, {}, s);
    });
  }

  /** Resources of a type matching a conditional query (at most 2: enough to tell one from many). */
  async findMatches(ctx: RequestContext, s: StoreSession, type: string, query: string, what: string): Promise<StoredResource[]> {
    const params = [...new URLSearchParams(query)] as [string, string][];
    if (!params.length) throw badRequest(`${what}: the search criteria are empty`);
    const req = this.deps.parser.parse(type, params, { defaultCount: 2, maxCount: 2, strict: true });
    req.count = 2;
    req.total = 'none';
    // Same criteria, same lock: two concurrent conditional creates cannot both create.
    await s.exec.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`${type}?${params.map(([k, v]) => `${k}=${v}`).sort().join('&')}`]);
    const restrictions = await this.deps.policy.searchRestrictions(ctx, type, s.exec);
    const result = await s.search(req, { localBase: ctx.baseUrl, maxIncludes: 0, restrictions });
    return result.matches;
  }

  private prepare(ctx: RequestContext, body: unknown, type: string): Obj {
    const resource = resourceFromBody(body, type);
    stripServerMeta(resource);
    relativeToServer(resource, ctx);
    return resource;
  }

  validate(ctx: RequestContext, resource: Obj): OperationOutcomeIssue[] {
    const issues = this.deps.validator.validate(resource, { lang: ctx.lang });
    if (hasErrors(issues)) throw unprocessable(issues);
    // Narrative is advice that nearly every system's data ignores: $validate reports it, writes do not.
    return issues.filter((i) => !i.details?.coding?.some((c) => c.code === 'dom-6'));
  }

  private async checkAndPut(
    ctx: RequestContext,
    s: StoreSession,
    resource: Obj,
    previous: StoredResource | undefined,
    method: WriteMethod,
  ): Promise<{ stored: StoredResource; issues: OperationOutcomeIssue[] }> {
    if (previous && !previous.deleted) await this.visibleOrNotFound(ctx, previous, `${previous.type}/${previous.id}`, s);
    await this.deps.policy.checkWrite(ctx, String(resource.resourceType), resource, previous?.deleted ? undefined : previous, s.exec);
    const issues = this.validate(ctx, resource);
    for (const check of this.deps.writeChecks) issues.push(...(await check(ctx, s, resource, previous?.deleted ? undefined : previous)));
    if (hasErrors(issues)) throw unprocessable(issues);
    const stored = await s.put(resource, previous, method);
    return { stored, issues };
  }
}

function safeEtag(header: string): number | undefined {
  try {
    return parseEtag(header, 'If-None-Match');
  } catch {
    return undefined;
  }
}

function subsetBody(json: string, options: ReadOptions): object | RawJson {
  if (!isSubsetting(options.summary, options.elements)) return new RawJson(json);
  return subset(JSON.parse(json) as Obj, options.summary, options.elements);
}

function deleteResponse(ctx: RequestContext, message: string, deleted: StoredResource): FhirResponse {
  const headers = { ETag: `W/"${deleted.version}"` };
  const accessed = [{ type: deleted.type, id: deleted.id }];
  if (ctx.prefer.return === 'minimal') return { status: 204, headers, accessed };
  return { ...outcomeResponse(200, message), headers, accessed };
}

const errorIssue = (text: string, expression: string): OperationOutcomeIssue => ({ severity: 'error', code: 'invalid', diagnostics: text, details: { text }, expression: [expression] });

type PatchOperation = jsonpatch.Operation;

function checkPatchDocument(patch: unknown): PatchOperation[] {
  if (!Array.isArray(patch)) throw badRequest('A JSON Patch document must be an array of operations (Content-Type: application/json-patch+json)');
  if (!patch.length) throw badRequest('The JSON Patch document has no operations');
  const error = jsonpatch.validate(patch as PatchOperation[]);
  if (error) throw badRequest(`Invalid JSON Patch operation ${error.index ?? 0}: ${describePatchError(error)}`, `[${error.index ?? 0}]`);
  return patch as PatchOperation[];
}

function applyPatch(document: Obj, operations: PatchOperation[]): Obj {
  try {
    return jsonpatch.applyPatch(document, operations, true, false).newDocument as Obj;
  } catch (err) {
    const e = err as jsonpatch.JsonPatchError;
    if (e.name === 'TEST_OPERATION_FAILED') throw conflict(`JSON Patch test operation ${e.index ?? 0} failed: the resource does not hold the tested value`, `[${e.index ?? 0}]`);
    if (e instanceof FhirError) throw e;
    throw unprocessable([errorIssue(`JSON Patch operation ${e.index ?? 0} cannot be applied: ${describePatchError(e)}`, `[${e.index ?? 0}]`)]);
  }
}

function describePatchError(e: jsonpatch.JsonPatchError): string {
  const what: Record<string, string> = {
    SEQUENCE_NOT_AN_ARRAY: 'the document is not an array',
    OPERATION_NOT_AN_OBJECT: 'an operation is not an object',
    OPERATION_OP_INVALID: "'op' must be add, remove, replace, move, copy or test",
    OPERATION_PATH_INVALID: "'path' must be a JSON Pointer string such as /name/0/family",
    OPERATION_FROM_REQUIRED: "'from' is required for move and copy",
    OPERATION_VALUE_REQUIRED: "'value' is required for add, replace and test",
    OPERATION_VALUE_CANNOT_CONTAIN_UNDEFINED: "'value' is not valid JSON",
    OPERATION_PATH_CANNOT_ADD: 'the path cannot be added to',
    OPERATION_PATH_UNRESOLVABLE: 'the path does not exist in the resource',
    OPERATION_FROM_UNRESOLVABLE: "'from' does not exist in the resource",
    OPERATION_PATH_ILLEGAL_ARRAY_INDEX: 'an array index in the path is not a number',
    OPERATION_VALUE_OUT_OF_BOUNDS: 'an array index is beyond the end of the array',
  };
  return what[e.name] ?? e.message.split('\n')[0];
}
