import { loadDevKey, mintDevToken } from '../auth/dev-key.js';
import { loadConfig } from '../config.js';

export interface ServerTokenRequest {
  scope: string;
  clientId: string;
  roles?: string[];
  expiresIn?: number;
}

/**
 * The bearer token a command sends to a running server (`--server`): the one given with `--token`,
 * or else a development token signed with ICR_DEV_KEY, as `icr token` makes them, so that the
 * commands work against a local server without a separate step.
 */
export async function serverToken(given: string | undefined, request: ServerTokenRequest): Promise<string> {
  if (given) return given;
  const config = loadConfig(process.env, { logLevel: 'warn' });
  return mintDevToken(await loadDevKey(config.devKeyFile), { ...request, audience: config.authAudience });
}
