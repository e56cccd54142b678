import { randomUUID } from "node:crypto";
import { VersionConflictError } from "../errors.js";
import { currentTraceparent } from "../telemetry/propagation.js";
import { migrate } from "../sql/migrate.js";
import { identifier, type Sql } from "../sql/sql.js";
import type { AllCursor, AppendResult, EventStore, ExpectedVersion, NewEvent, RecordedEvent } from "./event-store.js";
import { ANY, START } from "./event-store.js";
import { storeMigrations } from "./schema.js";

interface EventRow {
  event_id: string;
  stream_id: string;
  stream_version: string | number;
  global_position: string | number;
  transaction_id: string;
  type: string;
  schema_version: number;
  data: unknown;
  unit_id: string;
  mandant_id: string;
  occurred_at: string | Date;
  correlation_id: string;
  causation_id: string;
}

export const EVENT_COLUMNS = `event_id::text, stream_id, stream_version, global_position, transaction_id::text,
  type, schema_version, data, unit_id, mandant_id, occurred_at, correlation_id, causation_id`;

export function toRecorded(context: string, r: EventRow): RecordedEvent {
  return {
    eventId: r.event_id,
    context,
    streamId: r.stream_id,
    streamVersion: Number(r.stream_version),
    globalPosition: Number(r.global_position),
    transactionId: r.transaction_id,
    type: r.type,
    schemaVersion: Number(r.schema_version),
    data: r.data,
    unitId: r.unit_id,
    mandantId: r.mandant_id,
    occurredAt: new Date(r.occurred_at).toISOString(),
    correlationId: r.correlation_id,
    causationId: r.causation_id,
  };
}

/**
 * The EventStore on PostgreSQL, real (pg) or embedded (PGlite): one schema per service (named
 * after its context). An append is a single statement, hence one round trip and one transaction:
 * it moves the stream's version only if it still equals the expected one, inserts the events and
 * their outbox rows. A racing writer with the same expected version blocks on the stream row and
 * then finds the version moved, so exactly one of them wins. An append with ANY moves the version
 * by its events' count in the same statement instead, so it never conflicts.
 */
export class SqlEventStore implements EventStore {
  private readonly listeners = new Set<() => void>();
  private readonly appendSql: string;
  private readonly appendAnySql: string;

  private constructor(
    readonly sql: Sql,
    readonly context: string,
    readonly schema: string,
  ) {
    const s = schema;
    /** Inserts the events of the payload after version `won.base`, and their outbox rows. */
    const insertEvents = (payload: string, occurredAt: string, traceparent: string) => `
ev AS (
  INSERT INTO ${s}.events (event_id, stream_id, stream_version, type, schema_version, data, unit_id, mandant_id,
                           occurred_at, correlation_id, causation_id)
  SELECT (x.e->>'eventId')::uuid, $1, won.base + x.ord, x.e->>'type', (x.e->>'schemaVersion')::int, x.e->'data',
         x.e->>'unitId', x.e->>'mandantId', ${occurredAt}::timestamptz, x.e->>'correlationId', x.e->>'causationId'
  FROM jsonb_array_elements(${payload}::jsonb) WITH ORDINALITY AS x(e, ord), won
  ORDER BY x.ord
  RETURNING ${EVENT_COLUMNS}
), ob AS (
  INSERT INTO ${s}.outbox (global_position, traceparent) SELECT global_position, ${traceparent} FROM ev
)
SELECT * FROM ev ORDER BY stream_version`;
    this.appendSql = `
WITH upd AS (
  UPDATE ${s}.streams SET version = $3 WHERE stream_id = $1 AND version = $2 AND $2 > 0 RETURNING version
), ins AS (
  INSERT INTO ${s}.streams (stream_id, version) SELECT $1, $3 WHERE $2 = 0
  ON CONFLICT (stream_id) DO NOTHING RETURNING version
), won AS (
  SELECT $2::bigint AS base FROM (SELECT version FROM upd UNION ALL SELECT version FROM ins) AS w
), ${insertEvents("$4", "$5", "$6")}`;
    // ANY: the upsert moves the version by the number of events, holding the stream row's lock
    // until commit, so a concurrent appender waits and then continues from the moved version.
    // The stream's advisory lock comes first: it assigns no transaction id, so an appender gets its
    // id only once it is next, and readAll's (transaction id, position) order keeps each stream's
    // version order (ids taken before waiting on the row could be in the other order).
    this.appendAnySql = `
WITH next AS (
  SELECT pg_advisory_xact_lock(hashtextextended('${s}/' || $1, 0)) AS locked
), won AS (
  INSERT INTO ${s}.streams AS st (stream_id, version) SELECT $1, jsonb_array_length($2::jsonb) FROM next
  ON CONFLICT (stream_id) DO UPDATE SET version = st.version + EXCLUDED.version
  RETURNING version - jsonb_array_length($2::jsonb) AS base
), ${insertEvents("$2", "$3", "$4")}`;
  }

