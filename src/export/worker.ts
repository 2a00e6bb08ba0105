import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { patientCompartmentParams } from '../fhir/compartments.js';
import { RESOURCE_TYPES } from '../fhir/resource-types.js';
import type { Logger } from '../logging.js';
import type { SqlExecutor } from '../store/database.js';
import { clientKey } from './key.js';
import { ExportJobs, type ExportJob } from './jobs.js';
import { Pseudonymiser } from './pseudonymise.js';

type Obj = Record<string, unknown>;

/** Held types outside any patient compartment: the directory of providers and the guidelines. */
export const DIRECTORY_TYPES = RESOURCE_TYPES.filter((t) => t !== 'Patient' && patientCompartmentParams(t).length === 0) as string[];

const PAGE = 1000;

export interface WorkerOptions {
  db: SqlExecutor;
  logger: Logger;
  /** The export key (pseudonymised jobs), read when first needed. */
  exportKey: () => Promise<Buffer>;
  fileResources: number;
  leaseSeconds: number;
  retentionHours: number;
  /** How often an idle worker looks for jobs (a kick-off in this process wakes it at once). */
  pollMs?: number;
}

/** Thrown inside a job when it is no longer ours: cancelled (deleted) or taken over. */
class Lost extends Error {}

/** The manifest of a completed job (Bulk Data Access IG v2). */
export interface Manifest {
  transactionTime: string;
  request: string;
  requiresAccessToken: true;
  output: { type: string; url: string; count: number }[];
  error: { type: string; url: string; count: number }[];
  extension?: Record<string, unknown>;
}

export function fileUrl(job: Pick<ExportJob, 'id' | 'baseUrl'>, name: string): string {
  return `${job.baseUrl}/$export-file?_jobId=${encodeURIComponent(job.id)}&_file=${encodeURIComponent(name)}`;
}

/** Which rows of a type a job exports: SQL conditions on `r` (resource) and their parameters. */
interface Scope {
  where: string;
  params: unknown[];
}

/**
 * Runs bulk export jobs in the background of a server (or of `icr export`): claims one at a time
 * with FOR UPDATE SKIP LOCKED, writes NDJSON files into the database page by page, renews its lease
 * with every page. A job whose worker dies is claimed again by any worker once the lease expires,
 * and starts over; one that fails three times is marked failed.
 */
