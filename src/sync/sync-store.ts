import type { OperationOutcome } from 'fhir/r4.js';
import type { Database, SqlExecutor } from '../store/database.js';
import type { Change } from '../store/resource-store.js';

/**
 * Every SQL statement of the sync (tables of migration 002). Statements that must happen in the
 * transaction of a resource write take the executor of that transaction.
 */

/** A write of a synced type: inserts the resource's outbox row, or moves it on to this version. */
const ENQUEUE = `INSERT INTO sync_outbox (res_type, id, seq, local_version)
  VALUES ($1, $2, nextval('sync_outbox_seq'), $3)
  ON CONFLICT (res_type, id) DO UPDATE SET
    local_version = EXCLUDED.local_version,
    state = CASE WHEN sync_outbox.state = 'conflict' THEN 'conflict' ELSE 'pending' END,
    attempts = CASE WHEN sync_outbox.state = 'parked' THEN 0 ELSE sync_outbox.attempts END,
    next_attempt_at = CASE WHEN sync_outbox.state = 'parked' THEN now() ELSE sync_outbox.next_attempt_at END,
    outcome = CASE WHEN sync_outbox.state = 'parked' THEN NULL ELSE sync_outbox.outcome END,
    changed_at = now()`;

/** An outbox row claimed for sending, with the resource as it is now and what we know upstream. */
export interface PushItem {
  type: string;
  id: string;
  seq: number;
  localVersion: number;
  attempts: number;
  /** A request for this row may have reached upstream without its answer being recorded. */
  wasInDoubt: boolean;
  /** The resource as it is now (what is sent). */
  version: number;
  deleted: boolean;
  json: string | null;
  /** The last upstream version known, and the local version that holds the same content. */
  upstreamVersion?: string;
  upstreamUpdated?: Date;
  upstreamDeleted: boolean;
  syncedVersion?: number;
}

export interface UpstreamSide {
  version?: string;
  lastUpdated?: Date;
  deleted: boolean;
  /** The upstream resource, as JSON (null when deleted). */
  json: string | null;
}

/** What became of one claimed row. */
export type PushResult =
  | { kind: 'recorded'; item: PushItem; localVersion: number; upstreamVersion?: string; upstreamUpdated?: Date; deleted: boolean }
  | { kind: 'conflict'; item: PushItem; upstream: UpstreamSide }
  | { kind: 'parked'; item: PushItem; outcome: OperationOutcome; message: string }
  | { kind: 'retry'; item: PushItem; delayMs: number; message: string; mayHaveApplied: boolean };

export interface SyncStateRow {
  upstreamVersion?: string;
  upstreamUpdated?: Date;
  upstreamDeleted: boolean;
  localVersion: number;
}

export interface OutboxRow {
  state: 'pending' | 'parked' | 'conflict';
  localVersion: number;
  leased: boolean;
}

export interface StatusFigures {
  pending: number;
  oldestPendingAgeSeconds: number;
  parked: number;
  conflicts: number;
  rejected: number;
  lastPushAt?: Date;
  lastPullAt?: Date;
  lastContactAt?: Date;
  reachable?: boolean;
  lastError?: string;
  lastErrorAt?: Date;
}

export interface ConflictRow {
  type: string;
  id: string;
  detectedBy: string;
  detectedAt: Date;
  upstream: UpstreamSide;
  localVersionAtDetection: number;
  local?: { version: number; deleted: boolean; json: string | null };
}

export interface ParkedRow {
  type: string;
  id: string;
  localVersion: number;
  since: Date;
  message?: string;
  outcome?: OperationOutcome;
}

export interface RejectedRow {
  type: string;
  id: string;
  version: string;
  upstreamUpdated?: Date;
  receivedAt: Date;
  json: string | null;
  outcome: OperationOutcome;
}

const ms = (n: number) => Math.max(0, Math.round(n));
const iso = (d: Date | undefined) => (d ? d.toISOString() : null);
const date = (v: unknown) => (v instanceof Date ? v : v ? new Date(String(v)) : undefined);