  /** Opens the store of one bounded context and runs its migrations. */
  static async open(sql: Sql, context: string): Promise<SqlEventStore> {
    const schema = identifier(context.replaceAll("-", "_"));
    await migrate(sql, schema, storeMigrations);
    return new SqlEventStore(sql, context, schema);
  }

  async append(streamId: string, expectedVersion: ExpectedVersion, events: NewEvent[], occurredAt = new Date()): Promise<AppendResult> {
    if (expectedVersion !== ANY && (!Number.isInteger(expectedVersion) || expectedVersion < 0))
      throw new RangeError(`expectedVersion must be a non-negative integer or ANY, got ${expectedVersion}`);
    if (events.length === 0) return { nextExpectedVersion: expectedVersion === ANY ? await this.streamVersion(streamId) : expectedVersion, events: [] };
    const payload = JSON.stringify(
      events.map((e) => ({
        eventId: e.eventId ?? randomUUID(),
        type: e.type,
        schemaVersion: e.schemaVersion ?? 1,
        data: e.data ?? {},
        unitId: e.unitId ?? "",
        mandantId: e.mandantId ?? "",
        correlationId: e.correlationId ?? "",
        causationId: e.causationId ?? "",
      })),
    );
    const rows =
      expectedVersion === ANY
        ? await this.sql.query<EventRow>(
            this.appendAnySql,
            [streamId, payload, occurredAt.toISOString(), currentTraceparent()],
            `tigw_append_any_${this.schema}`,
          )
        : await this.sql.query<EventRow>(
            this.appendSql,
            [streamId, expectedVersion, expectedVersion + events.length, payload, occurredAt.toISOString(), currentTraceparent()],
            `tigw_append_${this.schema}`,
          );
    if (rows.length === 0) throw new VersionConflictError(streamId, Number(expectedVersion), await this.streamVersion(streamId));
    for (const l of this.listeners) l();
    const recorded = rows.map((r) => toRecorded(this.context, r));
    return { nextExpectedVersion: recorded.at(-1)!.streamVersion, events: recorded };
  }

  private async streamVersion(streamId: string): Promise<number> {
    const [cur] = await this.sql.query<{ version: string }>(`SELECT version FROM ${this.schema}.streams WHERE stream_id = $1`, [streamId]);
    return Number(cur?.version ?? 0);
  }

  async readStream(streamId: string, afterVersion = 0): Promise<{ version: number; events: RecordedEvent[] }> {
    const rows = await this.sql.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM ${this.schema}.events WHERE stream_id = $1 AND stream_version > $2 ORDER BY stream_version`,
      [streamId, afterVersion],
      `tigw_read_stream_${this.schema}`,
    );
    const events = rows.map((r) => toRecorded(this.context, r));
    return { version: events.at(-1)?.streamVersion ?? afterVersion, events };
  }

  async readAll(after: AllCursor = START, limit = 1000): Promise<RecordedEvent[]> {
    return this.readAllWith(this.sql, after, limit);
  }

  /** readAll on a given connection (e.g. inside the caller's transaction). */
  async readAllWith(sql: Sql, after: AllCursor = START, limit = 1000): Promise<RecordedEvent[]> {
    // Real PostgreSQL: concurrent transactions commit out of position order, so read in
    // (transaction id, position) order and only below the oldest running transaction.
    // PGlite runs one statement at a time on one connection, so positions are already in commit
    // order; and its transaction ids are not reliable across a crash (seen in the crash test:
    // they restarted below ones already used), so there the position alone is the cursor.
    const rows =
      this.sql.kind === "postgres"
        ? await sql.query<EventRow>(
            `SELECT ${EVENT_COLUMNS} FROM ${this.schema}.events
             WHERE (transaction_id, global_position) > ($1::xid8, $2::bigint)
               AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
             ORDER BY transaction_id, global_position LIMIT $3`,
            [after.transactionId, after.globalPosition, limit],
          )
        : await sql.query<EventRow>(`SELECT ${EVENT_COLUMNS} FROM ${this.schema}.events WHERE global_position > $1 ORDER BY global_position LIMIT $2`, [
            after.globalPosition,
            limit,
          ]);
    return rows.map((r) => toRecorded(this.context, r));
  }

  onAppended(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}
