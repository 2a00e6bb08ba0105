/**
 * The benchmark's upstream in its own process (so that it does not share an event loop with the
 * worker it is measured against): the Medplum FHIR router behind the test adapter. Prints its base
 * URL as the first line of stdout; stops on SIGTERM.
 */
import { startUpstream } from '../../test/support/upstream-server.js';

const upstream = await startUpstream();
process.stdout.write(`${upstream.url}\n`);
process.once('SIGTERM', () => {
  void upstream.close().then(() => process.exit(0));
});
