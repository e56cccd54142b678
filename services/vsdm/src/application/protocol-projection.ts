import { identifier, type Projection, type RecordedEvent, type Sql } from "@tigw/platform";
import type { ProtocolEntry } from "./vsdm.js";

export interface ProtocolQuery {
  unitId: string;
  /** Empty: every Mandant of the unit. */
  mandantId?: string;
  /** ok | warning | error; empty: all. */
  outcome?: string;
  /** Inclusive lower and exclusive upper bound of the read's time. */
  from?: Date;
  to?: Date;
  /** The newest this many entries (still listed oldest first). */
  limit: number;
}

/**
 * The Ablauf- and Fehlerprotokoll as a read model: one row per read, indexed by unit, Mandant
 * and time, so an operator's question ("errors of praxis-1 since this morning") does not fold a
 * unit's whole protocol stream. Rebuildable from the protocol events.
 */
export class ProtocolProjection implements Projection {
  readonly name = "vsd-protocol";
  private readonly table: string;

  constructor(schema: string) {
    this.table = `${identifier(schema)}.vsd_protocol`;
  }

  async setup(sql: Sql): Promise<void> {
    await sql.exec(`CREATE TABLE IF NOT EXISTS ${this.table} (
      global_position bigint PRIMARY KEY, unit_id text NOT NULL, mandant_id text NOT NULL,
      at timestamptz NOT NULL, outcome text NOT NULL, entry jsonb NOT NULL)`);
    await sql.exec(`CREATE INDEX IF NOT EXISTS vsd_protocol_unit_at ON ${this.table} (unit_id, at)`);
    await sql.exec(`CREATE INDEX IF NOT EXISTS vsd_protocol_mandant_at ON ${this.table} (unit_id, mandant_id, at)`);
  }

  async reset(sql: Sql): Promise<void> {
    await sql.exec(`DELETE FROM ${this.table}`);
  }

  async apply(tx: Sql, e: RecordedEvent): Promise<void> {
    if (e.type !== "VsdReadProtocolled") return;
    const entry = e.data as ProtocolEntry;
    await tx.query(
      `INSERT INTO ${this.table} (global_position, unit_id, mandant_id, at, outcome, entry) VALUES ($1, $2, $3, $4, $5, $6::jsonb) ON CONFLICT DO NOTHING`,
      [e.globalPosition, entry.unitId, entry.mandantId, entry.at, entry.outcome, JSON.stringify(entry)],
    );
  }

  async list(sql: Sql, q: ProtocolQuery): Promise<ProtocolEntry[]> {
    const where = ["unit_id = $1"];
    const params: unknown[] = [q.unitId];
    const add = (clause: string, value: unknown) => {
      params.push(value);
      where.push(clause.replace("?", `$${params.length}`));
    };
    if (q.mandantId) add("mandant_id = ?", q.mandantId);
    if (q.outcome) add("outcome = ?", q.outcome);
    if (q.from) add("at >= ?", q.from.toISOString());
    if (q.to) add("at < ?", q.to.toISOString());
    params.push(q.limit);
    const rows = await sql.query<{ entry: ProtocolEntry }>(
      `SELECT entry FROM (SELECT entry, global_position FROM ${this.table} WHERE ${where.join(" AND ")} ORDER BY global_position DESC LIMIT $${params.length}) newest ORDER BY global_position`,
      params,
    );
    return rows.map((r) => r.entry);
  }
}
