import pg from "pg";
import type { Sql } from "./sql.js";

type Queryable = pg.Pool | pg.PoolClient;

class PgSql implements Sql {
  readonly kind = "postgres" as const;
  constructor(
    private readonly db: Queryable,
    private readonly pool: pg.Pool,
  ) {}

  async query<Row>(text: string, params: unknown[] = [], prepare?: string): Promise<Row[]> {
    const res = await this.db.query(prepare ? { name: prepare, text, values: params } : { text, values: params });
    return res.rows as Row[];
  }

  async exec(text: string): Promise<void> {
    await this.db.query(text);
  }

  async transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    if (this.db !== this.pool) return fn(this); // already inside one: join it
    const client = await this.pool.connect();
    try {
      await client.query("BEGIN");
      const result = await fn(new PgSql(client, this.pool));
      await client.query("COMMIT");
      return result;
    } catch (e) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw e;
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    if (this.db === this.pool) await this.pool.end();
  }
}

/** A pooled connection to real PostgreSQL, e.g. DATABASE_URL. */
export function postgresSql(connectionString: string, opts: { max?: number } = {}): Sql {
  const pool = new pg.Pool({ connectionString, max: opts.max ?? 10, application_name: "ti-gateway" });
  // An idle client losing its connection must not crash the process; the next query reconnects.
  pool.on("error", () => undefined);
  return new PgSql(pool, pool);
}
