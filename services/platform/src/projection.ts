import { fromBusMessage } from "./bus/envelope.js";
import type { DeliveredMessage } from "./bus/event-bus.js";
import type { Sql } from "./sql/sql.js";
import { cursorOf, START, type AllCursor, type RecordedEvent } from "./store/event-store.js";
import type { SqlEventStore } from "./store/sql-event-store.js";

/** A read model: tables it owns, filled by apply() inside the caller's transaction. */
export interface Projection {
  readonly name: string;
  /** Creates its tables if missing. */
  setup(sql: Sql): Promise<void>;
  /** Empties its tables, before a rebuild. */
  reset(sql: Sql): Promise<void>;
  apply(tx: Sql, event: RecordedEvent): Promise<void>;
}

/**
 * Inbox: remembers which event ids a consumer handled, in the same transaction as the effect,
 * so that a redelivered event (at-least-once bus) has its effect once.
 */
export async function handleOnce(tx: Sql, schema: string, consumer: string, eventId: string, effect: () => Promise<void>): Promise<boolean> {
  const fresh = await tx.query(`INSERT INTO ${schema}.inbox (consumer, event_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING event_id`, [
    consumer,
    eventId,
  ]);
  if (fresh.length === 0) return false;
  await effect();
  return true;
}

/** A bus handler that applies each event to the projection once (dedupe by event id). */
export function busProjectionHandler(sql: Sql, schema: string, projection: Projection) {
  return async (m: DeliveredMessage): Promise<void> => {
    const event = fromBusMessage(m);
    await sql.transaction((tx) =>
      handleOnce(tx, schema, `projection:${projection.name}`, event.eventId, () => projection.apply(tx, event)).then(() => undefined),
    );
  };
}

/**
 * Runs a projection over its own service's store: reads after its checkpoint, applies a batch
 * and moves the checkpoint in one transaction, so a crash never applies an event twice.
 * rebuild() empties the read model and replays from position 0.
 */
export class StoreProjectionRunner {
  constructor(
    private readonly store: SqlEventStore,
    private readonly projection: Projection,
  ) {}

  async setup(): Promise<void> {
    await this.projection.setup(this.store.sql);
  }

  async checkpoint(sql: Sql = this.store.sql): Promise<AllCursor> {
    const [row] = await sql.query<{ transaction_id: string; global_position: string }>(
      `SELECT transaction_id::text, global_position FROM ${this.store.schema}.checkpoints WHERE projection = $1`,
      [this.projection.name],
    );
    return row ? { transactionId: row.transaction_id, globalPosition: Number(row.global_position) } : START;
  }

  /**
   * Applies everything appended since the checkpoint; returns the number of events applied.
   * Each batch runs under a transaction-scoped advisory lock named after the projection, and reads
   * the checkpoint inside it, so replicas of a service running the same projection never apply
   * an event twice.
   */
  async catchUp(batchSize = 500): Promise<number> {
    let total = 0;
    for (;;) {
      const applied = await this.store.sql.transaction(async (tx) => {
        await tx.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`tigw-projection:${this.store.schema}:${this.projection.name}`]);
        const events = await this.store.readAllWith(tx, await this.checkpoint(tx), batchSize);
        if (events.length === 0) return 0;
        for (const e of events) await this.projection.apply(tx, e);
        const last = cursorOf(events.at(-1)!);
        await tx.query(
          `INSERT INTO ${this.store.schema}.checkpoints (projection, transaction_id, global_position) VALUES ($1, $2::xid8, $3)
           ON CONFLICT (projection) DO UPDATE SET transaction_id = EXCLUDED.transaction_id,
             global_position = EXCLUDED.global_position, updated_at = now()`,
          [this.projection.name, last.transactionId, last.globalPosition],
        );
        return events.length;
      });
      if (applied === 0) return total;
      total += applied;
    }
  }

  async rebuild(): Promise<number> {
    await this.store.sql.transaction(async (tx) => {
      await this.projection.reset(tx);
      await tx.query(`DELETE FROM ${this.store.schema}.checkpoints WHERE projection = $1`, [this.projection.name]);
    });
    return this.catchUp();
  }
}