export class SyncStore {
  constructor(readonly db: Database) {}

  /** The write hook: runs in the transaction of the write. */
  async enqueue(tx: SqlExecutor, change: Change): Promise<void> {
    await tx.query(ENQUEUE, [change.type, change.id, change.version]);
  }

  /**
   * Claims up to `limit` rows ready to send, oldest first, for `leaseMs`, and returns them with
   * the current resource and what we know of it upstream (one statement). Rows locked by another
   * worker's claim are skipped (FOR UPDATE SKIP LOCKED), rows leased by a live worker are not
   * ready: one resource is never in flight twice.
   */
  async claim(limit: number, owner: string, leaseMs: number): Promise<PushItem[]> {
    const { rows } = await this.db.query<{
      res_type: string;
      id: string;
      seq: number;
      local_version: number;
      attempts: number;
      was_in_doubt: boolean;
      version: number;
      deleted: boolean;
      content: string | null;
      upstream_version: string | null;
      upstream_updated: Date | null;
      upstream_deleted: boolean | null;
      synced_version: number | null;
    }>(
      `WITH ready AS (
         SELECT res_type, id, in_doubt FROM sync_outbox
         WHERE state = 'pending' AND next_attempt_at <= now() AND (lease_until IS NULL OR lease_until < now())
         ORDER BY seq LIMIT $1
         FOR UPDATE SKIP LOCKED),
       claimed AS (
         UPDATE sync_outbox o SET lease_owner = $2, lease_until = now() + $3::int * interval '1 millisecond',
           attempts = o.attempts + 1, in_doubt = true
         FROM ready WHERE o.res_type = ready.res_type AND o.id = ready.id
         RETURNING o.res_type, o.id, o.seq, o.local_version, o.attempts, ready.in_doubt AS was_in_doubt)
       SELECT c.*, r.version, r.deleted, r.content, s.upstream_version, s.upstream_updated, s.upstream_deleted, s.local_version AS synced_version
       FROM claimed c
       JOIN resource r ON r.res_type = c.res_type AND r.id = c.id
       LEFT JOIN sync_state s ON s.res_type = c.res_type AND s.id = c.id
       ORDER BY c.seq`,
      [limit, owner, ms(leaseMs)],
      { prepare: 'icr_sync_claim' },
    );
    return rows.map((f) => ({
      type: f.res_type,
      id: f.id,
      seq: f.seq,
      localVersion: f.local_version,
      attempts: f.attempts,
      wasInDoubt: f.was_in_doubt,
      version: f.version,
      deleted: f.deleted,
      json: f.content,
      upstreamVersion: f.upstream_version ?? undefined,
      upstreamUpdated: date(f.upstream_updated),
      upstreamDeleted: f.upstream_deleted ?? false,
      syncedVersion: f.synced_version ?? undefined,
    }));
  }

  /** Keeps the lease on rows still being worked on. */
  async renew(owner: string, items: { type: string; id: string }[], leaseMs: number): Promise<void> {
    if (!items.length) return;
    await this.db.query(
      `UPDATE sync_outbox o SET lease_until = now() + $4::int * interval '1 millisecond'
       FROM unnest($1::text[], $2::text[]) AS k(res_type, id)
       WHERE o.res_type = k.res_type AND o.id = k.id AND o.lease_owner = $3`,
      [items.map((i) => i.type), items.map((i) => i.id), owner, ms(leaseMs)],
    );
  }

  /**
   * Lets go of claimed rows whose round failed half-way (the database, a bug). They stay in doubt
   * (set by the claim): a request for them may have gone out.
   */
  async release(owner: string, items: { type: string; id: string }[]): Promise<void> {
    if (!items.length) return;
    await this.db.query(
      `UPDATE sync_outbox o SET lease_owner = NULL, lease_until = NULL
       FROM unnest($1::text[], $2::text[]) AS k(res_type, id)
       WHERE o.res_type = k.res_type AND o.id = k.id AND o.lease_owner = $3`,
      [items.map((i) => i.type), items.map((i) => i.id), owner],
    );
  }

