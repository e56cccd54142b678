import { PGlite, type Transaction } from "@electric-sql/pglite";
import type { Sql } from "./sql.js";

type Db = PGlite | Transaction;

class PgliteSql implements Sql {
  readonly kind = "embedded" as const;
  constructor(
    private readonly db: Db,
    private readonly root: PGlite,
  ) {}

  async query<Row>(text: string, params: unknown[] = []): Promise<Row[]> {
    const res = await this.db.query<Row>(text, params);
    return res.rows;
  }

  async exec(text: string): Promise<void> {
    await this.db.exec(text);
  }

  async transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    if (this.db !== this.root) return fn(this);
    return this.root.transaction((tx) => fn(new PgliteSql(tx, this.root)));
  }

  async close(): Promise<void> {
    if (this.db === this.root && !this.root.closed) await this.root.close();
  }
}

/**
 * An embedded PostgreSQL (PGlite, WebAssembly) in this process. `dataDir` keeps state across
 * restarts; without it the database lives in memory.
 */
export async function embeddedSql(dataDir?: string): Promise<Sql> {
  const db = dataDir ? new PGlite(dataDir) : new PGlite();
  await db.waitReady;
  return new PgliteSql(db, db);
}
