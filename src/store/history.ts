import { badRequest } from '../fhir/errors.js';
import type { SqlExecutor } from './database.js';
import type { StoredResource } from './resource-store.js';

export interface HistoryQuery {
  type?: string;
  id?: string;
  /** Only versions made at or after this instant. */
  since?: Date;
  count: number;
  /** Opaque token from the previous page. */
  cursor?: string;
}

export interface HistoryEntry extends StoredResource {
  method: string;
}

export interface HistoryPage {
  entries: HistoryEntry[];
  nextCursor?: string;
  total?: number;
}

type Row = { seq: number; res_type: string; id: string; version: number; last_updated: Date; method: string; content: string | null };

/**
 * Versions, newest first. Pages are cut by the global version sequence, so versions written
 * while a client pages through never shift what the next page holds.
 */
export async function readHistory(exec: SqlExecutor, q: HistoryQuery): Promise<HistoryPage> {
  const params: unknown[] = [];
  const p = (v: unknown) => {
    params.push(v);
    return `$${params.length}`;
  };
  const where: string[] = [];
  if (q.type) where.push(`res_type = ${p(q.type)}`);
  if (q.id) where.push(`id = ${p(q.id)}`);
  if (q.since) where.push(`last_updated >= ${p(q.since.toISOString())}::timestamptz`);
  const filter = where.length ? `WHERE ${where.join(' AND ')}` : '';
  let page = filter;
  if (q.cursor) {
    if (!/^\d+$/.test(q.cursor)) throw badRequest('The paging cursor (_cursor) is not valid; start again from the first page', '_cursor');
    page = `${filter ? `${filter} AND` : 'WHERE'} seq < ${p(Number(q.cursor))}`;
  }
  const limit = p(q.count + 1);
  const { rows } = await exec.query<Row>(
    `SELECT seq, res_type, id, version, last_updated, method, content FROM resource_version ${page} ORDER BY seq DESC LIMIT ${limit}`,
    params,
  );
  const hasMore = rows.length > q.count;
  const slice = hasMore ? rows.slice(0, q.count) : rows;
  const entries = slice.map((r) => ({
    type: r.res_type,
    id: r.id,
    version: r.version,
    lastUpdated: r.last_updated,
    deleted: r.method === 'DELETE',
    json: r.content,
    method: r.method,
  }));
  const result: HistoryPage = { entries };
  if (hasMore) result.nextCursor = String(slice[slice.length - 1].seq);
  if (q.id && !q.cursor) result.total = hasMore ? (await exec.query<{ n: number }>(`SELECT count(*)::int AS n FROM resource_version ${filter}`, params.slice(0, where.length))).rows[0].n : entries.length;
  return result;
}
