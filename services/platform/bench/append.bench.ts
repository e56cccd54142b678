/**
 * npm run bench: event append throughput and latency against a raw INSERT;COMMIT baseline
 * measured in the same run on the same database with the same durability, and the latency from
 * append to consumer through the outbox relay and the bus. Real PostgreSQL / Kafka when
 * DATABASE_URL / KAFKA_BROKERS are set; the embedded adapters always.
 */
import { cpus, totalmem } from "node:os";
import { EmbeddedBus, embeddedSql, KafkaBus, OutboxRelay, postgresSql, SqlEventStore, topicOf, type EventBus, type Sql } from "../src/index.js";

const SECONDS = Number(process.env["BENCH_SECONDS"] ?? 4);

interface Figures {
  opsPerSec: number;
  p50: number;
  p99: number;
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

/** Runs op back to back for SECONDS (after a short warm-up); latency in ms. */
async function measure(op: (i: number) => Promise<void>): Promise<Figures> {
  for (let i = 0; i < 50; i++) await op(-i - 1);
  const lat: number[] = [];
  const end = performance.now() + SECONDS * 1000;
  const t0 = performance.now();
  for (let i = 0; performance.now() < end; i++) {
    const s = performance.now();
    await op(i);
    lat.push(performance.now() - s);
  }
  const elapsed = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  return { opsPerSec: lat.length / elapsed, p50: pct(lat, 50), p99: pct(lat, 99) };
}

const fmt = (f: Figures, unit = "appends/s") => `${f.opsPerSec.toFixed(0).padStart(6)} ${unit}  p50 ${f.p50.toFixed(2)} ms  p99 ${f.p99.toFixed(2)} ms`;

async function benchStore(name: string, sql: Sql): Promise<void> {
  const run = Date.now().toString(36);
  const store = await SqlEventStore.open(sql, `bench_${run}`);
  await sql.exec(`CREATE TABLE ${store.schema}.raw (id bigserial PRIMARY KEY, stream_id text, data jsonb)`);
  for (const batch of [1, 100]) {
    const rows = Array.from({ length: batch }, (_, i) => `($1, '{"n":${i}}')`).join(",");
    const raw = await measure((i) => sql.query(`INSERT INTO ${store.schema}.raw (stream_id, data) VALUES ${rows}`, [`s${i}`]).then(() => undefined));
    const events = Array.from({ length: batch }, (_, n) => ({ type: "Benchmarked", data: { n }, unitId: "unit-1" }));
    const versions = new Map<string, number>();
    const append = await measure(async (i) => {
      const stream = `${batch}-${Math.floor(i / 100)}`; // streams of 100 appends, like a busy aggregate
      const r = await store.append(stream, versions.get(stream) ?? 0, events);
      versions.set(stream, r.nextExpectedVersion);
    });
    console.log(`${name} ${String(batch).padStart(3)}-event append: ${fmt(append)}`);
    console.log(`${name} ${String(batch).padStart(3)}-row INSERT;COMMIT baseline: ${fmt(raw, "commits/s")}`);
    console.log(`${name} ${String(batch).padStart(3)}-event ratio append/baseline: ${(append.opsPerSec / raw.opsPerSec).toFixed(2)}`);
  }
  await sql.exec(`DROP SCHEMA ${store.schema} CASCADE`);
}

async function benchDelivery(name: string, sql: Sql, bus: EventBus): Promise<void> {
  const store = await SqlEventStore.open(sql, `benchbus_${Date.now().toString(36)}`);
  const relay = new OutboxRelay(store, bus, { pollMs: 100 });
  const appendedAt = new Map<string, number>();
  const lat: number[] = [];
  let waiting: (() => void) | undefined;
  const sub = await bus.subscribe({
    groupId: `bench-${store.schema}`,
    topics: [topicOf(store.context)],
    handler: async (m) => {
      const t = appendedAt.get(m.headers["event-id"]!);
      if (t !== undefined) lat.push(performance.now() - t);
      waiting?.();
    },
  });
  relay.start();
  const N = 300;
  for (let i = 0; i < N; i++) {
    const delivered = new Promise<void>((r) => (waiting = r));
    const before = performance.now();
    const r = await store.append(`s${i}`, 0, [{ type: "Benchmarked", data: { i }, unitId: `unit-${i % 10}` }]);
    appendedAt.set(r.events[0]!.eventId, before);
    await Promise.race([delivered, new Promise((r) => setTimeout(r, 5000))]);
  }
  await relay.stop();
  await sub.stop();
  lat.sort((a, b) => a - b);
  console.log(`${name} outbox -> consumer latency (${lat.length} events): p50 ${pct(lat, 50).toFixed(2)} ms  p99 ${pct(lat, 99).toFixed(2)} ms`);
}

async function main(): Promise<void> {
  console.log(
    `ti-gateway bench ${new Date().toISOString()} on ${cpus().length}x ${cpus()[0]?.model ?? "?"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`,
  );
  const url = process.env["DATABASE_URL"];
  if (url) {
    const sql = postgresSql(url);
    const [v] = await sql.query<{ v: string; sc: string }>("SELECT version() AS v, current_setting('synchronous_commit') AS sc");
    console.log(`postgres: ${v!.v.split(" on ")[0]}, synchronous_commit=${v!.sc}`);
    await benchStore("postgres", sql);
    if (process.env["KAFKA_BROKERS"]) {
      const bus = new KafkaBus({ brokers: process.env["KAFKA_BROKERS"].split(","), clientId: "tigw-bench" });
      await benchDelivery("postgres+kafka", sql, bus);
      await bus.close();
    }
    await sql.close();
  } else console.log("postgres: skipped (DATABASE_URL not set)");
  const sql = await embeddedSql();
  await benchStore("embedded", sql);
  const bus = await EmbeddedBus.open(await embeddedSql(), { pollMs: 100 });
  await benchDelivery("embedded", sql, bus);
  await bus.close();
  await sql.close();
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
