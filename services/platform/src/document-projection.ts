import { identifier, type Sql } from "./sql/sql.js";
import type { Projection } from "./projection.js";
import type { RecordedEvent } from "./store/event-store.js";

export interface DocumentProjectionOptions<S> {
  name: string;
  /** Table (schema-qualified by the caller's schema) holding one document per aggregate. */
  schema: string;
  table: string;
  /** Only streams "<prefix>-<id>" are projected; the id is the row key. */
  streamPrefix: string;
  initial: () => S;
  /** The aggregate's own evolve: the read model and the aggregate cannot disagree. */
  evolve: (state: S, event: { type: string; data: unknown }) => S;
  /** Extra text columns to list and filter by, computed from the document. */
  columns?: Record<string, (s: S) => string>;
}

/**
 * A read model of one JSON document per aggregate, folded event by event with the decider's
 * evolve, plus a few text columns to query by. Rebuildable from position 0.
 */
export class DocumentProjection<S> implements Projection {
  readonly name: string;
  private readonly table: string;
  private readonly cols: [string, (s: S) => string][];

  constructor(private readonly o: DocumentProjectionOptions<S>) {
    this.name = o.name;
    this.table = `${identifier(o.schema)}.${identifier(o.table)}`;
    this.cols = Object.entries(o.columns ?? {}).map(([k, f]) => [identifier(k), f]);
  }

  async setup(sql: Sql): Promise<void> {
    const extra = this.cols.map(([c]) => `, ${c} text NOT NULL`).join("");
    await sql.exec(`CREATE TABLE IF NOT EXISTS ${this.table} (id text PRIMARY KEY, doc jsonb NOT NULL, version bigint NOT NULL${extra})`);
  }

  async reset(sql: Sql): Promise<void> {
    await sql.exec(`DELETE FROM ${this.table}`);
  }

  async apply(tx: Sql, e: RecordedEvent): Promise<void> {
    if (!e.streamId.startsWith(`${this.o.streamPrefix}-`)) return;
    const id = e.streamId.slice(this.o.streamPrefix.length + 1);
    const [row] = await tx.query<{ doc: S }>(`SELECT doc FROM ${this.table} WHERE id = $1`, [id]);
    const next = this.o.evolve(row?.doc ?? this.o.initial(), { type: e.type, data: e.data });
    const names = this.cols.map(([c]) => c);
    const params = [id, JSON.stringify(next), e.streamVersion, ...this.cols.map(([, f]) => f(next))];
    await tx.query(
      `INSERT INTO ${this.table} (id, doc, version${names.map((c) => `, ${c}`).join("")})
       VALUES ($1, $2::jsonb, $3${names.map((_, i) => `, $${i + 4}`).join("")})
       ON CONFLICT (id) DO UPDATE SET doc = EXCLUDED.doc, version = EXCLUDED.version${names.map((c) => `, ${c} = EXCLUDED.${c}`).join("")}`,
      params,
    );
  }

  async get(sql: Sql, id: string): Promise<(S & { version: number }) | undefined> {
    const [r] = await sql.query<{ doc: S; version: string }>(`SELECT doc, version FROM ${this.table} WHERE id = $1`, [id]);
    return r ? { ...r.doc, version: Number(r.version) } : undefined;
  }

  /** Every document, ordered by `orderBy` (one of the extra columns, or id). */
  async list(sql: Sql, orderBy = "id"): Promise<(S & { version: number })[]> {
    const order = orderBy === "id" ? "id" : (this.cols.find(([c]) => c === orderBy)?.[0] ?? "id");
    const rows = await sql.query<{ doc: S; version: string }>(`SELECT doc, version FROM ${this.table} ORDER BY ${order}`);
    return rows.map((r) => ({ ...r.doc, version: Number(r.version) }));
  }
}
