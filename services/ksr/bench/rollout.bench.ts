/**
 * npm run bench (ksr): a release rolled out to 1,000 units (BENCH_KSR_UNITS) on the simulated
 * clock, embedded (PGlite, the in-process bus), as the issue asks: the simulated time until the
 * package reached every unit (the specification asks for at most 5 days) and from the start date
 * until every unit installed (set by the units' weekly windows), the wall
 * time of that run, and the verification cost per package. Baselines measured in the same run:
 * a bare 1-event append to ksr's own store (what every recorded step costs at least), and the two
 * bare ECDSA verifications a package needs (UpdateInformation and file) against verifyPackage
 * (which adds the chain to the TI sub-CA, validity, the C.FD.SIG policy, parsing and hashes).
 * Windows: spread over the week as operators set them (BENCH_KSR_WINDOWS=spread, the default),
 * or everyone on the default Monday 01:00 (=default), or "daily 01:00" (=daily).
 */
import { verify, X509Certificate } from "node:crypto";
import { eventually } from "@tigw/platform/testing";
import { verifyPackage } from "../src/index.js";
import { startFleet } from "../test/support.js";

const UNITS = Number(process.env["BENCH_KSR_UNITS"] ?? 1000);
const MODE = process.env["BENCH_KSR_WINDOWS"] ?? "spread";
const WEEK = ["Mon 01:00", "Tue 02:30", "Wed 01:00", "Thu 23:45", "Fri 01:00", "Sat 04:00", "Sun 01:00"];
const windowOf = (i: number) => (MODE === "daily" ? "daily 01:00" : MODE === "default" ? "Mon 01:00" : WEEK[i % WEEK.length]!);
const START = "2024-01-15";

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;

