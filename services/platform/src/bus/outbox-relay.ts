import type { Logger } from "../telemetry/logger.js";
import { EVENT_COLUMNS, toRecorded, type SqlEventStore } from "../store/sql-event-store.js";
import { toBusMessage } from "./envelope.js";
import { topicOf, type EventBus } from "./event-bus.js";

/**
 * Publishes appended events from the outbox to the bus, oldest first, and deletes them from the
 * outbox only once the bus has them: at-least-once, never a dual write in the command's
 * transaction. One relay per schema works at a time (advisory lock), which keeps each stream's
 * events in order on the bus; a second relay does not wait, it finds the lock taken and idles.
 * The batch is read without row locks: a row lock would give the relay's transaction an id for
 * the whole publish, and every store reader (readAll stays below the oldest running transaction)
 * would stall behind the network call. The delete at the end is the transaction's only write.
 */
export class OutboxRelay {
  private running = false;
  /** Failed publishes in a row; while failing, appends do not cut the backoff short. */
  private failures = 0;
  private loop: Promise<void> = Promise.resolve();
  private wakeUp: () => void = () => undefined;
  /** An append came while the relay was busy: look again before sleeping. */
  private appended = false;
  private unlisten: () => void = () => undefined;

  constructor(
    private readonly store: SqlEventStore,
    private readonly bus: EventBus,
    private readonly opts: {
      batchSize?: number;
      pollMs?: number;
      /** Gets one warning when publishing starts failing and one info line when it works again. */
      logger?: Pick<Logger, "warn" | "info">;
      /** The longest pause between attempts while publishing fails (default 30 s). */
      maxBackoffMs?: number;
    } = {},
  ) {}

  /** Publishes one batch; returns how many events went out (0 when idle or another relay leads). */
  async publishBatch(): Promise<number> {
    const s = this.store.schema;
    return this.store.sql.transaction(async (tx) => {
      const [lock] = await tx.query<{ ok: boolean }>("SELECT pg_try_advisory_xact_lock(hashtext($1)) AS ok", [`tigw-relay:${s}`]);
      if (!lock?.ok) return 0;
      const rows = await tx.query<Parameters<typeof toRecorded>[1] & { traceparent: string }>(
        `WITH batch AS (
           SELECT global_position, traceparent FROM ${s}.outbox ORDER BY global_position LIMIT $1)
         SELECT ${EVENT_COLUMNS.replace("global_position", "e.global_position")}, batch.traceparent
         FROM ${s}.events e JOIN batch ON batch.global_position = e.global_position
         ORDER BY e.global_position`,
        [this.opts.batchSize ?? 500],
      );
      if (rows.length === 0) return 0;
      const messages = rows.map((r) => toBusMessage(toRecorded(this.store.context, r), r.traceparent));
      await this.bus.publish(topicOf(this.store.context), messages);
      await tx.query(`DELETE FROM ${s}.outbox WHERE global_position = ANY($1::bigint[])`, [rows.map((r) => String(r.global_position))]);
      return rows.length;
    });
  }

  /** Publishes until the outbox is empty. */
  async drain(): Promise<number> {
    let total = 0;
    for (let n = await this.publishBatch(); n > 0; n = await this.publishBatch()) total += n;
    return total;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.unlisten = this.store.onAppended(() => {
      if (this.failures > 0) return;
      this.appended = true;
      this.wakeUp();
    });
    this.loop = (async () => {
      // A failure streak: the broker (or the store) is away. Retry with capped exponential
      // backoff and say so once, not once per attempt.
      let failingSince = 0;
      while (this.running) {
        let n = 0;
        let pause = this.opts.pollMs ?? 200;
        this.appended = false;
        try {
          n = await this.publishBatch();
          if (this.failures > 0) {
            this.opts.logger?.info(
              { context: this.store.context, failures: this.failures, downMs: Date.now() - failingSince },
              "outbox relay: publishing again",
            );
            this.failures = 0;
          }
        } catch (e) {
          if (this.failures++ === 0) {
            failingSince = Date.now();
            this.opts.logger?.warn(
              { context: this.store.context, error: e instanceof Error ? e.message : String(e) },
              "outbox relay: publish failed, retrying with backoff",
            );
          }
          pause = Math.min(this.opts.maxBackoffMs ?? 30_000, (this.opts.pollMs ?? 200) * 2 ** Math.min(this.failures - 1, 20));
        }
        if (n === 0 && this.running && (this.failures > 0 || !this.appended)) await this.sleep(pause);
      }
    })();
  }

  /** Waits, or less when an append (or stop) wakes the relay. */
  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      this.wakeUp = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  async stop(): Promise<void> {
    this.running = false;
    this.unlisten();
    this.appended = true;
    this.wakeUp();
    await this.loop;
  }
}
