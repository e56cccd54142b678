/**
 * npm run bench (tenancy): KT slot reservations through the application (resolve unit, load and
 * fold the unit stream, decide, append with the expected version, bring the fleet read model up
 * to date) against a bare one-event append to the same store in the same run. Also a burst of
 * 150 concurrent reservations on one unit (100 admitted), the case the card-terminal service
 * produces when a practice's terminals come up together. PostgreSQL when DATABASE_URL is set;
 * PGlite always.
 */
import { randomBytes } from "node:crypto";
import { embeddedSql, postgresSql, SqlEventStore, SystemClock, type Sql } from "@tigw/platform";
import { loadProfiles, Tenancy } from "../src/index.js";

const N = Number(process.env["BENCH_RESERVATIONS"] ?? 400);

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

async function timed(n: number, op: (i: number) => Promise<unknown>): Promise<{ perSec: number; p50: number; p99: number }> {
  const lat: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    await op(i);
    lat.push(performance.now() - s);
  }
  const secs = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  return { perSec: n / secs, p50: pct(lat, 50), p99: pct(lat, 99) };
}

async function bench(name: string, sql: Sql): Promise<void> {
  const context = `bench_tenancy_${randomBytes(3).toString("hex")}`;
  const store = await SqlEventStore.open(sql, context);
  const t = await Tenancy.open({
    store,
    clock: new SystemClock(),
    profiles: [
      ...loadProfiles(),
      { name: "bench", description: "bench", computeUnits: 2, ktPerComputeUnit: 1000, recommendedKts: 1000, maxMandanten: 10, firmware: "5.50.4:2.0.0" },
    ],
    vendorKeys: [],
  });
  await t.createUnit({ serial: "BENCH-0001", profile: "bench" });
  const fmt = (f: { perSec: number; p50: number; p99: number }) =>
    `${f.perSec.toFixed(0).padStart(5)}/s  p50 ${f.p50.toFixed(2)} ms  p99 ${f.p99.toFixed(2)} ms`;

  let version = 0;
  const append = await timed(N, async (i) => {
    const stream = `baseline-${Math.floor(i / 100)}`;
    if (i % 100 === 0) version = 0;
    version = (await store.append(stream, version, [{ type: "Baseline", data: { i } }])).nextExpectedVersion;
  });
  // Streams grow to N reservations, as a unit's does: the fold cost is part of the figure.
  const reserve = await timed(N, (i) => t.reserveKtSlot("BENCH-0001", `kt-${i}`));
  console.log(`${name} bare 1-event append:     ${fmt(append)}`);
  console.log(`${name} ReserveKtSlot (to ${N} KTs): ${fmt(reserve)}`);
  console.log(`${name} ratio reservation/append: ${(reserve.perSec / append.perSec).toFixed(2)}`);

  await t.createUnit({ serial: "BENCH-0002", profile: "rz" });
  const t0 = performance.now();
  const results = await Promise.allSettled(Array.from({ length: 150 }, (_, i) => t.reserveKtSlot("BENCH-0002", `burst-${i}`)));
  const ms = performance.now() - t0;
  const ok = results.filter((r) => r.status === "fulfilled").length;
  console.log(
    `${name} burst of 150 concurrent reservations on one rz unit: ${ok} admitted, ${150 - ok} refused, ${ms.toFixed(0)} ms (${(ms / 150).toFixed(2)} ms each)`,
  );
  await sql.exec(`DROP SCHEMA ${store.schema} CASCADE`);
}

async function main(): Promise<void> {
  await bench("embedded (PGlite)", await embeddedSql());
  const url = process.env["DATABASE_URL"];
  if (url) {
    const sql = postgresSql(url, { max: 10 });
    await bench("PostgreSQL", sql);
    await sql.close();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
