import { randomUUID } from 'node:crypto';
import type { SqlExecutor } from '../store/database.js';

/** A bulk export job (table export_job, migration 004). */
export interface ExportJob {
  id: string;
  client: string;
  pseudonymised: boolean;
  level: 'system' | 'patient' | 'group';
  groupId: string | null;
  types: string[];
  since: Date | null;
  request: string;
  baseUrl: string;
  status: 'queued' | 'running' | 'completed' | 'failed';
  transactionTime: Date;
  total: number | null;
  done: number;
  attempts: number;
  leaseOwner: string | null;
  leaseUntil: Date | null;
  error: string | null;
  manifest: string | null;
  createdAt: Date;
  completedAt: Date | null;
}

type JobRow = {
  id: string;
  client: string;
  pseudonymised: boolean;
  level: ExportJob['level'];
  group_id: string | null;
  types: string[];
  since: Date | null;
  request: string;
  base_url: string;
  status: ExportJob['status'];
  transaction_time: Date;
  total: number | null;
  done: number;
  attempts: number;
  lease_owner: string | null;
  lease_until: Date | null;
  error: string | null;
  manifest: string | null;
  created_at: Date;
  completed_at: Date | null;
};

function toJob(r: JobRow): ExportJob {
  return {
    id: r.id,
    client: r.client,
    pseudonymised: r.pseudonymised,
    level: r.level,
    groupId: r.group_id,
    types: r.types,
    since: r.since,
    request: r.request,
    baseUrl: r.base_url,
    status: r.status,
    transactionTime: r.transaction_time,
    total: r.total,
    done: r.done,
    attempts: r.attempts,
    leaseOwner: r.lease_owner,
    leaseUntil: r.lease_until,
    error: r.error,
    manifest: r.manifest,
    createdAt: r.created_at,
    completedAt: r.completed_at,
  };
}

export interface NewJob {
  client: string;
  pseudonymised: boolean;
  level: ExportJob['level'];
  groupId?: string;
  types: string[];
  since?: Date;
  request: string;
  baseUrl: string;
}

/** The jobs and their files in the database: any replica answers the polling of any job. */
export class ExportJobs {
  constructor(private readonly db: SqlExecutor) {}

  async create(job: NewJob): Promise<ExportJob> {
    const { rows } = await this.db.query<JobRow>(
      `INSERT INTO export_job (id, client, pseudonymised, level, group_id, types, since, request, base_url, transaction_time)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now()) RETURNING *`,
      [randomUUID(), job.client, job.pseudonymised, job.level, job.groupId ?? null, job.types, job.since?.toISOString() ?? null, job.request, job.baseUrl],
    );
    return toJob(rows[0]);
  }

  async get(id: string): Promise<ExportJob | undefined> {
    const { rows } = await this.db.query<JobRow>('SELECT * FROM export_job WHERE id = $1', [id], { prepare: 'icr_export_get' });
    return rows[0] ? toJob(rows[0]) : undefined;
  }

  /** Deletes a job and its files (cancel); false when it did not exist. */
  async delete(id: string): Promise<boolean> {
    const { rowCount } = await this.db.query('DELETE FROM export_job WHERE id = $1', [id]);
    return rowCount > 0;
  }

  /**
   * Claims the oldest job that is queued, or running under a lease that has expired (its worker
   * died): FOR UPDATE SKIP LOCKED, so replicas never claim the same job. A claimed job restarts
   * from the beginning.
   */
  async claim(owner: string, leaseSeconds: number): Promise<ExportJob | undefined> {
    const { rows } = await this.db.query<JobRow>(
      `UPDATE export_job SET status = 'running', lease_owner = $1, lease_until = now() + make_interval(secs => $2),
         attempts = attempts + 1, done = 0, total = NULL
       WHERE id = (SELECT id FROM export_job WHERE status = 'queued' OR (status = 'running' AND lease_until < now())
                   ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
       RETURNING *`,
      [owner, leaseSeconds],
    );
    return rows[0] ? toJob(rows[0]) : undefined;
  }

  /** Progress, and a longer lease; false when the job is no longer ours (cancelled, or taken over). */
  async progress(id: string, owner: string, done: number, total: number | null, leaseSeconds: number): Promise<boolean> {
    const { rowCount } = await this.db.query(
      `UPDATE export_job SET done = $3, total = COALESCE($4, total), lease_until = now() + make_interval(secs => $5)
       WHERE id = $1 AND lease_owner = $2 AND status = 'running'`,
      [id, owner, done, total, leaseSeconds],
      { prepare: 'icr_export_progress' },
    );
    return rowCount > 0;
  }

  async addFile(jobId: string, file: { name: string; type: string; kind: 'output' | 'error'; count: number; content: string }): Promise<void> {
    await this.db.query('INSERT INTO export_file (job_id, name, res_type, kind, count, content) VALUES ($1, $2, $3, $4, $5, $6)', [
      jobId,
      file.name,
      file.type,
      file.kind,
      file.count,
      file.content,
    ]);
  }

  async clearFiles(jobId: string): Promise<void> {
    await this.db.query('DELETE FROM export_file WHERE job_id = $1', [jobId]);
  }

  async files(jobId: string): Promise<{ name: string; type: string; kind: 'output' | 'error'; count: number }[]> {
    const { rows } = await this.db.query<{ name: string; res_type: string; kind: 'output' | 'error'; count: number }>(
      'SELECT name, res_type, kind, count FROM export_file WHERE job_id = $1 ORDER BY kind DESC, name',
      [jobId],
    );
    return rows.map((r) => ({ name: r.name, type: r.res_type, kind: r.kind, count: r.count }));
  }

  async fileContent(jobId: string, name: string): Promise<string | undefined> {
    const { rows } = await this.db.query<{ content: string }>('SELECT content FROM export_file WHERE job_id = $1 AND name = $2', [jobId, name]);
    return rows[0]?.content;
  }

  async complete(id: string, owner: string, manifest: string): Promise<boolean> {
    const { rowCount } = await this.db.query(
      `UPDATE export_job SET status = 'completed', manifest = $3, completed_at = now(), lease_owner = NULL, lease_until = NULL, done = COALESCE(total, done)
       WHERE id = $1 AND lease_owner = $2 AND status = 'running'`,
      [id, owner, manifest],
    );
    return rowCount > 0;
  }

  async fail(id: string, error: string, owner?: string): Promise<void> {
    await this.db.query(
      `UPDATE export_job SET status = 'failed', error = $2, completed_at = now(), lease_owner = NULL, lease_until = NULL
       WHERE id = $1 AND ($3::text IS NULL OR lease_owner = $3)`,
      [id, error, owner ?? null],
    );
  }

  /** Gives a job back (a worker that stops): queued again, for any worker to take. */
  async release(id: string, owner: string): Promise<void> {
    await this.db.query(`UPDATE export_job SET status = 'queued', lease_owner = NULL, lease_until = NULL, attempts = attempts - 1 WHERE id = $1 AND lease_owner = $2 AND status = 'running'`, [id, owner]);
  }

  /** Removes finished jobs (and their files) older than the retention. */
  async expire(retentionHours: number): Promise<number> {
    const { rowCount } = await this.db.query(
      `DELETE FROM export_job WHERE status IN ('completed', 'failed') AND completed_at < now() - make_interval(hours => $1)`,
      [retentionHours],
    );
    return rowCount;
  }
}
