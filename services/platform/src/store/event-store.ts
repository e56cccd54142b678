/** What a command handler appends: the decider's event plus routing facts. */
export interface NewEvent {
  type: string;
  data: unknown;
  eventId?: string;
  unitId?: string;
  mandantId?: string;
  correlationId?: string;
  causationId?: string;
}

/** An event as stored, with its place in its stream and in the service's global log. */
export interface RecordedEvent {
  eventId: string;
  context: string;
  streamId: string;
  streamVersion: number;
  globalPosition: number;
  /** The PostgreSQL transaction that wrote it (xid8, as text); part of the read cursor. */
  transactionId: string;
  type: string;
  data: unknown;
  unitId: string;
  mandantId: string;
  occurredAt: string;
  correlationId: string;
  causationId: string;
}

/**
 * Where readAll goes on from. Events are read in the order (transaction id, position) and only
 * from transactions older than every one still running, so a reader never skips an event whose
 * transaction commits late (the gap a plain tail of global_position falls into).
 */
export interface AllCursor {
  transactionId: string;
  globalPosition: number;
}
export const START: AllCursor = { transactionId: "0", globalPosition: 0 };
export const cursorOf = (e: RecordedEvent): AllCursor => ({ transactionId: e.transactionId, globalPosition: e.globalPosition });

/** Stream version 0 = the stream does not exist yet. */
export const NO_STREAM = 0;

/**
 * No concurrency check (Emmett's NO_CONCURRENCY_CHECK): the events go at the stream's end,
 * whatever its version, which the store assigns inside the append's transaction. For append-only
 * streams whose events depend on no state (a protocol): the append needs no read of the stream,
 * and concurrent appenders never conflict, each gets its own consecutive versions.
 */
export const ANY = "any";
/** A stream version the append expects (NO_STREAM for a new stream), or ANY. */
export type ExpectedVersion = number | typeof ANY;

export interface AppendResult {
  /** The stream's version after the append (with ANY: as of this append): pass it as expectedVersion next time. */
  nextExpectedVersion: number;
  events: RecordedEvent[];
}

/**
 * The EventStore port. append is atomic: the events and their outbox rows are written in one
 * transaction, or nothing is; a stale expectedVersion raises VersionConflictError (never with
 * ANY). occurredAt is the command's time (the service's clock, simulated or not), not the wall clock.
 */
export interface EventStore {
  readonly context: string;
  append(streamId: string, expectedVersion: ExpectedVersion, events: NewEvent[], occurredAt?: Date): Promise<AppendResult>;
  /** The stream's events after `afterVersion` (default: all) and its version. */
  readStream(streamId: string, afterVersion?: number): Promise<{ version: number; events: RecordedEvent[] }>;
  readAll(after?: AllCursor, limit?: number): Promise<RecordedEvent[]>;
  /** Called after every successful append (the outbox relay uses it to wake up at once). */
  onAppended(listener: () => void): () => void;
  close(): Promise<void>;
}
