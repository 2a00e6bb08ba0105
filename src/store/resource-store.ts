import { createHash } from 'node:crypto';
import type { OperationOutcomeIssue } from 'fhir/r4.js';
import { FhirError, issue, operationOutcome } from '../fhir/errors.js';
import { isResourceType } from '../fhir/resource-types.js';
import { extractIndexRows, extractLinks, INDEX_TABLES, type IndexRows, type Link } from '../search/extract.js';
import type { SearchParameterRegistry } from '../search/parameters.js';
import { executeSearch, type ExecuteOptions, type SearchResult } from '../search/search-executor.js';
import type { AnyCriterion, SearchRequest } from '../search/search-request.js';
import { criterionSql, SqlParams } from '../search/search-sql.js';
import { readHistory, type HistoryPage, type HistoryQuery } from './history.js';
import { isRetryable, sqlState, UNIQUE_VIOLATION, type Database, type SqlExecutor } from './database.js';

export interface StoredResource {
  type: string;
  id: string;
  version: number;
  lastUpdated: Date;
  deleted: boolean;
  /** The resource as stored (meta.versionId and meta.lastUpdated set); null for a deletion. */
  json: string | null;
}

export type WriteMethod = 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface Change {
  type: string;
  id: string;
  version: number;
  method: WriteMethod;
  lastUpdated: Date;
  json: string | null;
  /** Where the change came from: undefined for a client of this server, 'upstream' for sync. */
  origin?: string;
}

/** Runs inside the transaction of a write, after it: the sync outbox hooks in here. */
export type WriteHook = (tx: SqlExecutor, change: Change) => Promise<void>;

export interface StoreOptions {
  refIntegrityOnWrite: boolean;
  refIntegrityOnDelete: boolean;
}

export interface TransactionOptions {
  origin?: string;
  /**
   * false skips the referential integrity check: for changes pulled from upstream, where a
   * resource may arrive before the one it refers to.
   */
  integrity?: boolean;
}

/** Resources whose references are not followed for integrity: an audit trail must outlive what it names. */
const UNLINKED_TYPES = new Set(['AuditEvent']);

const MAX_ATTEMPTS = 5;

type Row = { version: number; last_updated: Date; deleted: boolean; content: string | null };

function toStored(type: string, id: string, row: Row): StoredResource {
  return { type, id, version: row.version, lastUpdated: row.last_updated, deleted: row.deleted, json: row.content };
}

/**
 * Resources, their versions and their search index, on one PostgreSQL database. The store knows
 * nothing of HTTP: the interaction layer decides what a request means, the store keeps it.
 */
/** Runs after a transaction has committed, with the changes it made. */
export type CommitHook = (changes: Change[]) => void;

export class ResourceStore {
  private readonly hooks: WriteHook[] = [];
  private readonly commitHooks: CommitHook[] = [];

  constructor(
    readonly db: Database,
    readonly registry: SearchParameterRegistry,
    readonly options: StoreOptions,
  ) {}

  onWrite(hook: WriteHook): void {
    this.hooks.push(hook);
  }

  onCommit(hook: CommitHook): void {
    this.commitHooks.push(hook);
  }

  /** A session outside any transaction, for reads. */
  reader(): StoreSession {
    return new StoreSession(this.db, this, this.hooks, {});
  }

  /**
   * Runs fn in one database transaction, checks referential integrity before committing, and
   * runs it again from the start when PostgreSQL reports a serialization failure, a deadlock or
   * a concurrent insert of the same id.
   */
  async transaction<T>(fn: (session: StoreSession) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        let session: StoreSession | undefined;
        const result = await this.db.transaction(async (tx) => {
          session = new StoreSession(tx, this, this.hooks, options);
          const value = await fn(session);
          if (options.integrity !== false) await session.checkIntegrity();
          return value;
        });
        if (session!.changes.length) for (const hook of this.commitHooks) hook(session!.changes);
        return result;
      } catch (err) {
        const retry = isRetryable(err) || sqlState(err) === UNIQUE_VIOLATION;
        if (!retry || attempt >= MAX_ATTEMPTS) throw err;
        await new Promise((r) => setTimeout(r, Math.random() * 10 * attempt));
      }
    }
  }
}

