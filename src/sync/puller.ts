import type { Bundle, BundleEntry } from 'fhir/r4.js';
import { hasErrors } from '../fhir/errors.js';
import { ID_PATTERN } from '../fhir/references.js';
import type { Validator } from '../interactions/service-deps.js';
import type { Logger } from '../logging.js';
import type { ResourceStore } from '../store/resource-store.js';
import { forLocal, sameContent, type Obj } from './content.js';
import type { SyncStore } from './sync-store.js';
import { statusOf, typeCapability, versionOf, type Capabilities, type UpstreamClient } from './upstream.js';

/**
 * The pull side: reads what changed upstream since the cursor of each type and stores it as new
 * local versions.
 *
 * - Type history (`Type/_history?_since=`) when the upstream's CapabilityStatement offers it;
 *   otherwise a search by `_lastUpdated` (which cannot see deletes: said in the log).
 * - Each poll reaches back SYNC_OVERLAP_MS before the cursor, for versions sharing a timestamp and
 *   transactions that committed late; what was handled already is skipped by (type, id, version).
 * - A version that is our own push coming back (its content equals one of our unrecorded local
 *   versions) is recorded, not stored again, and not sent back.
 * - A resource with a local change not yet pushed is a conflict: the upstream version is kept
 *   aside, the local one stays.
 * - Pulled versions are validated; those that fail are kept with their OperationOutcome and not
 *   applied. References to resources not pulled yet do not block (no integrity check on pull).
 */
export interface PullerOptions {
  store: ResourceStore;
  syncStore: SyncStore;
  upstream: UpstreamClient;
  validator: Validator;
  capabilities: () => Capabilities | undefined;
  logger: Logger;
  types: string[];
  overlapMs: number;
  pageSize: number;
  /** Told of each entry handled, as it happens (counters). */
  onOutcome?: (outcome: PullOutcome) => void;
}

export interface PulledEntry {
  type: string;
  id: string;
  version: string;
  lastUpdated?: Date;
  deleted: boolean;
  resource?: Obj;
}

export type PullOutcome = 'applied' | 'echo' | 'same' | 'seen' | 'stale' | 'conflict' | 'rejected' | 'deferred';

export interface PullRound {
  entries: number;
  outcomes: Partial<Record<PullOutcome, number>>;
}

/** Most pages read in one poll of one type (a guard against paging links that loop). */
const MAX_PAGES = 10_000;

