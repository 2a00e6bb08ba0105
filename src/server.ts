import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from './config.js';
import { createApp } from './http/app.js';
import { createRuntime, type Runtime, type RuntimeOptions } from './bootstrap.js';
import { metricsHandler } from './sync/metrics.js';
import type { SyncWorker } from './sync/worker.js';

export interface RunningServer {
  runtime: Runtime;
  /** The sync worker, when UPSTREAM_FHIR_URL is set and SYNC_IN_SERVER is true. */
  syncWorker?: SyncWorker;
  server: http.Server;
  url: string;
  /** Stops taking requests, lets running ones finish (up to the shutdown timeout), closes the database. */
  close(): Promise<void>;
}

export async function startServer(config: Config, options: RuntimeOptions = {}): Promise<RunningServer> {
  const started = Date.now();
  const runtime = await createRuntime(config, options);
  let stopping = false;
  const app = createApp({
    service: runtime.service,
    verifier: runtime.verifier,
    config,
    logger: runtime.logger,
    isReady: async () => {
      if (stopping) return false;
      await runtime.db.query('SELECT 1');
      return true;
    },
    routes: (app) => app.get('/metrics', metricsHandler(runtime.sync)),
  });
  const server = http.createServer(app);
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  const url = `http://${host}:${address.port}`;
  runtime.logger.info({ url: `${url}/fhir`, database: runtime.db.kind, startupMs: Date.now() - started }, 'integrated care record ready');
  // Bulk exports run in the background of every replica; a job whose worker died is taken over.
  runtime.evaluation.worker.start();
  let syncWorker: SyncWorker | undefined;
  if (runtime.sync && config.syncInServer) {
    const { SyncWorker } = await import('./sync/worker.js');
    syncWorker = new SyncWorker(runtime.sync);
    syncWorker.start();
  }

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      stopping = true;
      const drained = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), config.shutdownTimeoutMs);
      await drained;
      clearTimeout(timer);
      await syncWorker?.stop();
      await runtime.close();
      runtime.logger.info('integrated care record stopped');
    })());
  return { runtime, syncWorker, server, url, close };
}
