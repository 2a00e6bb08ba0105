import type { Bundle, BundleEntry, OperationOutcome } from 'fhir/r4.js';
import type { Logger } from '../logging.js';
import type { Database } from '../store/database.js';
import { retryDelay, type BackoffPolicy } from './backoff.js';
import { forUpstream, sameContent } from './content.js';
import type { PushItem, PushResult, SyncStore } from './sync-store.js';
import { entryResult, ifMatch, typeCapability, UpstreamError, type Capabilities, type UpstreamClient, type WriteResult } from './upstream.js';

/**
 * The push side: claims outbox rows, sends them upstream and records what happened.
 *
 * - A PUT carries If-Match on the last upstream version we saw, so an upstream change made
 *   meanwhile is never overwritten: the server refuses (412, or 409 on HAPI) and we look.
 * - Looking ("reconcile") reads the upstream resource. Content equal to one of our unrecorded local
 *   versions means our own earlier request arrived (we crashed, or its answer was lost): that is
 *   recorded, nothing is sent twice. Other content is a conflict, kept for $sync-resolve.
 * - Where If-Match cannot protect (a create whose earlier attempt may have arrived, a delete, a
 *   server without versioned-update) the upstream resource is read before sending.
 * - Network errors, timeouts, 5xx and 429 leave the row for a later attempt (backoff with full
 *   jitter, Retry-After honoured). Other 4xx park the row with the upstream OperationOutcome.
 */
export interface PusherOptions {
  db: Database;
  syncStore: SyncStore;
  upstream: UpstreamClient;
  capabilities: () => Capabilities | undefined;
  logger: Logger;
  owner: string;
  batchSize: number;
  leaseMs: number;
  backoff: BackoffPolicy;
  /** 'auto': transaction Bundles when the upstream supports them. 'single': one request per resource. */
  mode: 'auto' | 'single';
  /** Requests in parallel when sending one resource per request. */
  singleConcurrency: number;
}

export interface PushRound {
  claimed: number;
  recorded: number;
  conflicts: number;
  parked: number;
  retries: number;
  /** The upstream asked us to wait (Retry-After) or could not be reached: how long to pause. */
  pauseMs?: number;
  unreachable: boolean;
}

/** One resource to send: the request, and the upstream version it builds on. */
interface Planned {
  item: PushItem;
  method: 'PUT' | 'DELETE';
  base?: string;
}

/** What to do with a row after looking upstream: a result, or send with this If-Match. */
type Decision = PushResult | { send: string | undefined };

const isResult = (d: Decision): d is PushResult => 'kind' in d;

function count(round: PushRound, r: PushResult): void {
  if (r.kind === 'recorded') round.recorded++;
  else if (r.kind === 'conflict') round.conflicts++;
  else if (r.kind === 'parked') round.parked++;
  else round.retries++;
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const run = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, run));
  return out;
}

export class Pusher {
  /** Largest Bundle the upstream took, learnt when a bigger one was refused and its halves were not. */
  private maxBundle: number;

  constructor(private readonly o: PusherOptions) {
    this.maxBundle = o.batchSize;
  }

