import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import supertest from 'supertest';
import { inject } from 'vitest';
import { loadConfig, type Config } from '../../src/config.js';
import { createRuntime, type Runtime, type RuntimeOptions } from '../../src/bootstrap.js';
import { createApp } from '../../src/http/app.js';
import { createLogger } from '../../src/logging.js';
import { createValidator } from '../../src/validation/index.js';
import { loadDevKey, mintDevToken, type DevTokenClaims } from '../../src/auth/dev-key.js';
import { SYSTEM_PRINCIPAL } from '../../src/interactions/context.js';
import { importPaths, type ImportSummary } from '../../src/import/importer.js';

export type Backend = 'pglite' | 'postgres';
export const BACKENDS: Backend[] = ['pglite', 'postgres'];

export interface TestRecord {
  backend: Backend;
  runtime: Runtime;
  server: http.Server;
  /** http://127.0.0.1:<port>/fhir */
  baseUrl: string;
  /** An HTTP client that sends a system token with full scope (system/*.cruds) unless told otherwise. */
  api: supertest.Agent;
  /** A client with no token at all. */
  anonymous: supertest.Agent;
  /** The PostgreSQL schema (postgres backend). */
  schema: string;
  /** A development token for this server, as `icr token` makes them. */
  token(claims: Omit<DevTokenClaims, 'audience'> & { audience?: string }): Promise<string>;
  /** An HTTP client that sends this token. */
  as(token: string): supertest.Agent;
  close(): Promise<void>;
}

let devKeyFile: string | undefined;

/** One development key per test process, in a temporary folder. */
async function testDevKeyFile(): Promise<string> {
  devKeyFile ??= path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'icr-key-')), 'dev-key.json');
  return devKeyFile;
}

let template: Blob | undefined;

async function pgliteTemplate(): Promise<Blob> {
  template ??= new Blob([await fs.readFile(inject('pgliteTemplate'))]);
  return template;
}

export interface TestRecordOptions extends RuntimeOptions {
  config?: Partial<Config>;
  /** 'profiles' (default): our profiles are required, as in production. 'base': the base R4 spec only (no care-team rules either). */
  validation?: 'profiles' | 'base';
  /** PostgreSQL: use this schema (another record's) instead of a new one, like a second replica. */
  shareSchemaOf?: TestRecord;
}

/** A fresh database (PGlite loaded from the template, or a new PostgreSQL schema) behind a real HTTP server. */
export async function startTestRecord(backend: Backend, options: TestRecordOptions = {}): Promise<TestRecord> {
  const schema = options.shareSchemaOf?.schema ?? `t_${randomBytes(6).toString('hex')}`;
  const base: Partial<Config> =
    backend === 'pglite' ? { databaseUrl: 'memory://' } : { databaseUrl: inject('postgresUrl'), databaseSchema: schema, databasePoolSize: 8 };
  const config = loadConfig({}, { logLevel: 'silent', port: 0, host: '127.0.0.1', devKeyFile: await testDevKeyFile(), auditFlushMs: 0, rateLimitPerMinute: 0, ...base, ...options.config });
  const validator = options.validator ?? (options.validation === 'base' ? await createValidator({ requiredProfiles: {} }) : undefined);
  const runtime = await createRuntime(config, {
    ...options,
    validator,
    writeChecks: options.writeChecks ?? (options.validation === 'base' ? [] : undefined),
    logger: createLogger(process.env.TEST_LOG_LEVEL as never ?? 'silent'),
    template: backend === 'pglite' ? await pgliteTemplate() : undefined,
  });
  const app = createApp({ service: runtime.service, verifier: runtime.verifier, config, logger: runtime.logger, isReady: async () => true });
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  const baseUrl = `http://127.0.0.1:${port}/fhir`;
  const key = await loadDevKey(config.devKeyFile);
  const token = (claims: Omit<DevTokenClaims, 'audience'> & { audience?: string }) => mintDevToken(key, { audience: config.authAudience, ...claims });
  const as = (t: string) => supertest.agent(server).set('Authorization', `Bearer ${t}`);
  return {
    backend,
    runtime,
    server,
    baseUrl,
    api: as(await token({ scope: 'system/*.cruds', clientId: 'test-system' })),
    anonymous: supertest.agent(server),
    schema,
    token,
    as,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await runtime.close();
      if (backend === 'postgres' && !options.shareSchemaOf) await dropSchema(schema);
    },
  };
}

/** Loads fixtures/ (or the given paths) through the service, as `icr import` does. */
export async function loadFixtures(rec: TestRecord, paths = ['fixtures']): Promise<ImportSummary> {
  const ctx = { baseUrl: rec.baseUrl, lang: 'en' as const, prefer: {}, requestId: 'fixtures', principal: SYSTEM_PRINCIPAL };
  const summary = await importPaths(paths, (req) => rec.runtime.service.dispatch(ctx, req));
  if (summary.failed.length) throw new Error(`fixtures failed to load: ${JSON.stringify(summary.failed, null, 2)}`);
  return summary;
}

async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: inject('postgresUrl') });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
}

