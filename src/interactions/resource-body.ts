import { badRequest } from '../fhir/errors.js';
import { ID_PATTERN } from '../fhir/references.js';
import type { RequestContext } from './context.js';
import { canonicalJson, relativizeReferences, stripServerMeta } from '../fhir/resource-content.js';

type Obj = Record<string, unknown>;

/** Checks that a request body is a resource of the type in the URL, and makes a working copy. */
export function resourceFromBody(body: unknown, type: string): Obj {
  if (body === undefined || body === null) throw badRequest(`The request has no body: send a ${type} resource as JSON`);
  if (typeof body !== 'object' || Array.isArray(body)) throw badRequest(`The body must be a JSON object (a ${type} resource)`);
  const resourceType = (body as Obj).resourceType;
  if (typeof resourceType !== 'string') throw badRequest(`The body has no resourceType: send a ${type} resource`, 'resourceType');
  if (resourceType !== type) throw badRequest(`The body is a ${resourceType} but the URL is for ${type}`, 'resourceType');
  return structuredClone(body) as Obj;
}

export function checkId(id: string, where = 'id'): void {
  if (!ID_PATTERN.test(id)) {
    throw badRequest(`'${id}' is not a valid resource id: use 1 to 64 letters, digits, '-' and '.'`, where);
  }
}

/**
 * Absolute references to this server become relative (`Type/id`), as HAPI stores them, so that
 * search, integrity and sync see one form whatever base URL the client used.
 */
export function relativeToServer(resource: Obj, ctx: RequestContext): void {
  relativizeReferences(resource, ctx.baseUrl);
}

/** Content equality ignoring versionId and lastUpdated: an update that changes nothing makes no version. */
export function sameContent(a: Obj, storedJson: string): boolean {
  return canonicalJson(withoutServerMeta(a)) === canonicalJson(withoutServerMeta(JSON.parse(storedJson) as Obj));
}

function withoutServerMeta(o: Obj): Obj {
  if (!o.meta || typeof o.meta !== 'object') return o;
  const copy = { ...o, meta: { ...(o.meta as Obj) } };
  stripServerMeta(copy);
  return copy;
}

/** Parses W/"3", "3" or 3 from If-Match / If-None-Match. */
export function parseEtag(header: string, name: string): number {
  const m = /^(?:W\/)?"?(\d+)"?$/.exec(header.trim());
  if (!m) throw badRequest(`${name}: '${header}' is not a version tag (expected W/"<version>")`, name);
  return Number(m[1]);
}