  /** Local versions from `from` on, newest first, with their content (null for a deletion). */
  async localVersions(exec: SqlExecutor, type: string, id: string, from: number): Promise<{ version: number; json: string | null }[]> {
    const { rows } = await exec.query<{ version: number; content: string | null }>(
      `SELECT version, content FROM resource_version WHERE res_type = $1 AND id = $2 AND version >= $3 ORDER BY version DESC LIMIT 50`,
      [type, id, Math.max(1, from)],
    );
    return rows.map((r) => ({ version: r.version, json: r.content }));
  }

  /**
   * Records what became of a claim. The common case (everything recorded as pushed) is one
   * statement; conflicts, parked rows and retries add theirs, all in one transaction.
   */
  async applyPushResults(owner: string, results: PushResult[]): Promise<void> {
    if (!results.length) return;
    const recorded = results.filter((r): r is Extract<PushResult, { kind: 'recorded' }> => r.kind === 'recorded');
    const record = async (exec: SqlExecutor) => {
      if (!recorded.length) return;
      // The upstream version and the local version it holds; seen, so the pull does not apply it.
      // The outbox row goes when that version is still the latest local one, else it is released
      // to be sent again at once.
      await exec.query(
        `WITH k AS (
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::boolean[], $6::int[])
             AS k(res_type, id, upstream_version, upstream_updated, deleted, local_version)),
         st AS (
           INSERT INTO sync_state (res_type, id, upstream_version, upstream_updated, upstream_deleted, local_version, synced_at)
           SELECT res_type, id, upstream_version, upstream_updated, deleted, local_version, now() FROM k
           ON CONFLICT (res_type, id) DO UPDATE SET upstream_version = EXCLUDED.upstream_version, upstream_updated = EXCLUDED.upstream_updated,
             upstream_deleted = EXCLUDED.upstream_deleted, local_version = EXCLUDED.local_version, synced_at = now()
           WHERE sync_state.local_version <= EXCLUDED.local_version),
         seen AS (
           INSERT INTO sync_seen (res_type, id, version, upstream_updated)
           SELECT res_type, id, upstream_version, upstream_updated FROM k WHERE upstream_version IS NOT NULL
           ON CONFLICT DO NOTHING),
         done AS (
           DELETE FROM sync_outbox o USING k
           WHERE o.res_type = k.res_type AND o.id = k.id AND o.local_version = k.local_version AND o.state = 'pending'
           RETURNING o.res_type, o.id),
         again AS (
           UPDATE sync_outbox o SET lease_owner = NULL, lease_until = NULL, attempts = 0, in_doubt = false, next_attempt_at = now(), last_error = NULL
           FROM k WHERE o.res_type = k.res_type AND o.id = k.id AND o.lease_owner = $7
             AND NOT EXISTS (SELECT 1 FROM done WHERE done.res_type = o.res_type AND done.id = o.id)),
         status AS (UPDATE sync_status SET last_push_at = now() WHERE id = 1)
         SELECT 1`,
        [
          recorded.map((r) => r.item.type),
          recorded.map((r) => r.item.id),
          recorded.map((r) => r.upstreamVersion ?? null),
          recorded.map((r) => iso(r.upstreamUpdated)),
          recorded.map((r) => r.deleted),
          recorded.map((r) => r.localVersion),
          owner,
        ],
        { prepare: 'icr_sync_record' },
      );
    };
    if (recorded.length === results.length) return record(this.db);
    await this.db.transaction(async (tx) => {
      await record(tx);
      for (const r of results) {
        if (r.kind === 'conflict') {
          await this.upsertConflict(tx, r.item.type, r.item.id, r.upstream, r.item.version, 'push');
          await tx.query(
            `UPDATE sync_outbox SET state = 'conflict', lease_owner = NULL, lease_until = NULL, attempts = 0, in_doubt = false,
               last_error = 'changed upstream too', changed_at = now()
             WHERE res_type = $1 AND id = $2`,
            [r.item.type, r.item.id],
          );
        } else if (r.kind === 'parked') {
          // Parked only if nothing newer was written meanwhile: a newer version gets its own try.
          await tx.query(
            `UPDATE sync_outbox SET
               state = CASE WHEN local_version = $3 THEN 'parked' ELSE state END,
               outcome = CASE WHEN local_version = $3 THEN $4 ELSE outcome END,
               last_error = $5, lease_owner = NULL, lease_until = NULL, in_doubt = false,
               attempts = CASE WHEN local_version = $3 THEN attempts ELSE 0 END,
               next_attempt_at = now(), changed_at = now()
             WHERE res_type = $1 AND id = $2 AND lease_owner = $6`,
            [r.item.type, r.item.id, r.item.version, JSON.stringify(r.outcome), r.message.slice(0, 2000), owner],
          );
        }
      }
      const retries = results.filter((r): r is Extract<PushResult, { kind: 'retry' }> => r.kind === 'retry');
      if (retries.length) {
        await tx.query(
          `UPDATE sync_outbox o SET lease_owner = NULL, lease_until = NULL, next_attempt_at = now() + k.delay * interval '1 millisecond',
             last_error = k.message, in_doubt = k.in_doubt
           FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::boolean[]) AS k(res_type, id, delay, message, in_doubt)
           WHERE o.res_type = k.res_type AND o.id = k.id AND o.lease_owner = $6`,
          [
            retries.map((r) => r.item.type),
            retries.map((r) => r.item.id),
            retries.map((r) => ms(r.delayMs)),
            retries.map((r) => r.message.slice(0, 2000)),
            retries.map((r) => r.item.wasInDoubt || r.mayHaveApplied),
            owner,
          ],
        );
      }
    });
  }

