import type { RequestHandler } from 'express';
import type { SyncContext } from './index.js';

/**
 * /metrics in the Prometheus text format (version 0.0.4). The sync figures are those of
 * $sync-status, read from the database at each scrape, so every replica reports the same; the
 * counters are what the workers of this process did since it started.
 */
interface Metric {
  name: string;
  help: string;
  type: 'gauge' | 'counter';
  value: number;
}

function render(metrics: Metric[]): string {
  return metrics.map((m) => `# HELP ${m.name} ${m.help}\n# TYPE ${m.name} ${m.type}\n${m.name} ${Number.isFinite(m.value) ? m.value : 0}\n`).join('');
}

const seconds = (d: Date | undefined) => (d ? d.getTime() / 1000 : 0);

export async function syncMetrics(sync: SyncContext | undefined): Promise<string> {
  if (!sync) return render([{ name: 'icr_sync_enabled', help: 'Whether sync with an upstream FHIR server is configured', type: 'gauge', value: 0 }]);
  const s = await sync.syncStore.status();
  const c = sync.counters;
  return render([
    { name: 'icr_sync_enabled', help: 'Whether sync with an upstream FHIR server is configured', type: 'gauge', value: 1 },
    { name: 'icr_sync_pending', help: 'Local changes waiting to be pushed upstream', type: 'gauge', value: s.pending },
    { name: 'icr_sync_oldest_pending_age_seconds', help: 'Age of the oldest local change waiting to be pushed', type: 'gauge', value: s.oldestPendingAgeSeconds },
    { name: 'icr_sync_parked', help: 'Local changes refused by the upstream server (4xx), kept with its OperationOutcome', type: 'gauge', value: s.parked },
    { name: 'icr_sync_conflicts', help: 'Resources changed both locally and upstream, waiting for $sync-resolve', type: 'gauge', value: s.conflicts },
    { name: 'icr_sync_rejected', help: 'Upstream versions that failed validation here and were not applied', type: 'gauge', value: s.rejected },
    { name: 'icr_sync_last_push_timestamp_seconds', help: 'When a push last succeeded (Unix time, 0: never)', type: 'gauge', value: seconds(s.lastPushAt) },
    { name: 'icr_sync_last_pull_timestamp_seconds', help: 'When a poll of the upstream history last completed (Unix time, 0: never)', type: 'gauge', value: seconds(s.lastPullAt) },
    { name: 'icr_sync_upstream_reachable', help: 'Whether the last request to the upstream server got an answer (1) or not (0)', type: 'gauge', value: s.reachable ? 1 : 0 },
    { name: 'icr_sync_pushed_total', help: 'Changes this process recorded as pushed upstream', type: 'counter', value: c.pushed },
    { name: 'icr_sync_pulled_total', help: 'Upstream changes this process stored locally', type: 'counter', value: c.pulled },
    { name: 'icr_sync_conflicts_detected_total', help: 'Conflicts this process detected', type: 'counter', value: c.conflicts },
    { name: 'icr_sync_parked_total', help: 'Changes this process parked after an upstream refusal', type: 'counter', value: c.parked },
    { name: 'icr_sync_retries_total', help: 'Pushes this process will retry (network error, timeout, 5xx, 429)', type: 'counter', value: c.retries },
    { name: 'icr_sync_rejected_total', help: 'Upstream versions this process refused on validation', type: 'counter', value: c.rejected },
  ]);
}

/** GET /metrics. */
export function metricsHandler(sync: SyncContext | undefined): RequestHandler {
  return (_req, res, next) => {
    syncMetrics(sync).then(
      (text) => {
        res.setHeader('Content-Type', 'text/plain; version=0.0.4; charset=utf-8');
        res.send(text);
      },
      (err: unknown) => next(err),
    );
  };
}
