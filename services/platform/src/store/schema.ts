import type { Migration } from "../sql/migrate.js";

/** The tables every service's schema has: its event store, outbox, inbox and projection checkpoints. */
export const storeMigrations: Migration[] = [
  {
    id: "0001_event_store",
    sql: `
CREATE TABLE {schema}.streams (
  stream_id text PRIMARY KEY,
  version   bigint NOT NULL CHECK (version > 0)
);
CREATE TABLE {schema}.events (
  global_position bigserial PRIMARY KEY,
  transaction_id  xid8 NOT NULL DEFAULT pg_current_xact_id(),
  event_id        uuid NOT NULL UNIQUE,
  stream_id       text NOT NULL,
  stream_version  bigint NOT NULL,
  type            text NOT NULL,
  data            jsonb NOT NULL,
  unit_id         text NOT NULL DEFAULT '',
  mandant_id      text NOT NULL DEFAULT '',
  occurred_at     timestamptz NOT NULL,
  correlation_id  text NOT NULL DEFAULT '',
  causation_id    text NOT NULL DEFAULT '',
  UNIQUE (stream_id, stream_version)
);
CREATE INDEX events_tx_order ON {schema}.events (transaction_id, global_position);
-- Appended but not yet published on the bus; the relay deletes a row once the bus has it.
-- Written only by the append statement together with its event, so no foreign key to check.
CREATE TABLE {schema}.outbox (
  global_position bigint PRIMARY KEY,
  traceparent     text NOT NULL DEFAULT ''
);
-- Event ids a consumer has already handled (at-least-once delivery, effect once).
CREATE TABLE {schema}.inbox (
  consumer   text NOT NULL,
  event_id   uuid NOT NULL,
  handled_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, event_id)
);
CREATE TABLE {schema}.checkpoints (
  projection      text PRIMARY KEY,
  transaction_id  xid8 NOT NULL,
  global_position bigint NOT NULL,
  updated_at      timestamptz NOT NULL DEFAULT now()
);`,
  },
  {
    // Backward compatible: rows written before it are version 1, and older code that does not
    // name the column still inserts (the default).
    id: "0002_event_schema_version",
    sql: `ALTER TABLE {schema}.events ADD COLUMN schema_version int NOT NULL DEFAULT 1 CHECK (schema_version > 0);`,
  },
];
