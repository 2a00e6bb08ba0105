type Obj = Record<string, unknown>;

/** References that are absolute URLs under `base` become relative (`Type/id`), in place. */
export function relativizeReferences(resource: Obj, base: string): void {
  const prefix = `${base}/`;
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      const o = v as Obj;
      if (typeof o.reference === 'string' && o.reference.startsWith(prefix)) o.reference = o.reference.slice(prefix.length);
      for (const child of Object.values(o)) if (child && typeof child === 'object') walk(child);
    }
  };
  walk(resource);
}

/** Removes what a server owns from meta (versionId, lastUpdated), in place; an empty meta goes. */
export function stripServerMeta(resource: Obj): void {
  const meta = resource.meta as Obj | undefined;
  if (!meta || typeof meta !== 'object') return;
  delete meta.versionId;
  delete meta.lastUpdated;
  if (!Object.keys(meta).length) delete resource.meta;
}

/** JSON with object keys sorted: equal strings exactly when the content is equal. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Obj)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}