function tablesMask(rows: IndexRows, links: unknown[]): number {
  let mask = 0;
  INDEX_TABLES.forEach((t, i) => {
    if (rows[t].length) mask |= 1 << i;
  });
  if (links.length) mask |= 1 << INDEX_TABLES.length;
  return mask;
}

const INSERT_INDEX: Record<string, string> = {
  string: 'INSERT INTO idx_string (res_type, res_id, param, value, exact) SELECT $1, $2, x->>0, x->>1, x->>2',
  token: 'INSERT INTO idx_token (res_type, res_id, param, system, code, text) SELECT $1, $2, x->>0, x->>1, x->>2, x->>3',
  reference:
    'INSERT INTO idx_reference (res_type, res_id, param, target_type, target_id, url, id_system, id_value) SELECT $1, $2, x->>0, x->>1, x->>2, x->>3, x->>4, x->>5',
  date: 'INSERT INTO idx_date (res_type, res_id, param, lo, hi) SELECT $1, $2, x->>0, (x->>1)::timestamptz, (x->>2)::timestamptz',
  number: 'INSERT INTO idx_number (res_type, res_id, param, value, lo, hi) SELECT $1, $2, x->>0, (x->>1)::numeric, (x->>2)::numeric, (x->>3)::numeric',
  quantity:
    'INSERT INTO idx_quantity (res_type, res_id, param, value, lo, hi, system, code, unit) SELECT $1, $2, x->>0, (x->>1)::numeric, (x->>2)::numeric, (x->>3)::numeric, x->>4, x->>5, x->>6',
  uri: 'INSERT INTO idx_uri (res_type, res_id, param, value) SELECT $1, $2, x->>0, x->>1',
  links: 'INSERT INTO ref_link (src_type, src_id, target_type, target_id) SELECT $1, $2, x->>0, x->>1',
};

function deleteIndexCtes(): string[] {
  return [
    ...INDEX_TABLES.map((t) => `d_${t} AS (DELETE FROM idx_${t} WHERE res_type = $1 AND res_id = $2)`),
    'd_links AS (DELETE FROM ref_link WHERE src_type = $1 AND src_id = $2)',
  ];
}

const sqlCache = new Map<string, string>();

/**
 * One statement per write: the resource row, its version row and all its index rows, so that a
 * write costs one round trip and the index can never disagree with the resource.
 */
function writeSql(mode: 'insert' | 'update', mask: number, checkTargets: boolean): string {
  const key = `${mode}:${mask}:${checkTargets}`;
  let sql = sqlCache.get(key);
  if (sql) return sql;
  const ctes: string[] = [];
  if (mode === 'insert') {
    ctes.push(
      `r AS (INSERT INTO resource (res_type, id, version, seq, last_updated, deleted, content)
        VALUES ($1, $2, $3, nextval('resource_seq'), $4, false, $5) RETURNING 1)`,
    );
  } else {
    ctes.push(
      `r AS (UPDATE resource SET version = $3, last_updated = $4, deleted = false, content = $5
        WHERE res_type = $1 AND id = $2 AND version = $8 RETURNING 1)`,
      ...deleteIndexCtes(),
    );
  }
  ctes.push(`v AS (INSERT INTO resource_version (res_type, id, version, last_updated, method, content) VALUES ($1, $2, $3, $4, $6, $5))`);
  [...INDEX_TABLES, 'links'].forEach((t, i) => {
    if (mask & (1 << i)) ctes.push(`i_${t} AS (${INSERT_INDEX[t]} FROM jsonb_array_elements($7::jsonb->'${t}') x)`);
  });
  const withTargets = checkTargets && mask & (1 << INDEX_TABLES.length);
  if (withTargets) {
    // The referenced resources, locked FOR SHARE in the same statement: a concurrent delete of one
    // waits for this transaction and then sees the reference. What is not found yet may still be
    // created later in the same transaction: checkIntegrity looks again at the end.
    ctes.push(`t AS (SELECT res_type || '/' || id AS k FROM resource
      WHERE (res_type, id) IN (SELECT x->>0, x->>1 FROM jsonb_array_elements($7::jsonb->'links') x) AND NOT deleted FOR SHARE)`);
  }
  sql = `WITH ${ctes.join(',\n')} SELECT (SELECT count(*)::int FROM r) AS n${withTargets ? ', ARRAY(SELECT k FROM t) AS found' : ''}`;
  sqlCache.set(key, sql);
  return sql;
}