  /** One round: claim, send, record. Several rounds may run at once (they claim different rows). */
  async pushOnce(): Promise<PushRound> {
    const round: PushRound = { claimed: 0, recorded: 0, conflicts: 0, parked: 0, retries: 0, unreachable: false };
    const caps = this.o.capabilities();
    if (!caps) return round;
    const items = await this.o.syncStore.claim(this.o.batchSize, this.o.owner, this.o.leaseMs);
    round.claimed = items.length;
    if (!items.length) return round;
    const heartbeat = setInterval(() => {
      this.o.syncStore.renew(this.o.owner, items, this.o.leaseMs).catch((err) => this.o.logger.warn({ err }, 'sync: could not renew outbox leases'));
    }, Math.max(50, Math.floor(this.o.leaseMs / 3)));
    heartbeat.unref();
    try {
      const results: PushResult[] = [];
      const planned: Planned[] = [];
      const checks: PushItem[] = [];
      for (const item of items) {
        const cap = typeCapability(caps, item.type);
        if (!cap?.update || (item.deleted && !cap.delete)) {
          results.push(this.park(item, 400, undefined, `The upstream server does not accept ${item.deleted ? 'deletes' : 'updates'} of ${item.type} (its CapabilityStatement)`));
          continue;
        }
        if (item.deleted && (item.upstreamDeleted || (item.upstreamVersion === undefined && item.syncedVersion === undefined && !item.wasInDoubt))) {
          // Deleted here, and upstream never had it (or no longer has it): nothing to send.
          results.push({ kind: 'recorded', item, localVersion: item.version, upstreamVersion: undefined, deleted: true });
          continue;
        }
        if (!item.deleted && !item.upstreamDeleted && item.upstreamVersion !== undefined && item.syncedVersion === item.version) {
          // The pull already found this very version upstream (our earlier request arrived, and its
          // worker died or its answer was lost while the row stayed leased): sending it again on
          // top of that upstream version would apply it twice.
          results.push({ kind: 'recorded', item, localVersion: item.version, upstreamVersion: item.upstreamVersion, upstreamUpdated: item.upstreamUpdated, deleted: false });
          continue;
        }
        const unprotected = item.deleted || item.upstreamDeleted || !cap.versionedUpdate || (item.upstreamVersion === undefined && item.wasInDoubt);
        if (unprotected) checks.push(item);
        else planned.push(this.plan(item, item.upstreamVersion));
      }
      const decisions = await mapLimit(checks, 8, (item) => this.reconcile(round, item, 'precheck'));
      decisions.forEach((d, i) => {
        if (isResult(d)) results.push(d);
        else planned.push(this.plan(checks[i], d.send));
      });
      planned.sort((a, b) => a.item.seq - b.item.seq);
      results.push(...(await this.send(round, planned, caps)));
      for (const r of results) count(round, r);
      await this.applyResults(results);
      return round;
    } catch (err) {
      // Whatever failed (the database, a bug), the rows must not stay leased for long.
      await this.o.syncStore.release(this.o.owner, items).catch(() => undefined);
      throw err;
    } finally {
      clearInterval(heartbeat);
    }
  }

