/**
 * SMART App Launch scopes, v2 (`patient/Observation.rs`) with the v1 forms mapped
 * (`.read` = rs, `.write` = cud, `.*` = cruds). Granular v2 scopes with a query
 * (`patient/Condition.rs?category=...`) are parsed; their query is kept as search criteria.
 */
export type ScopeContext = 'patient' | 'user' | 'system';
export type Permission = 'c' | 'r' | 'u' | 'd' | 's';

export interface ResourceScope {
  context: ScopeContext;
  /** A resource type, or '*'. */
  type: string;
  permissions: Set<Permission>;
  /** Granular scope restriction, as search parameters. */
  query?: [string, string][];
  raw: string;
}

const SCOPE = /^(patient|user|system)\/([A-Za-z]+|\*)\.(read|write|\*|[cruds]+)(?:\?(.+))?$/;

export function parseScope(raw: string): ResourceScope | undefined {
  const m = SCOPE.exec(raw);
  if (!m) return undefined;
  const [, context, type, perms, query] = m;
  let letters: string;
  if (perms === 'read') letters = 'rs';
  else if (perms === 'write') letters = 'cud';
  else if (perms === '*') letters = 'cruds';
  else {
    // v2 requires the letters in order c, r, u, d, s without repeats.
    if (!/^c?r?u?d?s?$/.test(perms)) return undefined;
    letters = perms;
  }
  return {
    context: context as ScopeContext,
    type,
    permissions: new Set(letters.split('') as Permission[]),
    query: query ? ([...new URLSearchParams(query)] as [string, string][]) : undefined,
    raw,
  };
}

export function parseScopes(scopes: string[]): ResourceScope[] {
  return scopes.map(parseScope).filter((s): s is ResourceScope => s !== undefined);
}

/** The scopes that grant a permission on a type, most permissive context first. */
export function grants(scopes: ResourceScope[], type: string, permission: Permission): ResourceScope[] {
  const order: Record<ScopeContext, number> = { system: 0, user: 1, patient: 2 };
  return scopes.filter((s) => (s.type === '*' || s.type === type) && s.permissions.has(permission)).sort((a, b) => order[a.context] - order[b.context]);
}
