import pg from 'pg';
import type { Database, QueryOptions, QueryResult, SqlExecutor } from './database.js';

const INT8 = 20;
const typeParser = (oid: number, format?: string) =>
  oid === INT8 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text');

const config = (text: string, values: unknown[], options?: QueryOptions): pg.QueryConfig => (options?.prepare ? { name: options.prepare, text, values } : { text, values });

class ClientExecutor implements SqlExecutor {
  constructor(private readonly client: pg.PoolClient) {}
  async query<T>(sql: string, params: unknown[] = [], options?: QueryOptions): Promise<QueryResult<T>> {
    const r = await this.client.query(config(sql, params, options));
    return { rows: r.rows as T[], rowCount: r.rowCount ?? 0 };
  }
}

export class PostgresDatabase implements Database {
  readonly kind = 'postgres' as const;
  private constructor(
    private readonly pool: pg.Pool,
    private readonly clientConfig: pg.ClientConfig,
  ) {}

  static async open(url: string, options: { schema?: string; poolSize: number }): Promise<PostgresDatabase> {
    const clientConfig: pg.ClientConfig = {
      connectionString: url,
      types: { getTypeParser: typeParser } as pg.CustomTypesConfig,
      ...(options.schema ? { options: `-c search_path=${options.schema}` } : {}),
    };
    const pool = new pg.Pool({ ...clientConfig, max: options.poolSize });
    // An idle client losing its server must not crash the process; the next query reconnects.
    pool.on('error', () => undefined);
    const db = new PostgresDatabase(pool, clientConfig);
    if (options.schema) await db.query(`CREATE SCHEMA IF NOT EXISTS ${options.schema}`);
    else await db.query('SELECT 1');
    return db;
  }

  async query<T>(sql: string, params: unknown[] = [], options?: QueryOptions): Promise<QueryResult<T>> {
    const r = await this.pool.query(config(sql, params, options));
    return { rows: r.rows as T[], rowCount: r.rowCount ?? 0 };
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await fn(new ClientExecutor(client));
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async exec(sql: string): Promise<void> {
    await this.pool.query(sql);
  }

  /** A connection of its own LISTENs; when it drops, it reconnects and reports a possible miss. */
  async listen(channel: string, handler: () => void): Promise<() => Promise<void>> {
    let stopped = false;
    let client: pg.Client | undefined;
    let connected = false;
    const connect = async (): Promise<void> => {
      while (!stopped) {
        const c = new pg.Client(this.clientConfig);
        try {
          await c.connect();
          c.on('notification', (n) => {
            if (n.channel === channel) handler();
          });
          c.on('error', () => undefined);
          c.on('end', () => {
            if (!stopped) {
              handler();
              setTimeout(() => void connect(), 500);
            }
          });
          await c.query(`LISTEN ${channel}`);
          client = c;
          // After a reconnect, what was sent while we were away is unknown.
          if (connected) handler();
          connected = true;
          return;
        } catch {
          await c.end().catch(() => undefined);
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
    };
    await connect();
    return async () => {
      stopped = true;
      await client?.end().catch(() => undefined);
    };
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