const ENTRY_URL = /(?:^|\/)([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/([^/?#]+))?(?:[?#].*)?$/;

/** One history (or search) entry as a change: who, which version, when, content or deletion. */
export function parseEntry(entry: BundleEntry, type: string): PulledEntry | undefined {
  const resource = entry.resource as Obj | undefined;
  const method = entry.request?.method;
  const status = statusOf(entry.response?.status);
  const deleted = method === 'DELETE' || (!resource && (status === 410 || status === 204));
  if (!deleted && (!resource || resource.resourceType !== type)) return undefined;
  const fromUrl = ENTRY_URL.exec(entry.request?.url ?? '') ?? ENTRY_URL.exec(entry.fullUrl ?? '') ?? ENTRY_URL.exec(entry.response?.location ?? '');
  const id = (resource?.id as string | undefined) ?? (fromUrl && fromUrl[1] === type ? fromUrl[2] : undefined);
  if (!id || !ID_PATTERN.test(id)) return undefined;
  const meta = resource?.meta as Obj | undefined;
  const lastUpdatedText = (meta?.lastUpdated as string | undefined) ?? entry.response?.lastModified;
  const lastUpdated = lastUpdatedText ? new Date(lastUpdatedText) : undefined;
  const version =
    (meta?.versionId as string | undefined) ??
    versionOf(entry.response?.etag, entry.response?.location ?? entry.request?.url) ??
    `~${deleted ? 'deleted' : 'v'}@${lastUpdated?.toISOString() ?? 'unknown'}`;
  return { type, id, version, lastUpdated: lastUpdated && !Number.isNaN(lastUpdated.getTime()) ? lastUpdated : undefined, deleted, resource: deleted ? undefined : resource };
}

export class Puller {
  private warned = new Set<string>();

  constructor(private readonly o: PullerOptions) {}

  async pullOnce(): Promise<PullRound> {
    const round: PullRound = { entries: 0, outcomes: {} };
    const caps = this.o.capabilities();
    if (!caps) return round;
    for (const type of this.o.types) {
      const cap = typeCapability(caps, type);
      const mode = cap?.historyType ? 'history' : cap?.searchType ? 'search' : undefined;
      if (!mode) {
        this.warnOnce(`none:${type}`, { type }, 'sync: the upstream offers neither history nor search of this type: changes made there are not pulled');
        continue;
      }
      if (mode === 'search') {
        this.warnOnce(`search:${type}`, { type }, 'sync: the upstream has no type history for this type: polling by _lastUpdated, which does not see deletes made upstream');
      }
      await this.pullType(type, mode, round);
    }
    await this.o.syncStore.notePull();
    return round;
  }

  private warnOnce(key: string, data: object, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.o.logger.warn(data, message);
  }

  private async pullType(type: string, mode: 'history' | 'search', round: PullRound): Promise<void> {
    const cursor = await this.o.syncStore.cursor(type);
    const since = cursor ? new Date(cursor.getTime() - this.o.overlapMs) : undefined;
    const entries = mode === 'history' ? await this.readHistory(type, since) : await this.readSearch(type, since);
    let newest = cursor;
    let firstDeferred: Date | undefined;
    for (const entry of entries) {
      round.entries++;
      const outcome = await this.apply(entry);
      round.outcomes[outcome] = (round.outcomes[outcome] ?? 0) + 1;
      this.o.onOutcome?.(outcome);
      if (!entry.lastUpdated) continue;
      if (outcome === 'deferred') {
        if (!firstDeferred || entry.lastUpdated < firstDeferred) firstDeferred = entry.lastUpdated;
      } else if (!newest || entry.lastUpdated > newest) {
        newest = entry.lastUpdated;
      }
    }
    let next = newest;
    if (firstDeferred && (!next || firstDeferred < next)) next = firstDeferred;
    if (next && (!cursor || next > cursor)) await this.o.syncStore.setCursor(type, next);
  }

  /** History pages, newest first as servers send them, turned oldest first, each version once. */
  private async readHistory(type: string, since: Date | undefined): Promise<PulledEntry[]> {
    let url: string | undefined = `${type}/_history?_count=${this.o.pageSize}${since ? `&_since=${encodeURIComponent(since.toISOString())}` : ''}`;
    const raw: BundleEntry[] = [];
    const visited = new Set<string>();
    for (let pages = 0; url && pages < MAX_PAGES && !visited.has(url); pages++) {
      visited.add(url);
      const bundle: Bundle = await this.o.upstream.bundle(url);
      raw.push(...(bundle.entry ?? []));
      url = bundle.link?.find((l) => l.relation === 'next')?.url;
    }
    return dedupe(parseAll(raw.reverse(), type));
  }

  /** Search by _lastUpdated, oldest first: for servers without type history. */
  private async readSearch(type: string, since: Date | undefined): Promise<PulledEntry[]> {
    const out: PulledEntry[] = [];
    let from = since;
    for (let pages = 0; pages < MAX_PAGES; pages++) {
      const url = `${type}?_sort=_lastUpdated&_count=${this.o.pageSize}${from ? `&_lastUpdated=ge${encodeURIComponent(from.toISOString())}` : ''}`;
      const bundle: Bundle = await this.o.upstream.bundle(url);
      const page = parseAll((bundle.entry ?? []).filter((e) => e.search?.mode !== 'include'), type);
      out.push(...page);
      const last = page[page.length - 1]?.lastUpdated;
      // A full page: go on from its last timestamp (versions read twice are skipped later).
      if (page.length < this.o.pageSize || !last || (from && last.getTime() <= from.getTime())) break;
      from = last;
    }
    return dedupe(out);
  }

  /** Applies one upstream version, in one local transaction. */
  async apply(e: PulledEntry): Promise<PullOutcome> {
    const { syncStore } = this.o;
    return this.o.store.transaction(
      async (s) => {
        const exec = s.exec;
        if (await syncStore.wasSeen(exec, e.type, e.id, e.version)) return 'seen';
        const local = await s.read(e.type, e.id, { lock: true });
        const state = await syncStore.state(exec, e.type, e.id, true);
        const record = (localVersion: number, deleted = e.deleted) =>
          syncStore.recordSynced(exec, e.type, e.id, { upstreamVersion: e.version, upstreamUpdated: e.lastUpdated, deleted, localVersion });
        if (state?.upstreamUpdated && e.lastUpdated && e.lastUpdated < state.upstreamUpdated) {
          await syncStore.markSeen(exec, e.type, e.id, e.version, e.lastUpdated);
          return 'stale';
        }
        const outbox = await syncStore.outboxRow(exec, e.type, e.id);
        if (outbox) {
          // Our own change coming back (perhaps before its push was recorded)?
          const versions = await syncStore.localVersions(exec, e.type, e.id, state?.localVersion ?? 1);
          const match = e.deleted ? versions.find((v) => v.json === null) : versions.find((v) => v.json !== null && sameContent(v.json, e.resource!));
          if (match) {
            await record(match.version);
            // Upstream holds the current local version: nothing is left to send or to decide.
            if (local && match.version === local.version && !outbox.leased) {
              await syncStore.deleteOutbox(exec, e.type, e.id);
              if (outbox.state === 'conflict') await syncStore.deleteConflict(exec, e.type, e.id);
            }
            return 'echo';
          }
          // Being pushed right now: decide once that push is recorded.
          if (outbox.leased) return 'deferred';
          await syncStore.upsertConflict(exec, e.type, e.id, upstreamSide(e), local?.version ?? 0, 'pull');
          await syncStore.setOutboxState(exec, e.type, e.id, 'conflict', 'changed upstream too');
          return 'conflict';
        }
        if (e.deleted) {
          if (local && !local.deleted) {
            const gone = await s.delete(local);
            await record(gone.version, true);
            await syncStore.supersedeRejected(exec, e.type, e.id);
            return 'applied';
          }
          await record(local?.version ?? 0, true);
          return 'same';
        }
        if (local && !local.deleted && sameContent(local.json!, e.resource!)) {
          await record(local.version, false);
          return 'same';
        }
        const resource = forLocal(e.resource!, this.o.upstream.baseUrl);
        const issues = this.o.validator.validate(resource, { lang: 'en' });
        if (hasErrors(issues)) {
          await syncStore.reject(exec, e.type, e.id, e.version, e.lastUpdated, JSON.stringify(e.resource), { resourceType: 'OperationOutcome', issue: issues });
          this.o.logger.warn({ type: e.type, id: e.id, version: e.version }, 'sync: an upstream version failed validation; kept aside, not applied (see $sync-parked)');
          return 'rejected';
        }
        const stored = await s.put(resource, local, 'PUT');
        await record(stored.version, false);
        await syncStore.supersedeRejected(exec, e.type, e.id);
        return 'applied';
      },
      { origin: 'upstream', integrity: false },
    );
  }
}

function parseAll(entries: BundleEntry[], type: string): PulledEntry[] {
  return entries.map((e) => parseEntry(e, type)).filter((e): e is PulledEntry => e !== undefined);
}

/** Each version once, in the order given (paging by offset may repeat entries). */
function dedupe(entries: PulledEntry[]): PulledEntry[] {
  const seen = new Set<string>();
  return entries.filter((p) => {
    const key = `${p.id}|${p.version}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function upstreamSide(e: PulledEntry) {
  return { version: e.version, lastUpdated: e.lastUpdated, deleted: e.deleted, json: e.deleted ? null : JSON.stringify(e.resource) };
}
