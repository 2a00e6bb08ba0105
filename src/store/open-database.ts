import fs from 'node:fs/promises';
import path from 'node:path';
import type { Database } from './database.js';
import { PgliteDatabase } from './pglite-database.js';
import { PostgresDatabase } from './postgres-database.js';
import { lockFolder } from './folder-lock.js';
import { migrate } from './migrations.js';

export interface OpenOptions {
  url: string;
  schema?: string;
  poolSize?: number;
  /** A PGlite dump with the schema already migrated: a new embedded database starts from it. */
  template?: Blob;
}

/** Opens the database named by DATABASE_URL and brings its schema up to date. */
export async function openDatabase(options: OpenOptions): Promise<Database> {
  const { url } = options;
  let db: Database;
  if (url === 'memory://') {
    db = await PgliteDatabase.open(undefined, options.template);
  } else if (url.startsWith('pglite://')) {
    const dir = path.resolve(url.slice('pglite://'.length));
    const fresh = !(await exists(path.join(dir, 'PG_VERSION')));
    await fs.mkdir(dir, { recursive: true });
    const release = await lockFolder(dir);
    try {
      db = await PgliteDatabase.open(dir, fresh ? options.template : undefined, release);
    } catch (err) {
      await release();
      throw err;
    }
  } else {
    db = await PostgresDatabase.open(url, { schema: options.schema, poolSize: options.poolSize ?? 10 });
  }
  try {
    await migrate(db);
  } catch (err) {
    await db.close();
    throw err;
  }
  return db;
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch {
    return false;
  }
}
