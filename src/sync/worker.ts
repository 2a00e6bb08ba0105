import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { createTokenSource } from './auth.js';
import { backoffDelay, type BackoffPolicy } from './backoff.js';
import type { SyncContext } from './index.js';
import { Puller, type PullOutcome, type PullRound } from './puller.js';
import { Pusher, type PushRound } from './pusher.js';
import { UpstreamClient, UpstreamError, type Capabilities } from './upstream.js';

/**
 * The sync worker: three loops in one process.
 * - capabilities: reads the upstream CapabilityStatement at start (retrying until it answers) and
 *   every 10 minutes, to know what the upstream does (transactions, type history, If-Match);
 * - push: claims outbox rows and sends them; wakes at once when a write of this process queued a
 *   change, else looks every SYNC_PUSH_INTERVAL_MS; pauses after failures (backoff, Retry-After);
 * - pull: polls the upstream history every SYNC_POLL_INTERVAL_MS, holding the pull lease so that
 *   one replica at a time pulls.
 * Any number of workers may run against one database (in server replicas or `icr sync`).
 */
export interface WorkerOptions {
  /** Identifies this worker in leases (default: host, pid and a random part). */
  owner?: string;
  push?: boolean;
  pull?: boolean;
  /** 'single': one request per resource (servers without transactions; the benchmark's baseline). */
  pushMode?: 'auto' | 'single';
  /**
   * Push rounds running at once (default 2): while one waits for the upstream, the next one
   * claims and records. They claim different rows, so per-resource order is kept.
   */
  pushLanes?: number;
  singleConcurrency?: number;
  /** How long a claimed outbox row stays leased without renewal (default: 2 x request timeout + 1 s). */
  leaseMs?: number;
  pageSize?: number;
  capabilitiesRefreshMs?: number;
}

const CAPABILITIES_REFRESH_MS = 600_000;

export class SyncWorker {
  readonly owner: string;
  readonly upstream: UpstreamClient;
  readonly pusher: Pusher;
  readonly puller: Puller;
  /** What this worker did (the process-wide figures are in sync.counters). */
  readonly stats = { pushed: 0, pulled: 0 };
  private caps?: Capabilities;
  private readonly stopper = new AbortController();
  private readonly loops: Promise<void>[] = [];
  private readonly wakers = new Set<() => void>();
  private readonly backoff: BackoffPolicy;
  private readonly leaseMs: number;
  private started = false;
  private lastContact?: { reachable: boolean; at: number };
  private readonly onOutbox = () => this.wakePush();
  private readonly pushWakers = new Set<() => void>();
  /** A write queued a change while the push lanes were busy. */
  private signalled = false;
  /** After a failure the upstream is left alone until then (all lanes). */
  private pausedUntil = 0;
  private pushFailures = 0;

