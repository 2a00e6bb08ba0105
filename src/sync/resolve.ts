import { badRequest, conflict, hasErrors, notFound, unprocessable } from '../fhir/errors.js';
import type { RequestContext } from '../interactions/context.js';
import { forLocal, type Obj } from './content.js';
import type { SyncContext } from './index.js';
import type { ConflictRow } from './sync-store.js';

/**
 * $sync-resolve: ends a conflict (or retries a parked change).
 * - keep-local: the local version is pushed, with If-Match on the upstream version of the conflict
 *   (so a further upstream change makes a new conflict rather than being overwritten).
 * - take-upstream: the upstream version becomes the new local version (validated), nothing is pushed.
 * - merge: the given resource becomes the new local version (validated like any update) and is
 *   pushed on top of the upstream version of the conflict.
 * - retry: a parked change is sent again (its cause was fixed upstream); target '*' retries all.
 */
export type ResolveAction = 'keep-local' | 'take-upstream' | 'merge' | 'retry';

export const RESOLVE_ACTIONS: ResolveAction[] = ['keep-local', 'take-upstream', 'merge', 'retry'];

export interface ResolveRequest {
  type: string;
  id: string;
  action: ResolveAction;
  merged?: Obj;
  /** Resolve only if the conflict still holds this upstream version (it may have moved since it was shown). */
  upstreamVersion?: string;
}

export interface ResolveResult {
  message: string;
  localVersion?: number;
}

function checkGuard(c: ConflictRow, req: ResolveRequest): void {
  if (req.upstreamVersion !== undefined && c.upstream.version !== req.upstreamVersion) {
    throw conflict(
      `The conflict on ${req.type}/${req.id} now holds upstream version ${c.upstream.version ?? '(deleted)'}, not ${req.upstreamVersion}: it changed upstream again; read $sync-conflicts and decide again`,
    );
  }
}

export async function resolveConflict(sync: SyncContext, ctx: RequestContext, req: ResolveRequest): Promise<ResolveResult> {
  const { syncStore, store } = sync;
  const { type, id } = req;
  const result = await (async (): Promise<ResolveResult> => {
    if (req.action === 'retry') {
      return store.transaction(async (s) => {
        const n = await syncStore.retryParked(s.exec, type, id);
        if (type === '*') return { message: `${n} parked change${n === 1 ? '' : 's'} will be sent again` };
        if (!n) throw notFound(`${type}/${id} has no parked change to retry`);
        return { message: `The parked change of ${type}/${id} will be sent again` };
      });
    }
    if (req.action === 'take-upstream') {
      return store.transaction(
        async (s) => {
          const local = await s.read(type, id, { lock: true });
          const c = await syncStore.conflict(s.exec, type, id);
          if (!c) throw notFound(`There is no sync conflict on ${type}/${id}`);
          checkGuard(c, req);
          let localVersion = local?.version ?? 0;
          if (c.upstream.deleted) {
            if (local && !local.deleted) localVersion = (await s.delete(local)).version;
          } else {
            const resource = forLocal(JSON.parse(c.upstream.json!) as Obj, sync.config.upstreamFhirUrl ?? '');
            const issues = sync.validator.validate(resource, { lang: ctx.lang });
            if (hasErrors(issues)) throw unprocessable(issues);
            localVersion = (await s.put(resource, local, 'PUT')).version;
          }
          await syncStore.recordSynced(s.exec, type, id, { upstreamVersion: c.upstream.version, upstreamUpdated: c.upstream.lastUpdated, deleted: c.upstream.deleted, localVersion });
          await syncStore.deleteOutbox(s.exec, type, id);
          await syncStore.deleteConflict(s.exec, type, id);
          await syncStore.supersedeRejected(s.exec, type, id);
          return { message: `${type}/${id} now holds the upstream version ${c.upstream.version ?? '(deleted)'} as local version ${localVersion}`, localVersion };
        },
        // Written as a pulled change: nothing goes back upstream, and references need not resolve.
        { origin: 'upstream', integrity: false },
      );
    }
    // keep-local and merge: the local side (merged or not) is pushed on top of the upstream version.
    return store.transaction(async (s) => {
      const local = await s.read(type, id, { lock: true });
      const c = await syncStore.conflict(s.exec, type, id);
      if (!c) throw notFound(`There is no sync conflict on ${type}/${id}`);
      checkGuard(c, req);
      let localVersion = local?.version;
      let message = `The local version of ${type}/${id} will be pushed on top of upstream version ${c.upstream.version ?? '(deleted)'}`;
      if (req.action === 'merge') {
        if (!req.merged) throw badRequest('merge needs the merged resource in the "resource" parameter', 'resource');
        if (req.merged.resourceType !== type || (req.merged.id !== undefined && req.merged.id !== id)) {
          throw badRequest(`The merged resource must be ${type}/${id}`, 'resource');
        }
        const response = await sync.service.crud.update(ctx, type, id, { ...req.merged, id }, {}, s);
        localVersion = Number(/W\/"(\d+)"/.exec(response.headers.ETag ?? '')?.[1] ?? local?.version);
        message = `The merged ${type}/${id} is local version ${localVersion} and will be pushed on top of upstream version ${c.upstream.version ?? '(deleted)'}`;
      }
      const state = await syncStore.state(s.exec, type, id, true);
      // The upstream version of the conflict becomes the base of the next push: seen, not to be pulled as a change.
      await s.exec.query(
        `INSERT INTO sync_state (res_type, id, upstream_version, upstream_updated, upstream_deleted, local_version, synced_at)
         VALUES ($1, $2, $3, $4, $5, $6, now())
         ON CONFLICT (res_type, id) DO UPDATE SET upstream_version = EXCLUDED.upstream_version, upstream_updated = EXCLUDED.upstream_updated,
           upstream_deleted = EXCLUDED.upstream_deleted, synced_at = now()`,
        [type, id, c.upstream.version ?? null, c.upstream.lastUpdated?.toISOString() ?? null, c.upstream.deleted, state?.localVersion ?? 0],
      );
      if (c.upstream.version !== undefined) await syncStore.markSeen(s.exec, type, id, c.upstream.version, c.upstream.lastUpdated);
      await syncStore.setOutboxState(s.exec, type, id, 'pending');
      await syncStore.deleteConflict(s.exec, type, id);
      return { message, localVersion };
    });
  })();
  sync.events.emit('outbox');
  return result;
}
