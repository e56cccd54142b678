import type { Projection, Sql, RecordedEvent } from "../../src/index.js";

/**
 * A read model used by the contract tests: per stream, the number of events and the sum of
 * amounts, plus one row per applied event id (so a double application is visible).
 */
export function tallyProjection(table: string): Projection {
  return {
    name: table,
    async setup(sql: Sql) {
      await sql.exec(`CREATE TABLE IF NOT EXISTS ${table} (stream_id text PRIMARY KEY, events int NOT NULL, total bigint NOT NULL);
        CREATE TABLE IF NOT EXISTS ${table}_applied (event_id text NOT NULL, stream_id text NOT NULL, version int NOT NULL);`);
    },
    async reset(sql: Sql) {
      await sql.exec(`DELETE FROM ${table}; DELETE FROM ${table}_applied;`);
    },
    async apply(tx: Sql, e: RecordedEvent) {
      const amount = (e.data as { amount?: number }).amount ?? 0;
      await tx.query(
        `INSERT INTO ${table} (stream_id, events, total) VALUES ($1, 1, $2)
         ON CONFLICT (stream_id) DO UPDATE SET events = ${table}.events + 1, total = ${table}.total + EXCLUDED.total`,
        [e.streamId, amount],
      );
      await tx.query(`INSERT INTO ${table}_applied (event_id, stream_id, version) VALUES ($1, $2, $3)`, [e.eventId, e.streamId, e.streamVersion]);
    },
  };
}

export async function readTally(sql: Sql, table: string): Promise<Array<{ stream_id: string; events: number; total: number }>> {
  const rows = await sql.query<{ stream_id: string; events: number; total: string }>(`SELECT stream_id, events, total FROM ${table} ORDER BY stream_id`);
  return rows.map((r) => ({ stream_id: r.stream_id, events: Number(r.events), total: Number(r.total) }));
}
