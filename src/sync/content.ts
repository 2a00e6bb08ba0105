import { canonicalJson, relativizeReferences, stripServerMeta } from '../fhir/resource-content.js';

/**
 * Resource content as the sync compares and sends it. Two servers never agree on versionId and
 * lastUpdated, and HAPI adds meta.source; everything else must be equal for two versions to count
 * as the same content.
 */
export type Obj = Record<string, unknown>;

/** meta elements that the server owns: never compared, never sent. */
const SERVER_META = new Set(['versionId', 'lastUpdated', 'source']);

function withoutServerMeta(resource: Obj): Obj {
  const meta = resource.meta as Obj | undefined;
  if (!meta || typeof meta !== 'object') return resource;
  const kept = Object.fromEntries(Object.entries(meta).filter(([k]) => !SERVER_META.has(k)));
  const { meta: _m, ...rest } = resource;
  return Object.keys(kept).length ? { ...rest, meta: kept } : rest;
}

/** A string that is equal for two resources exactly when their content is. */
export function contentKey(resource: Obj | string): string {
  const o = typeof resource === 'string' ? (JSON.parse(resource) as Obj) : resource;
  return canonicalJson(withoutServerMeta(o));
}

export function sameContent(a: Obj | string, b: Obj | string): boolean {
  return contentKey(a) === contentKey(b);
}

/** The body of a PUT upstream: our resource without our versionId and lastUpdated. */
export function forUpstream(json: string): Obj {
  const resource = JSON.parse(json) as Obj;
  const meta = resource.meta as Obj | undefined;
  if (meta && typeof meta === 'object') {
    const rest = Object.fromEntries(Object.entries(meta).filter(([k]) => k !== 'versionId' && k !== 'lastUpdated'));
    if (Object.keys(rest).length) resource.meta = rest;
    else delete resource.meta;
  }
  return resource;
}

/**
 * An upstream version as we store it: its versionId and lastUpdated give way to ours (the store
 * sets them), and references written as absolute URLs of the upstream server become relative, as
 * every local reference is.
 */
export function forLocal(resource: Obj, upstreamBase: string): Obj {
  const copy = structuredClone(resource);
  stripServerMeta(copy);
  relativizeReferences(copy, upstreamBase);
  return copy;
}