  // --- pull side: inside the store transaction that writes the pulled version ---

  async wasSeen(exec: SqlExecutor, type: string, id: string, version: string): Promise<boolean> {
    const { rows } = await exec.query(
      `SELECT 1 FROM sync_seen WHERE res_type = $1 AND id = $2 AND version = $3
       UNION ALL SELECT 1 FROM sync_rejected WHERE res_type = $1 AND id = $2 AND version = $3 LIMIT 1`,
      [type, id, version],
    );
    return rows.length > 0;
  }

  async state(exec: SqlExecutor, type: string, id: string, lock = false): Promise<SyncStateRow | undefined> {
    const { rows } = await exec.query<{ upstream_version: string | null; upstream_updated: Date | null; upstream_deleted: boolean; local_version: number }>(
      `SELECT upstream_version, upstream_updated, upstream_deleted, local_version FROM sync_state WHERE res_type = $1 AND id = $2${lock ? ' FOR UPDATE' : ''}`,
      [type, id],
    );
    const r = rows[0];
    return r ? { upstreamVersion: r.upstream_version ?? undefined, upstreamUpdated: date(r.upstream_updated), upstreamDeleted: r.upstream_deleted, localVersion: r.local_version } : undefined;
  }

  async outboxRow(exec: SqlExecutor, type: string, id: string): Promise<OutboxRow | undefined> {
    const { rows } = await exec.query<{ state: OutboxRow['state']; local_version: number; leased: boolean }>(
      `SELECT state, local_version, (lease_until IS NOT NULL AND lease_until >= now()) AS leased FROM sync_outbox WHERE res_type = $1 AND id = $2 FOR UPDATE`,
      [type, id],
    );
    const r = rows[0];
    return r ? { state: r.state, localVersion: r.local_version, leased: r.leased } : undefined;
  }

  async recordSynced(exec: SqlExecutor, type: string, id: string, s: { upstreamVersion?: string; upstreamUpdated?: Date; deleted: boolean; localVersion: number }): Promise<void> {
    await exec.query(
      `INSERT INTO sync_state (res_type, id, upstream_version, upstream_updated, upstream_deleted, local_version, synced_at)
       VALUES ($1, $2, $3, $4, $5, $6, now())
       ON CONFLICT (res_type, id) DO UPDATE SET upstream_version = EXCLUDED.upstream_version, upstream_updated = EXCLUDED.upstream_updated,
         upstream_deleted = EXCLUDED.upstream_deleted, local_version = EXCLUDED.local_version, synced_at = now()`,
      [type, id, s.upstreamVersion ?? null, iso(s.upstreamUpdated), s.deleted, s.localVersion],
    );
    if (s.upstreamVersion !== undefined) await this.markSeen(exec, type, id, s.upstreamVersion, s.upstreamUpdated);
  }

