import { join } from "node:path";
import { EmbeddedBus, embeddedSql, KafkaBus, OutboxRelay, postgresSql, SqlEventStore, type EventBus } from "../../src/index.js";

/** Store, bus and relay as the crash test's child and parent both open them. */
export async function openCrashSetup(): Promise<{ store: SqlEventStore; bus: EventBus; relay: OutboxRelay }> {
  const real = process.env["CRASH_KIND"] === "real";
  const dir = process.env["CRASH_DIR"] ?? "";
  const sql = real ? postgresSql(process.env["DATABASE_URL"]!) : await embeddedSql(join(dir, "service"));
  const store = await SqlEventStore.open(sql, process.env["CRASH_CONTEXT"]!);
  const bus: EventBus = real
    ? new KafkaBus({ brokers: process.env["KAFKA_BROKERS"]!.split(","), clientId: "tigw-crash" })
    : await EmbeddedBus.open(await embeddedSql(join(dir, "bus")), { pollMs: 50 });
  return { store, bus, relay: new OutboxRelay(store, bus, { pollMs: 20 }) };
}
