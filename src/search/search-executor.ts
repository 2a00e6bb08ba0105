import { badRequest } from '../fhir/errors.js';
import type { SqlExecutor } from '../store/database.js';
import type { StoredResource } from '../store/resource-store.js';
import type { AnyCriterion, IncludeRule, SearchRequest } from './search-request.js';
import { criterionSql, keysetCondition, sortExpression, SqlParams, type SortColumnType, type SqlContext } from './search-sql.js';

export interface SearchResult {
  matches: StoredResource[];
  includes: StoredResource[];
  total?: number;
  /** Opaque token for the next page, when there is one. */
  nextCursor?: string;
}

export interface ExecuteOptions extends SqlContext {
  /** Most resources added by _include/_revinclude to one page. */
  maxIncludes: number;
  /** Extra conditions from the access policy, on the searched type. */
  restrictions?: AnyCriterion[];
  /** Limits which included resources may be returned (access policy). */
  includeFilter?: (resources: StoredResource[]) => Promise<StoredResource[]>;
}

interface Cursor {
  v: unknown[];
  s: number;
}

function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify(c)).toString('base64url');
}

function decodeCursor(token: string, keys: number): Cursor {
  try {
    const c = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as Cursor;
    if (Array.isArray(c.v) && c.v.length === keys && Number.isSafeInteger(c.s)) return c;
  } catch {
    // fall through
  }
  throw badRequest('The paging cursor (_cursor) is not valid for this search; start again from the first page', '_cursor');
}

type ResourceRow = { id: string; version: number; last_updated: Date; content: string; seq: number; res_type?: string } & Record<string, unknown>;

const stored = (type: string, r: ResourceRow): StoredResource => ({
  type: r.res_type ?? type,
  id: r.id,
  version: r.version,
  lastUpdated: r.last_updated,
  deleted: false,
  json: r.content,
});

/** Criteria that leave few rows whatever the size of the database: an id, an identifier, a reference. */
function isNarrowing(c: AnyCriterion): boolean {
  if (c.kind === 'compartment' || c.kind === 'id-set') return true;
  if (c.kind !== 'param' || c.modifier === 'missing' || c.modifier === 'not') return false;
  return c.param.type === 'reference' || c.param.code === '_id' || c.param.code === 'identifier';
}

function whereClause(sql: SqlParams, req: SearchRequest, options: ExecuteOptions): string {
  const conditions = [`r.res_type = ${sql.p(req.resourceType)}`, 'NOT r.deleted'];
  const ctx: SqlContext = { ...options, narrowed: req.criteria.some(isNarrowing), criteria: req.criteria.length > 0 };
  for (const c of [...req.criteria, ...(options.restrictions ?? [])]) conditions.push(criterionSql(sql, c, req.resourceType, 'r.id', ctx));
  return conditions.join('\n  AND ');
}

export async function countMatches(exec: SqlExecutor, req: SearchRequest, options: ExecuteOptions): Promise<number> {
  const sql = new SqlParams();
  const where = whereClause(sql, req, options);
  const { rows } = await exec.query<{ n: number }>(`SELECT count(*)::int AS n FROM resource r WHERE ${where}`, sql.values);
  return rows[0].n;
}

export async function executeSearch(exec: SqlExecutor, req: SearchRequest, options: ExecuteOptions): Promise<SearchResult> {
  const onlyCount = req.summary === 'count' || req.count === 0;
  const wantTotal = onlyCount || req.total === 'accurate' || req.total === 'estimate' || (req.total === undefined && !req.cursor);
  if (onlyCount) return { matches: [], includes: [], total: await countMatches(exec, req, options) };

  const sql = new SqlParams();
  const sortKeys = req.sort.map((key, i) => ({ ...sortExpression(sql, key, req.resourceType), descending: key.descending, column: `q.s${i}` }));
  const where = whereClause(sql, req, options);
  const cursor = req.cursor ? decodeCursor(req.cursor, sortKeys.length) : undefined;
  const select = ['r.id', 'r.version', 'r.last_updated', 'r.content', 'r.seq', ...sortKeys.map((k, i) => `${k.expr} AS s${i}`)];
  const inner = `SELECT ${select.join(', ')} FROM resource r WHERE ${where}`;
  const keyset = cursor ? keysetCondition(sql, sortKeys, cursor.v, cursor.s) : 'true';
  const order = [...sortKeys.map((k) => `${k.column} ${k.descending ? 'DESC' : 'ASC'} NULLS LAST`), 'q.seq ASC'].join(', ');
  const text = `SELECT * FROM (${inner}) q WHERE ${keyset} ORDER BY ${order} LIMIT ${sql.p(req.count + 1)}`;
  const { rows } = await exec.query<ResourceRow>(text, sql.values);

  const hasMore = rows.length > req.count;
  const page = hasMore ? rows.slice(0, req.count) : rows;
  const matches = page.map((r) => stored(req.resourceType, r));
  const result: SearchResult = { matches, includes: [] };
  if (hasMore) {
    const last = page[page.length - 1];
    result.nextCursor = encodeCursor({ v: sortKeys.map((_k, i) => cursorValue(last[`s${i}`], sortKeys[i].columnType)), s: last.seq });
  }
  if (wantTotal && req.total !== 'none') {
    result.total = !hasMore && !cursor ? matches.length : await countMatches(exec, req, options);
  }
  if (req.include.length && matches.length) result.includes = await fetchIncludes(exec, req.include, matches, options);
  return result;
}

