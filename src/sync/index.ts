import { EventEmitter } from 'node:events';
import type { Config } from '../config.js';
import type { FhirService } from '../interactions/fhir-service.js';
import type { Validator } from '../interactions/service-deps.js';
import type { Logger } from '../logging.js';
import type { Database } from '../store/database.js';
import type { ResourceStore } from '../store/resource-store.js';
import { registerSyncOperations } from './operations.js';
import { SyncStore } from './sync-store.js';

/**
 * Sync with the upstream FHIR server, wired into a runtime when UPSTREAM_FHIR_URL is set: the
 * outbox write hook (every process that writes: server replicas, `icr import`, `icr sync`) and
 * the $sync-* operations. The worker that pushes and pulls is started separately (SyncWorker),
 * inside the server or alone with `icr sync`.
 */
export interface SyncCounters {
  pushed: number;
  pulled: number;
  conflicts: number;
  parked: number;
  retries: number;
  rejected: number;
}

export interface SyncContext {
  config: Config;
  db: Database;
  store: ResourceStore;
  service: FhirService;
  validator: Validator;
  logger: Logger;
  syncStore: SyncStore;
  types: string[];
  /** Emits 'outbox' when a write of this process queued a change: in-process workers wake up. */
  events: EventEmitter;
  /** What the workers of this process did (Prometheus counters). */
  counters: SyncCounters;
}

export interface SyncDeps {
  config: Config;
  db: Database;
  store: ResourceStore;
  service: FhirService;
  validator: Validator;
  logger: Logger;
}

export function setupSync(deps: SyncDeps): SyncContext {
  const syncStore = new SyncStore(deps.db);
  const types = new Set(deps.config.syncTypes);
  const events = new EventEmitter();
  events.setMaxListeners(0);
  const sync: SyncContext = {
    ...deps,
    syncStore,
    types: [...types],
    events,
    counters: { pushed: 0, pulled: 0, conflicts: 0, parked: 0, retries: 0, rejected: 0 },
  };
  deps.store.onWrite(async (tx, change) => {
    // Changes pulled from upstream are not sent back to it.
    if (change.origin === 'upstream' || !types.has(change.type)) return;
    await syncStore.enqueue(tx, change);
    events.emit('outbox');
  });
  registerSyncOperations(sync);
  return sync;
}

export { SyncWorker, type WorkerOptions } from './worker.js';