  async markSeen(exec: SqlExecutor, type: string, id: string, version: string, updated: Date | undefined): Promise<void> {
    await exec.query(`INSERT INTO sync_seen (res_type, id, version, upstream_updated) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, [type, id, version, iso(updated)]);
  }

  async upsertConflict(exec: SqlExecutor, type: string, id: string, upstream: UpstreamSide, localVersion: number, by: 'push' | 'pull'): Promise<void> {
    await exec.query(
      `INSERT INTO sync_conflict (res_type, id, upstream_version, upstream_updated, upstream_deleted, upstream_content, local_version, detected_by, detected_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now())
       ON CONFLICT (res_type, id) DO UPDATE SET upstream_version = EXCLUDED.upstream_version, upstream_updated = EXCLUDED.upstream_updated,
         upstream_deleted = EXCLUDED.upstream_deleted, upstream_content = EXCLUDED.upstream_content, local_version = EXCLUDED.local_version,
         detected_by = EXCLUDED.detected_by, detected_at = now()`,
      [type, id, upstream.version ?? null, iso(upstream.lastUpdated), upstream.deleted, upstream.json, localVersion, by],
    );
  }

  async setOutboxState(exec: SqlExecutor, type: string, id: string, state: OutboxRow['state'], message?: string): Promise<void> {
    await exec.query(
      `UPDATE sync_outbox SET state = $3, lease_owner = NULL, lease_until = NULL, attempts = 0, in_doubt = false, next_attempt_at = now(),
         last_error = $4, outcome = NULL, changed_at = now() WHERE res_type = $1 AND id = $2`,
      [type, id, state, message ?? null],
    );
  }

  async deleteOutbox(exec: SqlExecutor, type: string, id: string): Promise<void> {
    await exec.query('DELETE FROM sync_outbox WHERE res_type = $1 AND id = $2', [type, id]);
  }

  async conflict(exec: SqlExecutor, type: string, id: string): Promise<ConflictRow | undefined> {
    return (await this.conflicts(exec, 1, { type, id }))[0];
  }

  async deleteConflict(exec: SqlExecutor, type: string, id: string): Promise<void> {
    await exec.query('DELETE FROM sync_conflict WHERE res_type = $1 AND id = $2', [type, id]);
  }

  async reject(exec: SqlExecutor, type: string, id: string, version: string, updated: Date | undefined, json: string | null, outcome: OperationOutcome): Promise<void> {
    await exec.query(
      `INSERT INTO sync_rejected (res_type, id, version, upstream_updated, content, outcome) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
      [type, id, version, iso(updated), json, JSON.stringify(outcome)],
    );
  }

  /** A later upstream version was applied: earlier refusals of this resource are history. */
  async supersedeRejected(exec: SqlExecutor, type: string, id: string): Promise<void> {
    await exec.query('UPDATE sync_rejected SET superseded = true WHERE res_type = $1 AND id = $2 AND NOT superseded', [type, id]);
  }

  // --- cursors, leases, status ---

  async cursor(type: string): Promise<Date | undefined> {
    const { rows } = await this.db.query<{ since: Date | null }>('SELECT since FROM sync_cursor WHERE res_type = $1', [type]);
    return date(rows[0]?.since);
  }

  async setCursor(type: string, since: Date): Promise<void> {
    await this.db.query(
      `INSERT INTO sync_cursor (res_type, since, updated_at) VALUES ($1, $2, now())
       ON CONFLICT (res_type) DO UPDATE SET since = greatest(sync_cursor.since, EXCLUDED.since), updated_at = now()`,
      [type, since.toISOString()],
    );
  }