function cursorValue(v: unknown, type: SortColumnType): unknown {
  if (v === null || v === undefined) return null;
  if (v instanceof Date) return isNaN(v.getTime()) ? (type === 'timestamptz' ? 'infinity' : null) : v.toISOString();
  return v;
}

const MAX_ITERATIONS = 4;

/** _include and _revinclude (with :iterate, a few levels deep), never repeating a resource. */
async function fetchIncludes(exec: SqlExecutor, rules: IncludeRule[], matches: StoredResource[], options: ExecuteOptions): Promise<StoredResource[]> {
  const seen = new Set(matches.map((m) => `${m.type}/${m.id}`));
  const included: StoredResource[] = [];
  let frontier = matches;
  for (let depth = 0; depth < MAX_ITERATIONS && frontier.length && included.length < options.maxIncludes; depth++) {
    const found: StoredResource[] = [];
    for (const rule of rules) {
      if (depth > 0 && !rule.iterate) continue;
      const rows = await includeQuery(exec, rule, frontier, options.maxIncludes - included.length - found.length);
      for (const r of rows) {
        const key = `${r.type}/${r.id}`;
        if (!seen.has(key)) {
          seen.add(key);
          found.push(r);
        }
      }
    }
    const allowed = options.includeFilter ? await options.includeFilter(found) : found;
    included.push(...allowed);
    frontier = allowed;
  }
  return included.slice(0, options.maxIncludes);
}

async function includeQuery(exec: SqlExecutor, rule: IncludeRule, from: StoredResource[], limit: number): Promise<StoredResource[]> {
  if (limit <= 0) return [];
  const sql = new SqlParams();
  const filters: string[] = [];
  if (rule.param) filters.push(`i.param = ${sql.p(rule.param.code)}`);
  if (rule.targetType) filters.push(`i.target_type = ${sql.p(rule.targetType)}`);
  let text: string;
  if (!rule.reverse) {
    const ids = from.filter((r) => r.type === rule.sourceType).map((r) => r.id);
    if (!ids.length) return [];
    text = `SELECT r.res_type, r.id, r.version, r.last_updated, r.content FROM resource r
      WHERE NOT r.deleted AND (r.res_type, r.id) IN (
        SELECT i.target_type, i.target_id FROM idx_reference i
        WHERE i.res_type = ${sql.p(rule.sourceType)} AND i.res_id = ANY(${sql.p(ids)}::text[]) AND i.target_id IS NOT NULL ${filters.map((f) => `AND ${f}`).join(' ')})
      LIMIT ${sql.p(limit)}`;
  } else {
    const targets = from.filter((r) => !rule.param || rule.param.targets.includes(r.type));
    if (!targets.length) return [];
    text = `SELECT r.res_type, r.id, r.version, r.last_updated, r.content FROM resource r
      WHERE r.res_type = ${sql.p(rule.sourceType)} AND NOT r.deleted AND r.id IN (
        SELECT i.res_id FROM idx_reference i
        WHERE i.res_type = ${sql.p(rule.sourceType)} ${filters.map((f) => `AND ${f}`).join(' ')}
          AND (i.target_type, i.target_id) IN (SELECT * FROM unnest(${sql.p(targets.map((t) => t.type))}::text[], ${sql.p(targets.map((t) => t.id))}::text[])))
      ORDER BY r.seq LIMIT ${sql.p(limit)}`;
  }
  const { rows } = await exec.query<ResourceRow>(text, sql.values);
  return rows.map((r) => stored(rule.sourceType, r));
}
