import { PGlite, types } from '@electric-sql/pglite';
import type { Database, QueryResult, SqlExecutor } from './database.js';

/** int8 as a JS number: our sequences stay far below 2^53, and both drivers then agree. */
const parsers = { [types.INT8]: (v: string) => Number(v) };

class PgliteExecutor implements SqlExecutor {
  constructor(protected readonly db: Pick<PGlite, 'query'>) {}
  async query<T>(sql: string, params: unknown[] = []): Promise<QueryResult<T>> {
    const r = await this.db.query<T>(sql, params);
    return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length };
  }
}

export class PgliteDatabase extends PgliteExecutor implements Database {
  readonly kind = 'pglite' as const;
  private constructor(
    private readonly pg: PGlite,
    private readonly onClose?: () => Promise<void>,
  ) {
    super(pg);
  }

  /** dataDir undefined: in memory. loadFrom: a dump made by dump(), much faster than initdb. */
  static async open(dataDir?: string, loadFrom?: Blob, onClose?: () => Promise<void>): Promise<PgliteDatabase> {
    const pg = await PGlite.create(dataDir, { parsers, ...(loadFrom ? { loadDataDir: loadFrom } : {}) });
    return new PgliteDatabase(pg, onClose);
  }

  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.pg.transaction((tx) => fn(new PgliteExecutor(tx)));
  }

  async exec(sql: string): Promise<void> {
    await this.pg.exec(sql);
  }

  async listen(channel: string, handler: () => void): Promise<() => Promise<void>> {
    // One process holds an embedded database: its NOTIFYs come from this process.
    const stop = await this.pg.listen(channel, handler);
    return async () => {
      if (!this.pg.closed) await stop();
    };
  }

  /** A copy of the whole data folder, to start other instances from. */
  dump(): Promise<Blob> {
    return this.pg.dumpDataDir('none') as Promise<Blob>;
  }

  async close(): Promise<void> {
    if (!this.pg.closed) {
      await this.pg.close();
      await this.onClose?.();
    }
  }
}
