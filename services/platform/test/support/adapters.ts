import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DomainError, EmbeddedBus, embeddedSql, KafkaBus, postgresSql, SqlEventStore, type EventBus, type Sql } from "../../src/index.js";

/** A fresh context name per test, so runs against a shared PostgreSQL or Kafka never collide. */
export const freshContext = (prefix = "t"): string => `${prefix}_${randomBytes(5).toString("hex")}`;

/**
 * A fresh directory under the system temp dir, removed when the test process exits: an embedded
 * run's data (PGlite stores, about 40 MB per service) would otherwise pile up run after run.
 */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  if (tempDirs.size === 0) process.once("exit", () => tempDirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  tempDirs.add(dir);
  return dir;
}
const tempDirs = new Set<string>();

export interface StoreAdapter {
  name: "embedded" | "postgres";
  sql(): Promise<Sql>;
}

export interface BusAdapter {
  name: "embedded" | "kafka";
  bus(): Promise<EventBus>;
}

/** Embedded always; real PostgreSQL when DATABASE_URL is set. */
export function storeAdapters(): StoreAdapter[] {
  const list: StoreAdapter[] = [{ name: "embedded", sql: () => embeddedSql() }];
  const url = process.env["DATABASE_URL"];
  if (url) list.push({ name: "postgres", sql: async () => postgresSql(url, { max: 30 }) });
  return list;
}

/** Embedded always; real Kafka when KAFKA_BROKERS is set. */
export function busAdapters(): BusAdapter[] {
  const list: BusAdapter[] = [{ name: "embedded", bus: async () => EmbeddedBus.open(await embeddedSql(), { pollMs: 50 }) }];
  const brokers = process.env["KAFKA_BROKERS"];
  if (brokers) list.push({ name: "kafka", bus: async () => new KafkaBus({ brokers: brokers.split(","), clientId: "tigw-test" }) });
  return list;
}

export async function openStore(adapter: StoreAdapter, context = freshContext()): Promise<SqlEventStore> {
  return SqlEventStore.open(await adapter.sql(), context);
}

/** Polls until check() is true or the time is up (then the last failure is thrown). */
export async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 30_000, what = "condition"): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Store and bus pairs a service suite runs on: embedded always, PostgreSQL with Kafka in CI. */
export function serviceSetups(): { store: StoreAdapter; bus: BusAdapter }[] {
  const stores = storeAdapters();
  const buses = busAdapters();
  const setups = [{ store: stores[0]!, bus: buses[0]! }];
  if (stores[1] && buses[1]) setups.push({ store: stores[1], bus: buses[1] });
  return setups;
}

/** Awaits a call that must be refused and returns the DomainError it was refused with. */
export async function refusal(p: Promise<unknown>): Promise<DomainError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof DomainError, `expected a DomainError, got ${String(e)}`);
    return e;
  }
  assert.fail("expected a refusal");
}