async function main(): Promise<void> {
  const t0 = performance.now();
  const fleet = await startFleet("2024-01-01T08:00:00.000Z");
  const k = fleet.ksr.ksr;
  const serials = Array.from({ length: UNITS }, (_, i) => `RZK-BENCH-${String(i).padStart(4, "0")}`);
  for (let i = 0; i < UNITS; i += 20)
    await Promise.all(
      serials.slice(i, i + 20).map((serial) => fleet.tenancy.tenancy.createUnit({ serial, profile: "rz", firmware: "5.50.3:2.0.0", producedOn: "2023-06-01" })),
    );
  // Counted on the store, not with list(): the full compliance view of every unit is too heavy to poll.
  const enrolled = async () =>
    Number((await k.store.sql.query<{ n: string }>(`SELECT count(*) AS n FROM ${k.store.schema}.events WHERE type = 'UnitEnrolled'`))[0]!.n);
  let shown = 0;
  await eventually(
    async () => {
      const n = await enrolled();
      if (performance.now() - shown > 30_000) {
        console.log(`ksr   set-up: ${n}/${UNITS} enrolled after ${((performance.now() - t0) / 1000).toFixed(0)} s`);
        shown = performance.now();
      }
      return n === UNITS;
    },
    600_000,
    "ksr enrols every unit",
  );
  for (let i = 0; i < UNITS; i += 20)
    await Promise.all(serials.slice(i, i + 20).map((s, j) => (windowOf(i + j) === "Mon 01:00" ? undefined : k.changeSettings(s, { window: windowOf(i + j) }))));
  const setUpMs = performance.now() - t0;

  await k.publish({
    updateId: "BENCH_5_50_4",
    product: "rz",
    fwVersion: "5.50.4:2.0.0",
    fwPriority: "Kritisch",
    startDate: START,
    deadline: "2024-02-19",
    releaseNotes: "bench",
  });
  // Auto-download: the next scheduler tick (a minute later, as TIGW_KSR_TICK_SECONDS' default)
  // fetches the package to every unit. This is what the specification's 5 days bound ("a package
  // must reach all Konnektoren"). Then the walk over the start date and a week of windows.
  const walk0 = performance.now();
  const publishedAt = fleet.clock.now().getTime();
  await fleet.advance("1m");
  const downloadMs = performance.now() - walk0;
  const downloads = (await k.store.readAll(undefined, 1_000_000)).filter((e) => e.type === "UpdateDownloaded").map((e) => (e.data as { at: string }).at);
  const reachedMinutes = downloads.length ? (Date.parse(downloads.sort().at(-1)!) - publishedAt) / 60_000 : NaN;
  console.log(`ksr   set-up ${(setUpMs / 1000).toFixed(1)} s; ${downloads.length}/${UNITS} downloaded in ${(downloadMs / 1000).toFixed(1)} s wall`);
  await fleet.advance("13d"); // 2024-01-14T08:01Z
  for (let day = 0; day < 8; day++) {
    await fleet.advance("1d");
    const done = (await k.list()).filter((u) => u.firmware === "5.50.4:2.0.0").length;
    console.log(`ksr   ${fleet.clock.now().toISOString()}: ${done}/${UNITS} installed, wall ${((performance.now() - walk0) / 1000).toFixed(1)} s`);
  }
  const walkMs = performance.now() - walk0;

  const installs = (await k.store.readAll(undefined, 1_000_000)).filter((e) => e.type === "FirmwareInstalled").map((e) => (e.data as { at: string }).at);
  const last = installs.sort().at(-1) ?? "";
  const startsAt = Date.parse("2024-01-14T23:00:00Z"); // 15.01.2024 00:00 German time
  const simulatedDays = last ? (Date.parse(last) - startsAt) / 86_400_000 : NaN;

  // Baseline 1: a bare 1-event append to the same store, as many as units.
  let version = 0;
  const a0 = performance.now();
  for (let i = 0; i < UNITS; i++) version = (await k.store.append("bench-baseline", version, [{ type: "Baseline", data: { i } }])).nextExpectedVersion;
  const appendMs = (performance.now() - a0) / UNITS;

  // Verification: verifyPackage against the two bare signature checks of the same package.
  const pkg = await k.download("BENCH_5_50_4");
  const catalogue = await k.catalogue();
  const signer = new X509Certificate(pkg.signerCertificate);
  const unit = { product: "rz", firmware: "5.50.3:2.0.0" };
  const full: number[] = [];
  const bare: number[] = [];
  for (let i = 0; i < 200; i++) {
    let s = performance.now();
    const v = verifyPackage(pkg, { subCas: k.trustedSubCas, now: new Date("2024-01-15T01:00:00Z"), unit, catalogue });
    full.push(performance.now() - s);
    if (!v.ok) throw new Error(`the bench package does not verify: ${v.reason}`);
    s = performance.now();
    verify("sha256", Buffer.from(pkg.updateInformation, "utf8"), signer.publicKey, Buffer.from(pkg.signature, "base64"));
    verify("sha256", Buffer.from(pkg.files[0]!.content, "base64"), signer.publicKey, Buffer.from(pkg.files[0]!.signature, "base64"));
    bare.push(performance.now() - s);
  }
  await fleet.stop();

  const perUnit = walkMs / Math.max(1, installs.length);
  console.log(`ksr rollout, embedded, ${UNITS} units, windows ${MODE}; set-up (create, enrol, settings) ${(setUpMs / 1000).toFixed(1)} s`);
  console.log(
    `ksr   reached (downloaded) ${downloads.length}/${UNITS} ${reachedMinutes.toFixed(0)} simulated minutes after publication (asked: every Konnektor within 5 days), ${(downloadMs / 1000).toFixed(1)} s wall`,
  );
  console.log(
    `ksr   installed ${installs.length}/${UNITS}; the last at ${last}: ${simulatedDays.toFixed(2)} simulated days after the start date (set by the units' windows)`,
  );
  console.log(
    `ksr   wall time of the walk (download, 8 simulated days of windows): ${(walkMs / 1000).toFixed(1)} s, ${perUnit.toFixed(1)} ms per installed unit`,
  );
  console.log(`ksr   baseline bare 1-event append ${appendMs.toFixed(2)} ms; ratio per-unit rollout / append ${(perUnit / appendMs).toFixed(1)}`);
  console.log(
    `ksr   verifyPackage p50 ${pct(full, 50).toFixed(2)} ms (p99 ${pct(full, 99).toFixed(2)}); bare 2x ECDSA verify p50 ${pct(bare, 50).toFixed(2)} ms; ratio ${(pct(full, 50) / pct(bare, 50)).toFixed(2)}`,
  );
  if (installs.length !== UNITS || downloads.length !== UNITS) process.exitCode = 1;
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