  private async applyResults(results: PushResult[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.o.syncStore.applyPushResults(this.o.owner, results);
        return;
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (attempt >= 5 || (code !== '40001' && code !== '40P01')) throw err;
      }
    }
  }

  private plan(item: PushItem, base: string | undefined): Planned {
    return { item, method: item.deleted ? 'DELETE' : 'PUT', base };
  }

  private park(item: PushItem, status: number, outcome: OperationOutcome | undefined, message?: string): PushResult {
    const text = message ?? outcome?.issue?.map((i) => i.diagnostics ?? i.details?.text ?? i.code).join('; ') ?? `HTTP ${status}`;
    return {
      kind: 'parked',
      item,
      outcome: outcome ?? { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'processing', diagnostics: text }] },
      message: `Refused by the upstream server (HTTP ${status}): ${text}`,
    };
  }

  private retry(round: PushRound, item: PushItem, err: UpstreamError, sent: boolean): PushResult {
    const delayMs = err.kind === 'stopped' ? 0 : retryDelay(item.attempts, this.o.backoff, err.retryAfterMs);
    if (err.retryAfterMs !== undefined) round.pauseMs = Math.max(round.pauseMs ?? 0, err.retryAfterMs);
    if (err.unreachable) round.unreachable = true;
    // A connection refused, 429 or 503 means the request was not processed.
    const certainlyNotApplied = (err.kind === 'network' && /ECONNREFUSED|ENOTFOUND|EAI_AGAIN/.test(err.message)) || (err.kind === 'http' && (err.status === 401 || err.status === 429 || err.status === 503)) || err.kind === 'auth';
    return { kind: 'retry', item, delayMs, message: err.message, mayHaveApplied: sent && !certainlyNotApplied };
  }

  /**
   * Reads the upstream resource and decides. 'precheck': before sending (send, with which
   * If-Match, or a result without sending). 'after-failure': the upstream refused a write.
   */
  private async reconcile(round: PushRound, item: PushItem, phase: 'precheck' | 'after-failure', failure?: WriteResult): Promise<Decision> {
    let current;
    try {
      current = await this.o.upstream.read(item.type, item.id);
    } catch (err) {
      if (err instanceof UpstreamError && (err.retryable || err.kind === 'stopped')) return this.retry(round, item, err, false);
      const e = err as UpstreamError;
      return this.park(item, e.status ?? 400, e.outcome, `reading ${item.type}/${item.id} upstream failed: ${e.message}`);
    }
    if (!current.found) {
      if (item.deleted) return { kind: 'recorded', item, localVersion: item.version, upstreamVersion: undefined, deleted: true };
      if (item.upstreamVersion !== undefined && !item.upstreamDeleted) {
        return { kind: 'conflict', item, upstream: { deleted: true, json: null } };
      }
      if (phase === 'precheck') return { send: undefined };
      return this.park(item, failure?.status ?? 400, failure?.outcome);
    }
    const upstreamJson = JSON.stringify(current.resource);
    if (current.version !== undefined && current.version === item.upstreamVersion && !item.upstreamDeleted) {
      if (phase === 'precheck') return { send: current.version };
      // Refused although upstream is at the version we built on: not a version clash (e.g. HAPI's
      // 409 for referential integrity). Kept visible rather than retried blindly.
      return this.park(item, failure?.status ?? 409, failure?.outcome);
    }
    const versions = await this.o.syncStore.localVersions(this.o.db, item.type, item.id, item.syncedVersion ?? 1);
    const match = versions.find((v) => v.json !== null && sameContent(v.json, current.resource));
    if (match && current.version !== undefined) {
      if (match.version === item.version && !item.deleted) {
        return { kind: 'recorded', item, localVersion: item.version, upstreamVersion: current.version, upstreamUpdated: current.lastUpdated, deleted: false };
      }
      // Upstream holds an earlier version of ours: send the rest on top of it.
      if (phase === 'precheck') return { send: current.version };
      return { kind: 'recorded', item, localVersion: match.version, upstreamVersion: current.version, upstreamUpdated: current.lastUpdated, deleted: false };
    }
    return { kind: 'conflict', item, upstream: { version: current.version, lastUpdated: current.lastUpdated, deleted: false, json: upstreamJson } };
  }

  private async send(round: PushRound, planned: Planned[], caps: Capabilities): Promise<PushResult[]> {
    if (!planned.length) return [];
    if (this.o.mode === 'single' || !caps.transaction || planned.length === 1) {
      return (await mapLimit(planned, Math.max(1, this.o.singleConcurrency), (p) => this.sendOne(round, p))).flat();
    }
    const size = this.maxBundle;
    const out: PushResult[] = [];
    for (let i = 0; i < planned.length; i += size) out.push(...(await this.sendBundle(round, planned.slice(i, i + size))));
    return out;
  }

  private async sendOne(round: PushRound, p: Planned): Promise<PushResult[]> {
    const { item } = p;
    let result: WriteResult;
    try {
      result = p.method === 'DELETE' ? await this.o.upstream.delete(item.type, item.id, p.base) : await this.o.upstream.put(item.type, item.id, forUpstream(item.json!), p.base);
    } catch (err) {
      if (!(err instanceof UpstreamError)) throw err;
      if (err.retryable || err.kind === 'stopped') return [this.retry(round, item, err, true)];
      result = { status: err.status ?? 400, outcome: err.outcome };
    }
    return [await this.handleWrite(round, p, result)];
  }

  private async sendBundle(round: PushRound, group: Planned[]): Promise<PushResult[]> {
    if (group.length === 1) return this.sendOne(round, group[0]);
    const base = this.o.upstream.baseUrl;
    const bundle: Bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: group.map((p): BundleEntry => {
        const url = `${p.item.type}/${p.item.id}`;
        const entry: BundleEntry = { fullUrl: `${base}/${url}`, request: { method: p.method, url } };
        if (p.base !== undefined) entry.request!.ifMatch = ifMatch(p.base);
        if (p.method === 'PUT') entry.resource = forUpstream(p.item.json!) as unknown as BundleEntry['resource'];
        return entry;
      }),
    };
    let response: Bundle;
    try {
      response = await this.o.upstream.transaction(bundle);
    } catch (err) {
      if (!(err instanceof UpstreamError)) throw err;
      if (err.retryable || err.kind === 'stopped') return group.map((p) => this.retry(round, p.item, err, true));
      return this.splitAfterRefusal(round, group);
    }
    const entries = response.entry ?? [];
    if (entries.length !== group.length) {
      // A response we cannot line up with what we sent: find out per resource next time.
      const e = new UpstreamError(`transaction: the response has ${entries.length} entries for ${group.length} sent`, 'http', 502);
      return group.map((p) => this.retry(round, p.item, e, true));
    }
    return Promise.all(group.map((p, i) => this.handleWrite(round, p, entryResult(entries[i]))));
  }

  /**
   * The upstream refused the whole transaction: one entry is refused, or the Bundle is too big
   * for it. Halves are sent until the refused entries stand alone. A server whose transactions
   * are not atomic may have applied some entries: creates are looked up first, so that nothing
   * is created twice; updates carry If-Match and cannot apply twice.
   */
  private async splitAfterRefusal(round: PushRound, group: Planned[]): Promise<PushResult[]> {
    const out: PushResult[] = [];
    const again: Planned[] = [];
    for (const p of group) {
      if (p.method === 'PUT' && p.base === undefined) {
        const d = await this.reconcile(round, p.item, 'precheck');
        if (isResult(d)) out.push(d);
        else again.push(this.plan(p.item, d.send));
      } else {
        again.push(p);
      }
    }
    const half = Math.ceil(again.length / 2);
    const first = again.length > 1 ? await this.sendBundle(round, again.slice(0, half)) : again.length ? await this.sendOne(round, again[0]) : [];
    const second = again.length > 1 ? await this.sendBundle(round, again.slice(half)) : [];
    const halves = [...first, ...second];
    if (again.length > 1 && halves.every((r) => r.kind === 'recorded')) {
      this.maxBundle = Math.max(1, Math.min(this.maxBundle, half));
      this.o.logger.warn({ maxBundle: this.maxBundle }, 'sync: the upstream refused a transaction whose halves it accepted; sending smaller Bundles from now on');
    }
    return [...out, ...halves];
  }

  private async handleWrite(round: PushRound, p: Planned, r: WriteResult): Promise<PushResult> {
    const { item } = p;
    if (r.status >= 200 && r.status < 300) {
      return { kind: 'recorded', item, localVersion: item.version, upstreamVersion: r.version, upstreamUpdated: r.lastUpdated, deleted: p.method === 'DELETE' };
    }
    if (r.status === 408 || r.status === 429 || r.status >= 500) {
      return this.retry(round, item, new UpstreamError(`${p.method} ${item.type}/${item.id}: HTTP ${r.status}`, 'http', r.status, r.outcome), true);
    }
    if (p.method === 'DELETE' && (r.status === 404 || r.status === 410)) {
      return { kind: 'recorded', item, localVersion: item.version, upstreamVersion: undefined, deleted: true };
    }
    if (r.status === 412 || r.status === 409 || (p.base !== undefined && (r.status === 404 || r.status === 410))) {
      const d = await this.reconcile(round, item, 'after-failure', r);
      if (isResult(d)) return d;
      return this.park(item, r.status, r.outcome);
    }
    return this.park(item, r.status, r.outcome);
  }
}
