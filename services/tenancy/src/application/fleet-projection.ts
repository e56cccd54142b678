import type { Projection, RecordedEvent, Sql } from "@tigw/platform";
import { initialUnitState, unitDecider, type UnitEvent, type UnitState } from "../domain/unit.js";

/**
 * Read model of the fleet: one row per unit holding the unit's state (the decider's own evolve
 * folds each event in, so the read model and the aggregate cannot disagree) plus columns to list
 * and filter by. Rebuildable from position 0.
 */
export class FleetProjection implements Projection {
  readonly name = "fleet";
  constructor(private readonly schema: string) {}

  async setup(sql: Sql): Promise<void> {
    await sql.exec(`CREATE TABLE IF NOT EXISTS ${this.schema}.rm_units (
      unit_id text PRIMARY KEY,
      serial text NOT NULL UNIQUE,
      profile text NOT NULL,
      lifecycle text NOT NULL,
      doc jsonb NOT NULL,
      version bigint NOT NULL
    )`);
  }

  async reset(sql: Sql): Promise<void> {
    await sql.exec(`DELETE FROM ${this.schema}.rm_units`);
  }

  async apply(tx: Sql, e: RecordedEvent): Promise<void> {
    if (!e.streamId.startsWith("unit-")) return;
    const unitId = e.streamId.slice("unit-".length);
    const [row] = await tx.query<{ doc: UnitState }>(`SELECT doc FROM ${this.schema}.rm_units WHERE unit_id = $1`, [unitId]);
    const next = unitDecider.evolve(row?.doc ?? initialUnitState(), { type: e.type, data: e.data } as UnitEvent);
    await tx.query(
      `INSERT INTO ${this.schema}.rm_units (unit_id, serial, profile, lifecycle, doc, version) VALUES ($1, $2, $3, $4, $5::jsonb, $6)
       ON CONFLICT (unit_id) DO UPDATE SET lifecycle = EXCLUDED.lifecycle, doc = EXCLUDED.doc, version = EXCLUDED.version`,
      [unitId, next.serial, next.profile, next.lifecycle, JSON.stringify(next), e.streamVersion],
    );
  }
}

export interface UnitView extends UnitState {
  version: number;
}

export async function listUnits(sql: Sql, schema: string): Promise<UnitView[]> {
  const rows = await sql.query<{ doc: UnitState; version: string }>(`SELECT doc, version FROM ${schema}.rm_units ORDER BY serial`);
  return rows.map((r) => ({ ...r.doc, version: Number(r.version) }));
}

export async function findUnit(sql: Sql, schema: string, unitId: string): Promise<UnitView | undefined> {
  const [r] = await sql.query<{ doc: UnitState; version: string }>(`SELECT doc, version FROM ${schema}.rm_units WHERE unit_id = $1`, [unitId]);
  return r ? { ...r.doc, version: Number(r.version) } : undefined;
}