/** The same index inserts for many resources at once: each row starts with its resource's type and id. */
function bulkIndexInsert(table: string): string {
  const single = INSERT_INDEX[table];
  const [head, select] = single.split(' SELECT $1, $2, ');
  const shifted = select.replace(/x->>(\d+)/g, (_m, n: string) => `x->>${Number(n) + 2}`);
  return `${head} SELECT x->>0, x->>1, ${shifted}`;
}

const BULK_INSERT_SQL = `WITH input AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(res_type text, id text, last_updated timestamptz, content text)),
  r AS (INSERT INTO resource (res_type, id, version, seq, last_updated, deleted, content)
    SELECT res_type, id, 1, nextval('resource_seq'), last_updated, false, content FROM input),
  v AS (INSERT INTO resource_version (res_type, id, version, last_updated, method, content)
    SELECT res_type, id, 1, last_updated, 'POST', content FROM input),
  ${[...INDEX_TABLES, 'links'].map((t) => `i_${t} AS (${bulkIndexInsert(t)} FROM jsonb_array_elements($2::jsonb->'${t}') x)`).join(',\n  ')}
  SELECT count(*)::int AS n FROM input`;

const DELETE_SQL = `WITH r AS (UPDATE resource SET version = $3, last_updated = $4, deleted = true, content = NULL
    WHERE res_type = $1 AND id = $2 AND version = $5 RETURNING 1),
  v AS (INSERT INTO resource_version (res_type, id, version, last_updated, method, content) VALUES ($1, $2, $3, $4, 'DELETE', NULL)),
  ${deleteIndexCtes().join(',\n  ')}
  SELECT count(*)::int AS n FROM r`;

export class StoreSession {
  private readonly pendingLinks = new Map<string, { source: string; link: Link }>();
  private readonly deleted = new Set<string>();
  /** What this session wrote, for the commit hooks. */
  readonly changes: Change[] = [];

  constructor(
    readonly exec: SqlExecutor,
    readonly store: ResourceStore,
    private readonly hooks: WriteHook[],
    private readonly options: TransactionOptions,
  ) {}

  get registry(): SearchParameterRegistry {
    return this.store.registry;
  }

  /**
   * The current row of a resource. `where` adds access-policy criteria: a resource the caller may
   * not see reads as absent, in the same single query.
   */
  async read(type: string, id: string, options: { lock?: boolean; where?: AnyCriterion[] } = {}): Promise<StoredResource | undefined> {
    if (options.where?.length) {
      const sql = new SqlParams();
      const conditions = [`r.res_type = ${sql.p(type)}`, `r.id = ${sql.p(id)}`, ...options.where.map((c) => criterionSql(sql, c, type, 'r.id', { narrowed: true }))];
      const text = `SELECT version, last_updated, deleted, content FROM resource r WHERE ${conditions.join(' AND ')}`;
      // The policy's SQL depends only on the type and the kind of caller: few shapes, each prepared once.
      const { rows } = await this.exec.query<Row>(text, sql.values, { prepare: `icr_rw_${createHash('sha1').update(text).digest('hex').slice(0, 16)}` });
      return rows[0] ? toStored(type, id, rows[0]) : undefined;
    }
    const { rows } = await this.exec.query<Row>(
      `SELECT version, last_updated, deleted, content FROM resource WHERE res_type = $1 AND id = $2${options.lock ? ' FOR UPDATE' : ''}`,
      [type, id],
      { prepare: options.lock ? 'icr_read_lock' : 'icr_read' },
    );
    return rows[0] ? toStored(type, id, rows[0]) : undefined;
  }

  async readVersion(type: string, id: string, version: number): Promise<StoredResource | undefined> {
    const { rows } = await this.exec.query<Row & { method: string }>(
      `SELECT version, last_updated, method = 'DELETE' AS deleted, content FROM resource_version
       WHERE res_type = $1 AND id = $2 AND version = $3`,
      [type, id, version],
    );
    return rows[0] ? toStored(type, id, rows[0]) : undefined;
  }

  search(req: SearchRequest, options: ExecuteOptions): Promise<SearchResult> {
    return executeSearch(this.exec, req, options);
  }

  history(query: HistoryQuery): Promise<HistoryPage> {
    return readHistory(this.exec, query);
  }

