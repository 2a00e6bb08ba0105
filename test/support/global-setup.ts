import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { PgliteDatabase } from '../../src/store/pglite-database.js';
import { migrate } from '../../src/store/migrations.js';

declare module 'vitest' {
  export interface ProvidedContext {
    pgliteTemplate: string;
    postgresUrl: string;
  }
}

/**
 * Runs once before all test files. A new PGlite database takes seconds to initialise but a
 * second to load from a dump, so the migrated database is made once and every test loads it.
 * PostgreSQL tests use the server named by TEST_DATABASE_URL (default: the local one), one fresh
 * schema per test database.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'icr-test-'));
  const db = await PgliteDatabase.open();
  await migrate(db);
  const dump = await db.dump();
  await db.close();
  const file = path.join(dir, 'template.tar');
  await fs.writeFile(file, Buffer.from(await dump.arrayBuffer()));
  project.provide('pgliteTemplate', file);

  const url = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (err) {
    throw new Error(
      `The tests need PostgreSQL as well as the embedded database, and could not reach ${url} (${(err as Error).message}). ` +
        'Start PostgreSQL, or point TEST_DATABASE_URL at one (a role that may create schemas).',
      { cause: err },
    );
  } finally {
    await client.end().catch(() => undefined);
  }
  project.provide('postgresUrl', url);
  return () => fs.rm(dir, { recursive: true, force: true });
}
