import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/open-database.js';
import { migrate, MIGRATIONS } from '../../src/store/migrations.js';

describe('embedded database in a folder', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'icr-db-'));
  });
  afterAll(() => fs.rm(dir, { recursive: true, force: true }));

  it('keeps data across restarts, and migrations run once', async () => {
    const url = `pglite://${dir}/db`;
    const first = await openDatabase({ url });
    await first.query("INSERT INTO resource (res_type, id, version, seq, last_updated, content) VALUES ('Patient', 'kept', 1, 1, now(), '{}')");
    await first.close();
    const second = await openDatabase({ url });
    const { rows } = await second.query<{ id: string }>('SELECT id FROM resource');
    expect(rows.map((r) => r.id)).toEqual(['kept']);
    expect(await migrate(second)).toEqual([]);
    const applied = await second.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
    expect(applied.rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
    await second.close();
  });

  it('refuses a second process-level opener of the same folder while it is in use', async () => {
    const url = `pglite://${dir}/locked`;
    const first = await openDatabase({ url });
    // Simulate another live process holding the lock: our own pid is skipped, so write the parent's.
    await fs.writeFile(path.join(dir, 'locked', 'icr.lock'), String(process.ppid));
    await expect(openDatabase({ url })).rejects.toThrow(/in use by process \d+.*icr import --server/);
    await fs.writeFile(path.join(dir, 'locked', 'icr.lock'), String(process.pid));
    await first.close();
    await expect(fs.access(path.join(dir, 'locked', 'icr.lock'))).rejects.toThrow();
  });

  it('takes over a lock left by a process that is gone', async () => {
    const url = `pglite://${dir}/stale`;
    await fs.mkdir(path.join(dir, 'stale'), { recursive: true });
    await fs.writeFile(path.join(dir, 'stale', 'icr.lock'), '999999');
    const db = await openDatabase({ url });
    await db.close();
  });
});