  /**
   * Stores a new version of a resource. `previous` is the current row as read (locked) by the
   * caller, or undefined for a resource that does not exist yet. The resource's meta.versionId and
   * meta.lastUpdated are set here.
   */
  async put(resource: Record<string, unknown>, previous: StoredResource | undefined, method: WriteMethod): Promise<StoredResource> {
    const type = String(resource.resourceType);
    const id = String(resource.id);
    const version = (previous?.version ?? 0) + 1;
    const lastUpdated = new Date();
    const meta = { ...((resource.meta as object) ?? {}), versionId: String(version), lastUpdated: lastUpdated.toISOString() };
    // resourceType, id and meta first, as FHIR servers conventionally serialise them.
    const { resourceType: _t, id: _i, meta: _m, ...rest } = resource;
    const stored: Record<string, unknown> = { resourceType: type, id, meta, ...rest };
    const json = JSON.stringify(stored);

    const rows = extractIndexRows(stored, this.registry);
    const links = UNLINKED_TYPES.has(type) ? [] : extractLinks(stored);
    const localLinks = links.filter((l) => !(l.type === type && l.id === id));
    const linkRows = dedupeLinks(localLinks.filter((l) => isResourceType(l.type)));
    const payload = JSON.stringify({ ...rows, links: linkRows });
    const mask = tablesMask(rows, linkRows);
    const params: unknown[] = [type, id, version, lastUpdated.toISOString(), json, method, payload];
    if (previous) params.push(previous.version);
    const mode = previous ? 'update' : 'insert';
    const checkTargets = this.store.options.refIntegrityOnWrite;
    const result = await this.exec.query<{ n: number; found?: string[] }>(writeSql(mode, mask, checkTargets), params, { prepare: `icr_${mode}_${mask}_${checkTargets ? 't' : 'n'}` });
    if (result.rows[0]?.n !== 1) throw concurrentChange(type, id);
    const found = new Set(result.rows[0].found ?? []);
    this.rememberLinks(`${type}/${id}`, localLinks.filter((l) => !found.has(`${l.type}/${l.id}`)));
    this.deleted.delete(`${type}/${id}`);
    const change: Change = { type, id, version, method, lastUpdated, json, origin: this.options.origin };
    this.changes.push(change);
    for (const hook of this.hooks) await hook(this.exec, change);
    return { type, id, version, lastUpdated, deleted: false, json };
  }

  /**
   * Creates many new resources in one statement (server-made ones such as audit events, whose
   * ids are fresh UUIDs): no integrity check of their references, hooks run for each.
   */
  async insertMany(resources: Record<string, unknown>[]): Promise<void> {
    if (!resources.length) return;
    const lastUpdated = new Date();
    const rows: Record<string, unknown>[] = [];
    const index: Record<string, unknown[][]> = Object.fromEntries([...INDEX_TABLES, 'links'].map((t) => [t, []]));
    const changes: Change[] = [];
    for (const resource of resources) {
      const type = String(resource.resourceType);
      const id = String(resource.id);
      const { resourceType: _t, id: _i, meta: _m, ...rest } = resource;
      const stored = { resourceType: type, id, meta: { ...((resource.meta as object) ?? {}), versionId: '1', lastUpdated: lastUpdated.toISOString() }, ...rest };
      const json = JSON.stringify(stored);
      rows.push({ res_type: type, id, last_updated: lastUpdated.toISOString(), content: json });
      const extracted = extractIndexRows(stored, this.registry);
      for (const t of INDEX_TABLES) for (const row of extracted[t]) index[t].push([type, id, ...row]);
      if (!UNLINKED_TYPES.has(type)) {
        for (const [lt, li] of dedupeLinks(extractLinks(stored).filter((l) => isResourceType(l.type)))) index.links.push([type, id, lt, li]);
      }
      changes.push({ type, id, version: 1, method: 'POST', lastUpdated, json, origin: this.options.origin });
    }
    await this.exec.query(BULK_INSERT_SQL, [JSON.stringify(rows), JSON.stringify(index)]);
    this.changes.push(...changes);
    for (const change of changes) for (const hook of this.hooks) await hook(this.exec, change);
  }

