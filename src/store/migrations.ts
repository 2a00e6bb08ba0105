import type { Database } from './database.js';
import m001 from './migrations/001-resources.js';
import m002 from './migrations/002-sync.js';
import m003 from './migrations/003-access.js';
import m004 from './migrations/004-evaluation.js';

/**
 * Schema migrations, applied in order at start-up. A migration is never edited once released:
 * a change is a new entry. Several replicas may start at once: an advisory lock makes one apply
 * them while the others wait.
 */
export const MIGRATIONS: { version: number; name: string; sql: string }[] = [
  { version: 1, name: 'resources and search index', sql: m001 },
  { version: 2, name: 'sync with the upstream FHIR server', sql: m002 },
  { version: 3, name: 'care-team membership and consent denials for access control', sql: m003 },
  { version: 4, name: 'indicator projection and bulk export jobs', sql: m004 },
];

const LOCK_KEY = 7270101;

export async function migrate(db: Database): Promise<number[]> {
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [LOCK_KEY]);
    await tx.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const { rows } = await tx.query<{ version: number }>('SELECT version FROM schema_migrations');
    const done = new Set(rows.map((r) => r.version));
    const applied: number[] = [];
    for (const m of MIGRATIONS) {
      if (done.has(m.version)) continue;
      for (const statement of splitStatements(m.sql)) await tx.query(statement);
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      applied.push(m.version);
    }
    return applied;
  });
}

/** Our migrations hold no semicolons inside strings or bodies, so a plain split is exact. */
function splitStatements(sql: string): string[] {
  return sql
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.replace(/^\s*--.*$/gm, '').trim())
    .filter(Boolean);
}