export class ExportWorker {
  readonly owner = `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  readonly jobs: ExportJobs;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private started = false;
  private stopping = false;
  private again = false;
  private lastExpiry = 0;

  constructor(private readonly options: WorkerOptions) {
    this.jobs = new ExportJobs(options.db);
  }

  /** Starts polling for jobs (servers). */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.stopping = false;
    this.wake();
  }

  /** Looks for work now (a kick-off, or a poll that found an expired lease); starts the worker if needed. */
  wake(): void {
    if (!this.started) this.start();
    if (this.stopping) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.running = this.loop().finally(() => {
      this.running = undefined;
      if (this.stopping) return;
      if (this.again) {
        this.again = false;
        this.wake();
      } else {
        this.timer = setTimeout(() => this.wake(), this.options.pollMs ?? 5000);
        this.timer.unref();
      }
    });
  }

  /** Runs jobs until none is waiting. */
  private async loop(): Promise<void> {
    try {
      if (Date.now() - this.lastExpiry > 60_000) {
        this.lastExpiry = Date.now();
        await this.jobs.expire(this.options.retentionHours);
      }
      while (!this.stopping && (await this.runOne())) {
        // next job
      }
    } catch (err) {
      this.options.logger.error({ err }, 'export worker: could not claim a job');
    }
  }

  /** Claims and runs one job; false when there was none. */
  async runOne(): Promise<boolean> {
    const job = await this.jobs.claim(this.owner, this.options.leaseSeconds);
    if (!job) return false;
    if (job.attempts > 3) {
      await this.jobs.fail(job.id, 'The export was interrupted three times (its worker stopped); start a new one', this.owner);
      return true;
    }
    try {
      await this.run(job);
    } catch (err) {
      if (err instanceof Lost) {
        this.options.logger.info({ job: job.id }, 'export job cancelled or taken over');
      } else if (this.stopping) {
        await this.jobs.release(job.id, this.owner).catch(() => undefined);
      } else {
        this.options.logger.error({ err, job: job.id }, 'export job failed');
        await this.jobs.fail(job.id, 'The export failed on the server; start a new one (the server log has the details)', this.owner).catch(() => undefined);
      }
    }
    return true;
  }

  /** Stops after the current page; a job in progress goes back to the queue for another worker. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.started = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private async scopeOf(job: ExportJob): Promise<{ scopes: Map<string, Scope>; directory: Map<string, string[]> | undefined }> {
    const scopes = new Map<string, Scope>();
    if (job.level === 'system') {
      for (const t of job.types) scopes.set(t, { where: '', params: [] });
      return { scopes, directory: undefined };
    }
    let members: string[] | undefined;
    if (job.level === 'group') members = await this.groupMembers(job.groupId!);
    const compartment = job.types.filter((t) => !DIRECTORY_TYPES.includes(t));
    for (const t of compartment) {
      if (t === 'Patient') {
        scopes.set(t, members ? { where: 'AND r.id = ANY($P1::text[])', params: [members] } : { where: '', params: [] });
        continue;
      }
      const params = patientCompartmentParams(t);
      scopes.set(t, {
        where: `AND EXISTS (SELECT 1 FROM idx_reference x WHERE x.res_type = r.res_type AND x.res_id = r.id AND x.param = ANY($P1::text[]) AND x.target_type = 'Patient'${members ? ' AND x.target_id = ANY($P2::text[])' : ''})`,
        params: members ? [params, members] : [params],
      });
    }
    // The providers, organisations and guidelines that the exported resources refer to (and that
    // those refer to), so that references resolve inside the export.
    const wanted = job.types.filter((t) => DIRECTORY_TYPES.includes(t));
    const directory = new Map<string, string[]>();
    if (wanted.length && compartment.length) {
      const values: unknown[] = [];
      const p = (v: unknown) => {
        values.push(v);
        return `$${values.length}`;
      };
      const sql = compartment
        .map((t) => {
          const scope = scopes.get(t)!;
          const where = scope.where.replace(/\$P(\d)(::text\[\])?/g, (_m, n: string) => `${p(scope.params[Number(n) - 1])}::text[]`);
          return `SELECT r.res_type, r.id FROM resource r WHERE r.res_type = ${p(t)} AND NOT r.deleted ${where}`;
        })
        .join(' UNION ALL ');
      const dirParam = p(DIRECTORY_TYPES);
      const { rows } = await this.options.db.query<{ t: string; i: string }>(
        `WITH RECURSIVE src AS (${sql}),
          closure(t, i) AS (
            SELECT DISTINCT l.target_type, l.target_id FROM ref_link l JOIN src s ON l.src_type = s.res_type AND l.src_id = s.id WHERE l.target_type = ANY(${dirParam}::text[])
            UNION
            SELECT l.target_type, l.target_id FROM ref_link l JOIN closure c ON l.src_type = c.t AND l.src_id = c.i WHERE l.target_type = ANY(${dirParam}::text[]))
         SELECT t, i FROM closure`,
        values,
      );
      for (const r of rows) directory.set(r.t, [...(directory.get(r.t) ?? []), r.i]);
    }
    for (const t of wanted) scopes.set(t, { where: 'AND r.id = ANY($P1::text[])', params: [directory.get(t) ?? []] });
    return { scopes, directory };
  }

  /** The patients of a Group: members whose entity is a Patient and who are not inactive. */
  private async groupMembers(groupId: string): Promise<string[]> {
    const { rows } = await this.options.db.query<{ content: string | null }>("SELECT content FROM resource WHERE res_type = 'Group' AND id = $1 AND NOT deleted", [groupId]);
    if (!rows[0]?.content) return [];
    const group = JSON.parse(rows[0].content) as { member?: { entity?: { reference?: string }; inactive?: boolean }[] };
    const ids = new Set<string>();
    for (const m of group.member ?? []) {
      const ref = /^Patient\/([A-Za-z0-9\-.]{1,64})$/.exec(m.entity?.reference ?? '');
      if (ref && m.inactive !== true) ids.add(ref[1]);
    }
    return [...ids];
  }

  /** The SQL of one page of a type: each resource as it was at the transaction time. */
  private pageSql(scope: Scope, since: boolean): string {
    // $1 type, $2 seq cursor, $3 transaction time, $4 page size, [$5 since], then the scope's.
    const base = since ? 5 : 4;
    const where = scope.where.replace(/\$P(\d)/g, (_m, n: string) => `$${base + Number(n)}`);
    const text = `SELECT r.seq, r.id, x.content, x.last_updated FROM resource r
      CROSS JOIN LATERAL (
        SELECT r.content, r.last_updated WHERE r.last_updated <= $3 AND NOT r.deleted
        UNION ALL
        (SELECT v.content, v.last_updated FROM resource_version v
          WHERE r.last_updated > $3 AND v.res_type = r.res_type AND v.id = r.id AND v.last_updated <= $3 ORDER BY v.version DESC LIMIT 1)
      ) x
      WHERE r.res_type = $1 AND r.seq > $2 ${since ? 'AND r.last_updated > $5' : ''} ${where}
      ORDER BY r.seq LIMIT $4`;
    return text;
  }

  private async count(type: string, scope: Scope, job: ExportJob): Promise<number> {
    const base = job.since ? 3 : 2;
    const where = scope.where.replace(/\$P(\d)/g, (_m, n: string) => `$${base + Number(n)}`);
    const params: unknown[] = [type, job.transactionTime.toISOString()];
    if (job.since) params.push(job.since.toISOString());
    const { rows } = await this.options.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM resource r WHERE r.res_type = $1 AND NOT r.deleted AND r.last_updated <= $2 ${job.since ? 'AND r.last_updated > $3' : ''} ${where}`,
      [...params, ...scope.params],
    );
    return rows[0].n;
  }

  private async run(job: ExportJob): Promise<void> {
    const { db, logger } = this.options;
    const started = Date.now();
    await this.jobs.clearFiles(job.id);
    const pseudonymiser = job.pseudonymised ? new Pseudonymiser({ key: clientKey(await this.options.exportKey(), job.client), baseUrl: job.baseUrl }) : undefined;
    const { scopes } = await this.scopeOf(job);
    let total = 0;
    for (const [type, scope] of scopes) total += await this.count(type, scope, job);
    let done = 0;
    if (!(await this.jobs.progress(job.id, this.owner, 0, total, this.options.leaseSeconds))) throw new Lost();
    const output: Manifest['output'] = [];
    const errors: string[] = [];
    for (const [type, scope] of scopes) {
      let cursor = 0;
      let lines: string[] = [];
      let part = 0;
      const flush = async () => {
        if (!lines.length) return;
        part++;
        const name = `${type}.${part}.ndjson`;
        await this.jobs.addFile(job.id, { name, type, kind: 'output', count: lines.length, content: lines.join('\n') + '\n' }).catch((err: unknown) => {
          // The job row is gone (cancelled): the file's foreign key fails.
          if ((err as { code?: string }).code === '23503') throw new Lost();
          throw err;
        });
        output.push({ type, url: fileUrl(job, name), count: lines.length });
        lines = [];
      };
      const text = this.pageSql(scope, !!job.since);
      for (;;) {
        if (this.stopping) throw new Error('worker stopping');
        const params: unknown[] = [type, cursor, job.transactionTime.toISOString(), PAGE];
        if (job.since) params.push(job.since.toISOString());
        const { rows } = await db.query<{ seq: number; id: string; content: string | null; last_updated: Date }>(text, [...params, ...scope.params]);
        if (!rows.length) break;
        cursor = rows[rows.length - 1].seq;
        for (const row of rows) {
          if (row.content === null) continue;
          if (job.since && row.last_updated <= job.since) continue;
          if (!pseudonymiser) {
            lines.push(row.content);
          } else {
            try {
              lines.push(JSON.stringify(pseudonymiser.resource(JSON.parse(row.content) as Obj)));
            } catch (err) {
              errors.push(JSON.stringify({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'exception', diagnostics: `A ${type} could not be pseudonymised and was left out: ${(err as Error).message}` }] }));
            }
          }
          done++;
          if (lines.length >= this.options.fileResources) await flush();
        }
        if (!(await this.jobs.progress(job.id, this.owner, done, null, this.options.leaseSeconds))) throw new Lost();
      }
      await flush();
    }
    const error: Manifest['error'] = [];
    if (errors.length) {
      await this.jobs.addFile(job.id, { name: 'OperationOutcome.1.ndjson', type: 'OperationOutcome', kind: 'error', count: errors.length, content: errors.join('\n') + '\n' });
      error.push({ type: 'OperationOutcome', url: fileUrl(job, 'OperationOutcome.1.ndjson'), count: errors.length });
    }
    const manifest: Manifest = {
      transactionTime: job.transactionTime.toISOString(),
      request: job.request,
      requiresAccessToken: true,
      output,
      error,
    };
    if (job.pseudonymised) manifest.extension = { 'https://fhir.integrated-care.be/bulk/pseudonymised': true };
    if (!(await this.jobs.complete(job.id, this.owner, JSON.stringify(manifest)))) throw new Lost();
    logger.info({ job: job.id, resources: done, ms: Date.now() - started, pseudonymised: job.pseudonymised }, 'export job completed');
  }
}
