import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { createRuntime } from '../bootstrap.js';
import { SyncWorker } from '../sync/worker.js';

const USAGE = `Usage: icr sync [--once] [--enqueue-existing]

Runs the sync worker alone (without the HTTP server): pushes local changes to the upstream FHIR
server named by UPSTREAM_FHIR_URL and pulls the changes made there, until SIGTERM or SIGINT. Any
number of workers may run against one PostgreSQL database; set SYNC_IN_SERVER=false on the
servers when the workers run apart. (An embedded PGlite folder can be opened by one process
only: with PGlite, let the worker run inside 'icr serve'.)

  --once               push what is ready, pull once, push again, print the status, exit
                       (exit code 1 when changes are still pending, parked or in conflict)
  --enqueue-existing   first queue every resource that was never synced (sync turned on for
                       a database that already holds data)`;

export async function runSyncCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { once: { type: 'boolean' }, 'enqueue-existing': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const config = loadConfig();
  if (!config.upstreamFhirUrl) {
    console.error('icr sync: UPSTREAM_FHIR_URL is not set, so there is no upstream FHIR server to sync with');
    return 78;
  }
  const runtime = await createRuntime(config);
  const sync = runtime.sync!;
  try {
    if (values['enqueue-existing']) {
      const queued = await sync.syncStore.enqueueExisting(sync.types);
      runtime.logger.info({ queued }, 'sync: existing resources queued for the upstream server');
    }
    const worker = new SyncWorker(sync);
    if (values.once) {
      await worker.pushUntilIdle();
      await worker.pullOnce();
      await worker.pushUntilIdle();
      const s = await sync.syncStore.status();
      console.log(
        `pending ${s.pending}, parked ${s.parked}, conflicts ${s.conflicts}, rejected ${s.rejected}, upstream ${s.reachable ? 'reachable' : 'not reachable'}`,
      );
      return s.pending || s.parked || s.conflicts ? 1 : 0;
    }
    worker.start();
    await new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        runtime.logger.info({ signal }, 'sync: stopping');
        resolve();
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });
    await worker.stop();
    return 0;
  } finally {
    await runtime.close();
  }
}