  /** Takes or renews a named lease; false while another owner holds it. */
  async acquireLease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    const { rows } = await this.db.query(
      `INSERT INTO sync_lease (name, owner, until) VALUES ($1, $2, now() + $3::int * interval '1 millisecond')
       ON CONFLICT (name) DO UPDATE SET owner = EXCLUDED.owner, until = EXCLUDED.until
       WHERE sync_lease.owner = EXCLUDED.owner OR sync_lease.until < now()
       RETURNING owner`,
      [name, owner, ms(ttlMs)],
    );
    return rows.length > 0;
  }

  async releaseLease(name: string, owner: string): Promise<void> {
    await this.db.query('DELETE FROM sync_lease WHERE name = $1 AND owner = $2', [name, owner]);
  }

  async recordContact(reachable: boolean, error?: string): Promise<void> {
    await this.db.query(
      `UPDATE sync_status SET reachable = $1,
         last_contact_at = CASE WHEN $1 THEN now() ELSE last_contact_at END,
         last_error = CASE WHEN $2::text IS NULL THEN last_error ELSE $2 END,
         last_error_at = CASE WHEN $2::text IS NULL THEN last_error_at ELSE now() END
       WHERE id = 1`,
      [reachable, error?.slice(0, 2000) ?? null],
    );
  }

  async notePull(): Promise<void> {
    await this.db.query('UPDATE sync_status SET last_pull_at = now() WHERE id = 1');
  }

  /**
   * Forgets seen versions older than anything a poll can read again: before the oldest cursor,
   * less the overlap window and an hour to spare. Returns how many went.
   */
  async pruneSeen(overlapMs: number): Promise<number> {
    const { rowCount } = await this.db.query(
      `DELETE FROM sync_seen WHERE upstream_updated < (SELECT min(since) FROM sync_cursor) - ($1::int + 3600000) * interval '1 millisecond'`,
      [Math.round(overlapMs)],
    );
    return rowCount;
  }

  async status(exec: SqlExecutor = this.db): Promise<StatusFigures> {
    const { rows } = await exec.query<{
      pending: number;
      oldest: number | null;
      parked: number;
      conflicts: number;
      rejected: number;
      last_push_at: Date | null;
      last_pull_at: Date | null;
      last_contact_at: Date | null;
      reachable: boolean | null;
      last_error: string | null;
      last_error_at: Date | null;
    }>(
      `SELECT
         (SELECT count(*)::int FROM sync_outbox WHERE state = 'pending') AS pending,
         (SELECT extract(epoch FROM now() - min(created_at))::float8 FROM sync_outbox WHERE state = 'pending') AS oldest,
         (SELECT count(*)::int FROM sync_outbox WHERE state = 'parked') AS parked,
         (SELECT count(*)::int FROM sync_conflict) AS conflicts,
         (SELECT count(*)::int FROM sync_rejected WHERE NOT superseded) AS rejected,
         s.last_push_at, s.last_pull_at, s.last_contact_at, s.reachable, s.last_error, s.last_error_at
       FROM sync_status s WHERE s.id = 1`,
    );
    const r = rows[0];
    return {
      pending: r.pending,
      oldestPendingAgeSeconds: Math.max(0, r.oldest ?? 0),
      parked: r.parked,
      conflicts: r.conflicts,
      rejected: r.rejected,
      lastPushAt: date(r.last_push_at),
      lastPullAt: date(r.last_pull_at),
      lastContactAt: date(r.last_contact_at),
      reachable: r.reachable ?? undefined,
      lastError: r.last_error ?? undefined,
      lastErrorAt: date(r.last_error_at),
    };
  }

  async conflicts(exec: SqlExecutor, limit: number, only?: { type: string; id: string }): Promise<ConflictRow[]> {
    const { rows } = await exec.query<{
      res_type: string;
      id: string;
      upstream_version: string | null;
      upstream_updated: Date | null;
      upstream_deleted: boolean;
      upstream_content: string | null;
      local_version: number;
      detected_by: string;
      detected_at: Date;
      cur_version: number | null;
      cur_deleted: boolean | null;
      cur_content: string | null;
    }>(
      `SELECT c.*, r.version AS cur_version, r.deleted AS cur_deleted, r.content AS cur_content
       FROM sync_conflict c LEFT JOIN resource r ON r.res_type = c.res_type AND r.id = c.id
       ${only ? 'WHERE c.res_type = $2 AND c.id = $3' : ''}
       ORDER BY c.detected_at, c.res_type, c.id LIMIT $1`,
      only ? [limit, only.type, only.id] : [limit],
    );
    return rows.map((r) => ({
      type: r.res_type,
      id: r.id,
      detectedBy: r.detected_by,
      detectedAt: date(r.detected_at)!,
      localVersionAtDetection: r.local_version,
      upstream: { version: r.upstream_version ?? undefined, lastUpdated: date(r.upstream_updated), deleted: r.upstream_deleted, json: r.upstream_content },
      local: r.cur_version === null ? undefined : { version: r.cur_version, deleted: r.cur_deleted ?? false, json: r.cur_content },
    }));
  }

  async parked(limit: number): Promise<ParkedRow[]> {
    const { rows } = await this.db.query<{ res_type: string; id: string; local_version: number; changed_at: Date; last_error: string | null; outcome: string | null }>(
      `SELECT res_type, id, local_version, changed_at, last_error, outcome FROM sync_outbox WHERE state = 'parked' ORDER BY changed_at, res_type, id LIMIT $1`,
      [limit],
    );
    return rows.map((r) => ({
      type: r.res_type,
      id: r.id,
      localVersion: r.local_version,
      since: date(r.changed_at)!,
      message: r.last_error ?? undefined,
      outcome: r.outcome ? (JSON.parse(r.outcome) as OperationOutcome) : undefined,
    }));
  }

  async rejected(limit: number): Promise<RejectedRow[]> {
    const { rows } = await this.db.query<{ res_type: string; id: string; version: string; upstream_updated: Date | null; received_at: Date; content: string | null; outcome: string }>(
      `SELECT res_type, id, version, upstream_updated, received_at, content, outcome FROM sync_rejected WHERE NOT superseded ORDER BY received_at, res_type, id LIMIT $1`,
      [limit],
    );
    return rows.map((r) => ({
      type: r.res_type,
      id: r.id,
      version: r.version,
      upstreamUpdated: date(r.upstream_updated),
      receivedAt: date(r.received_at)!,
      json: r.content,
      outcome: JSON.parse(r.outcome) as OperationOutcome,
    }));
  }

  /** Parked rows back to pending (an operator fixed the cause upstream); '*' for all. Returns how many. */
  async retryParked(exec: SqlExecutor, type: string, id: string): Promise<number> {
    const all = type === '*';
    const { rowCount } = await exec.query(
      `UPDATE sync_outbox SET state = 'pending', attempts = 0, next_attempt_at = now(), outcome = NULL, changed_at = now()
       WHERE state = 'parked'${all ? '' : ' AND res_type = $1 AND id = $2'}`,
      all ? [] : [type, id],
    );
    return rowCount;
  }

  /**
   * Queues every current resource of these types that was never synced (sync turned on for a
   * database that already holds data). Returns how many were queued.
   */
  async enqueueExisting(types: string[]): Promise<number> {
    const { rowCount } = await this.db.query(
      `INSERT INTO sync_outbox (res_type, id, seq, local_version)
       SELECT r.res_type, r.id, nextval('sync_outbox_seq'), r.version FROM (
         SELECT r.res_type, r.id, r.version FROM resource r
         LEFT JOIN sync_state s ON s.res_type = r.res_type AND s.id = r.id
         WHERE r.res_type = ANY($1::text[]) AND NOT r.deleted AND s.res_type IS NULL
         ORDER BY r.seq) r
       ON CONFLICT (res_type, id) DO NOTHING`,
      [types],
    );
    return rowCount;
  }
}
