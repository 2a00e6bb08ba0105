import type { Config } from '../config.js';
import { exportOperations } from '../export/operations.js';
import { loadExportKey } from '../export/key.js';
import { ExportWorker } from '../export/worker.js';
import type { FhirService } from '../interactions/fhir-service.js';
import type { Logger } from '../logging.js';
import type { RulesEngine } from '../rules/index.js';
import type { ResourceStore } from '../store/resource-store.js';
import { defaultProfilesDir } from '../validation/profiles-loader.js';
import { IndicatorEngine } from './engine.js';
import { loadMeasures } from './measures.js';
import { indicatorOperations } from './operations.js';
import { maintainIndicatorIndex, rebuildIndicatorIndexIfAsked } from './projection.js';

export interface EvaluationDeps {
  config: Pick<Config, 'exportKeyFile' | 'exportFileResources' | 'exportRetentionHours' | 'exportLeaseSeconds' | 'databasePoolSize'>;
  store: ResourceStore;
  service: FhirService;
  rules: RulesEngine;
  logger: Logger;
  profilesDir?: string;
}

/** Pilot evaluation wired into a runtime: the indicators and the bulk export. */
export interface Evaluation {
  engine: IndicatorEngine;
  /** The export worker: started by the server (and woken by a kick-off in any process). */
  worker: ExportWorker;
  close(): Promise<void>;
}

/**
 * Sets up docs/evaluation.md in a runtime: the indicator projection hook (and its one-off rebuild
 * after migration 004), the Measures served read-only, $evaluate-measure and $indicators, and
 * $export with its status and file endpoints. The export worker polls only once started (servers);
 * a kick-off wakes it in whatever process receives it.
 */
export async function setupEvaluation(deps: EvaluationDeps): Promise<Evaluation> {
  const { store, service, rules, config } = deps;
  maintainIndicatorIndex(store, rules.data);
  await rebuildIndicatorIndexIfAsked(store, rules.data);
  // Evaluations may take two connections each, up to a quarter of the pool (docs/evaluation.md).
  const engine = new IndicatorEngine(rules, { parallel: Math.floor(config.databasePoolSize / 4) });
  service.conformance.register('Measure', loadMeasures(deps.profilesDir ?? defaultProfilesDir()) as never);
  for (const op of indicatorOperations({ engine, store })) service.operations.register(op);
  let key: Promise<Buffer> | undefined;
  const worker = new ExportWorker({
    db: store.db,
    logger: deps.logger,
    exportKey: () => (key ??= loadExportKey(config.exportKeyFile).catch((err: unknown) => {
      key = undefined;
      throw err;
    })),
    fileResources: config.exportFileResources,
    leaseSeconds: config.exportLeaseSeconds,
    retentionHours: config.exportRetentionHours,
  });
  for (const op of exportOperations({ store, worker, retentionHours: config.exportRetentionHours })) service.operations.register(op);
  return { engine, worker, close: () => worker.stop() };
}
