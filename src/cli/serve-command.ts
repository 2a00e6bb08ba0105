import { loadConfig } from '../config.js';
import { startServer } from '../server.js';

/** icr serve: runs the server until SIGTERM or SIGINT, then drains requests and closes the database. */
export async function runServeCommand(_argv: string[]): Promise<number> {
  const config = loadConfig();
  const running = await startServer(config);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      running.runtime.logger.info({ signal }, 'shutting down');
      resolve();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  await running.close();
  return 0;
}