  constructor(
    readonly sync: SyncContext,
    private readonly options: WorkerOptions = {},
  ) {
    const { config, logger } = sync;
    if (!config.upstreamFhirUrl) throw new Error('The sync worker needs UPSTREAM_FHIR_URL');
    this.owner = options.owner ?? `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.backoff = { baseMs: config.syncRetryBaseMs, maxMs: config.syncRetryMaxMs };
    // Renewed every third of it while the rows are worked on; expires when the worker died.
    this.leaseMs = options.leaseMs ?? 2 * config.syncRequestTimeoutMs + 1000;
    this.upstream = new UpstreamClient({
      baseUrl: config.upstreamFhirUrl,
      tokens: createTokenSource(config),
      timeoutMs: config.syncRequestTimeoutMs,
      stop: this.stopper.signal,
      onContact: (reachable, error) => this.noteContact(reachable, error),
    });
    const capabilities = () => this.caps;
    this.pusher = new Pusher({
      db: sync.db,
      syncStore: sync.syncStore,
      upstream: this.upstream,
      capabilities,
      logger,
      owner: this.owner,
      batchSize: config.syncBatchSize,
      leaseMs: this.leaseMs,
      backoff: this.backoff,
      mode: options.pushMode ?? 'auto',
      singleConcurrency: options.singleConcurrency ?? 4,
    });
    this.puller = new Puller({
      store: sync.store,
      syncStore: sync.syncStore,
      upstream: this.upstream,
      validator: sync.validator,
      capabilities,
      logger,
      types: sync.types,
      overlapMs: config.syncOverlapMs,
      pageSize: options.pageSize ?? 100,
      onOutcome: (outcome) => this.countPulled(outcome),
    });
  }

  get capabilities(): Capabilities | undefined {
    return this.caps;
  }

  /** Records reachability and trouble in the database; plain successes at most once a second. */
  private noteContact(reachable: boolean, error?: string): void {
    const now = Date.now();
    const last = this.lastContact;
    if (!error && reachable && last?.reachable && now - last.at < 1000) return;
    this.lastContact = { reachable, at: now };
    this.sync.syncStore.recordContact(reachable, error).catch(() => undefined);
  }

  /** Reads the upstream CapabilityStatement (once; again with refresh). */
  async refreshCapabilities(): Promise<Capabilities> {
    const caps = await this.upstream.capabilities();
    const first = !this.caps;
    this.caps = caps;
    if (first) {
      const log = this.sync.logger;
      if (caps.assumed) log.warn({ upstream: this.upstream.baseUrl }, 'sync: the upstream has no CapabilityStatement; assuming transactions, type history and If-Match');
      else {
        if (caps.fhirVersion && !caps.fhirVersion.startsWith('4.0')) log.warn({ fhirVersion: caps.fhirVersion }, 'sync: the upstream is not FHIR R4 (4.0.x)');
        const missing = this.sync.types.filter((t) => !caps.types.has(t));
        if (missing.length) log.warn({ types: missing }, 'sync: the upstream does not support these types: their changes are parked, none are pulled');
        const noIfMatch = this.sync.types.filter((t) => caps.types.has(t) && !caps.types.get(t)!.versionedUpdate);
        if (noIfMatch.length) log.warn({ types: noIfMatch }, 'sync: the upstream does not declare versioned-update for these types: each push reads upstream first');
      }
      log.info({ upstream: this.upstream.baseUrl, software: caps.software, transaction: caps.transaction }, 'sync: upstream capabilities read');
    }
    return caps;
  }

  private async ensureCapabilities(): Promise<Capabilities> {
    return this.caps ?? this.refreshCapabilities();
  }

  /** One push round (tests, `icr sync --once`). */
  async pushOnce(): Promise<PushRound> {
    await this.ensureCapabilities();
    const round = await this.pusher.pushOnce();
    this.countPush(round);
    return round;
  }

  /** One poll of every synced type, if this worker gets the pull lease. */
  async pullOnce(): Promise<PullRound | undefined> {
    await this.ensureCapabilities();
    if (!(await this.sync.syncStore.acquireLease('pull', this.owner, this.pullLeaseMs()))) return undefined;
    return this.puller.pullOnce();
  }

  /** Pushes until nothing is ready to send (rows in backoff wait for their time), in parallel lanes. */
  async pushUntilIdle(): Promise<void> {
    await this.ensureCapabilities();
    const lane = async () => {
      for (;;) {
        const round = await this.pusher.pushOnce();
        this.countPush(round);
        if (!round.claimed) return;
      }
    };
    await Promise.all(Array.from({ length: this.lanes }, lane));
  }

  private get lanes(): number {
    return Math.max(1, this.options.pushLanes ?? 2);
  }

  private pullLeaseMs(): number {
    return Math.max(3 * this.sync.config.syncPollIntervalMs, 4 * this.sync.config.syncRequestTimeoutMs, 10_000);
  }

  private countPulled(outcome: PullOutcome): void {
    const c = this.sync.counters;
    if (outcome === 'applied') {
      c.pulled++;
      this.stats.pulled++;
    } else if (outcome === 'conflict') c.conflicts++;
    else if (outcome === 'rejected') c.rejected++;
  }

  private countPush(round: PushRound): void {
    this.stats.pushed += round.recorded;
    const c = this.sync.counters;
    c.pushed += round.recorded;
    c.conflicts += round.conflicts;
    c.parked += round.parked;
    c.retries += round.retries;
  }

  start(): void {
    if (this.started) throw new Error('The sync worker runs already');
    this.started = true;
    this.sync.events.on('outbox', this.onOutbox);
    this.loops.push(this.capabilitiesLoop());
    if (this.options.push !== false) this.loops.push(this.pushLoop());
    if (this.options.pull !== false) this.loops.push(this.pullLoop());
    this.sync.logger.info({ owner: this.owner, upstream: this.upstream.baseUrl, types: this.sync.types }, 'sync worker started');
  }

  async stop(): Promise<void> {
    if (!this.started || this.stopper.signal.aborted) return;
    this.stopper.abort();
    this.sync.events.off('outbox', this.onOutbox);
    for (const wake of this.wakers) wake();
    await Promise.all(this.loops);
    await this.sync.syncStore.releaseLease('pull', this.owner).catch(() => undefined);
    this.sync.logger.info({ owner: this.owner }, 'sync worker stopped');
  }

  private get stopped(): boolean {
    return this.stopper.signal.aborted;
  }

  /**
   * Sleeps, unless the worker stops or (wakeable) a write of this process queues a change.
   * Resolves true when woken by such a write.
   */
  private sleep(ms: number, wakeable = false): Promise<boolean> {
    if (this.stopped) return Promise.resolve(false);
    return new Promise((resolve) => {
      const woken = () => done(true);
      const done = (byWrite: boolean) => {
        clearTimeout(timer);
        this.wakers.delete(stop);
        this.pushWakers.delete(woken);
        resolve(byWrite);
      };
      const stop = () => done(false);
      const timer = setTimeout(stop, ms);
      this.wakers.add(stop);
      if (wakeable) this.pushWakers.add(woken);
    });
  }

  private wakePush(): void {
    if (!this.pushWakers.size) {
      this.signalled = true;
      return;
    }
    // The write's transaction commits just after its hook ran: give it a moment.
    const wakers = [...this.pushWakers];
    setTimeout(() => wakers.forEach((w) => w()), 2);
  }

  private async capabilitiesLoop(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      try {
        await this.refreshCapabilities();
        failures = 0;
        await this.sleep(this.options.capabilitiesRefreshMs ?? CAPABILITIES_REFRESH_MS);
      } catch (err) {
        failures++;
        if (failures === 1 || failures % 20 === 0) this.sync.logger.warn({ err: (err as Error).message }, 'sync: cannot read the upstream CapabilityStatement yet');
        await this.sleep(this.caps ? this.options.capabilitiesRefreshMs ?? CAPABILITIES_REFRESH_MS : backoffDelay(failures, this.backoff) + 50);
      }
    }
  }

  private async pushLoop(): Promise<void> {
    await Promise.all(Array.from({ length: this.lanes }, () => this.pushLane()));
  }

  private async pushLane(): Promise<void> {
    let wokenByWrite = false;
    while (!this.stopped) {
      if (!this.caps) {
        await this.sleep(100, true);
        continue;
      }
      const paused = this.pausedUntil - Date.now();
      if (paused > 0) {
        await this.sleep(paused);
        continue;
      }
      let round: PushRound;
      try {
        round = await this.pusher.pushOnce();
        this.countPush(round);
      } catch (err) {
        this.pushFailures++;
        this.sync.logger.error({ err }, 'sync: push round failed');
        this.pausedUntil = Date.now() + backoffDelay(this.pushFailures, this.backoff) + 50;
        continue;
      }
      if (round.unreachable || round.pauseMs !== undefined) {
        // The upstream is down or asks us to wait: pause pushing (every row keeps its own backoff too).
        this.pushFailures++;
        this.pausedUntil = Math.max(this.pausedUntil, Date.now() + Math.max(round.pauseMs ?? 0, backoffDelay(this.pushFailures, this.backoff)));
        continue;
      }
      if (round.recorded) this.pushFailures = 0;
      if (round.claimed) {
        wokenByWrite = false;
        continue;
      }
      if (wokenByWrite || this.signalled) {
        // A write queued a change, perhaps in a transaction not committed yet: look again shortly.
        wokenByWrite = false;
        this.signalled = false;
        await this.sleep(20);
        continue;
      }
      wokenByWrite = await this.sleep(this.sync.config.syncPushIntervalMs, true);
    }
  }

  private async pullLoop(): Promise<void> {
    let failures = 0;
    let prunedAt = Date.now();
    while (!this.stopped) {
      if (!this.caps) {
        await this.sleep(100);
        continue;
      }
      let pause = this.sync.config.syncPollIntervalMs;
      try {
        if (await this.sync.syncStore.acquireLease('pull', this.owner, this.pullLeaseMs())) {
          await this.puller.pullOnce();
          if (Date.now() - prunedAt > 3_600_000) {
            prunedAt = Date.now();
            await this.sync.syncStore.pruneSeen(this.sync.config.syncOverlapMs);
          }
        }
        failures = 0;
      } catch (err) {
        if (this.stopped) break;
        failures++;
        const retryAfter = err instanceof UpstreamError ? err.retryAfterMs : undefined;
        pause = Math.max(retryAfter ?? 0, Math.min(this.sync.config.syncPollIntervalMs * 2 ** Math.min(failures, 10), this.backoff.maxMs));
        if (failures === 1 || failures % 20 === 0) this.sync.logger.warn({ err: (err as Error).message, failures }, 'sync: pull failed; trying again later');
      }
      await this.sleep(pause);
    }
  }
}