  /** Marks a resource deleted (a new version without content); its index rows go. */
  async delete(previous: StoredResource): Promise<StoredResource> {
    const { type, id } = previous;
    const version = previous.version + 1;
    const lastUpdated = new Date();
    const result = await this.exec.query<{ n: number }>(DELETE_SQL, [type, id, version, lastUpdated.toISOString(), previous.version], { prepare: 'icr_delete' });
    if (result.rows[0]?.n !== 1) throw concurrentChange(type, id);
    this.deleted.add(`${type}/${id}`);
    const change: Change = { type, id, version, method: 'DELETE', lastUpdated, json: null, origin: this.options.origin };
    this.changes.push(change);
    for (const hook of this.hooks) await hook(this.exec, change);
    return { type, id, version, lastUpdated, deleted: true, json: null };
  }

  private rememberLinks(source: string, links: Link[]): void {
    if (!this.store.options.refIntegrityOnWrite) return;
    for (const link of links) {
      const key = `${link.type}/${link.id}`;
      if (!this.pendingLinks.has(key)) this.pendingLinks.set(key, { source, link });
    }
  }

  /**
   * Referential integrity, checked once all writes of the transaction are done, so that a
   * transaction Bundle may create a resource after another that refers to it. Targets are locked
   * FOR SHARE: a concurrent delete of one of them waits for us, and then sees our reference.
   */
  async checkIntegrity(): Promise<void> {
    const issues: OperationOutcomeIssue[] = [];
    let status = 422;
    if (this.pendingLinks.size) {
      const pending = [...this.pendingLinks.values()];
      const held = pending.filter((p) => isResourceType(p.link.type));
      for (const p of pending.filter((x) => !isResourceType(x.link.type))) {
        issues.push(
          issue(
            'error',
            'not-found',
            `${p.link.path} refers to ${p.link.type}/${p.link.id}, but this server does not hold ${p.link.type} resources; refer to resources held elsewhere by their absolute URL`,
            p.link.path,
          ),
        );
      }
      if (held.length) {
        const { rows } = await this.exec.query<{ res_type: string; id: string }>(
          `SELECT res_type, id FROM resource
           WHERE (res_type, id) IN (SELECT * FROM unnest($1::text[], $2::text[])) AND NOT deleted FOR SHARE`,
          [held.map((p) => p.link.type), held.map((p) => p.link.id)],
          { prepare: 'icr_targets' },
        );
        const found = new Set(rows.map((r) => `${r.res_type}/${r.id}`));
        for (const p of held) {
          const key = `${p.link.type}/${p.link.id}`;
          if (!found.has(key)) issues.push(issue('error', 'not-found', `${p.link.path} refers to ${key}, which does not exist on this server`, p.link.path));
        }
      }
    }
    if (!issues.length && this.deleted.size && this.store.options.refIntegrityOnDelete) {
      const keys = [...this.deleted].map((k) => k.split('/'));
      const { rows } = await this.exec.query<{ src_type: string; src_id: string; target_type: string; target_id: string }>(
        `SELECT DISTINCT src_type, src_id, target_type, target_id FROM ref_link
         WHERE (target_type, target_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
         ORDER BY target_type, target_id, src_type, src_id LIMIT 100`,
        [keys.map((k) => k[0]), keys.map((k) => k[1])],
      );
      const byTarget = new Map<string, string[]>();
      for (const r of rows) {
        const target = `${r.target_type}/${r.target_id}`;
        byTarget.set(target, [...(byTarget.get(target) ?? []), `${r.src_type}/${r.src_id}`]);
      }
      for (const [target, sources] of byTarget) {
        status = 409;
        issues.push(
          issue(
            'error',
            'conflict',
            `${target} cannot be deleted: ${sources.join(', ')} refer${sources.length === 1 ? 's' : ''} to it; change or delete ${sources.length === 1 ? 'that resource' : 'those resources'} first`,
          ),
        );
      }
    }
    if (issues.length) throw new FhirError(status, operationOutcome(issues));
  }
}

function dedupeLinks(links: Link[]): [string, string][] {
  const seen = new Set<string>();
  const out: [string, string][] = [];
  for (const l of links) {
    const key = `${l.type}/${l.id}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push([l.type, l.id]);
    }
  }
  return out;
}

function concurrentChange(type: string, id: string): FhirError {
  return new FhirError(409, operationOutcome([issue('error', 'conflict', `${type}/${id} was changed by another request at the same time; read it again and retry`)]));
}
