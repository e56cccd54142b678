import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { eventually } from "@tigw/platform/testing";
import { occurrences, parseWindow } from "../src/index.js";
import { startFleet, type Fleet } from "./support.js";

/**
 * Seed 000's PTV5#WR3 rollout rehearsed on the simulated clock: rz units on 5.50.3:2.0.0,
 * release 5.50.4:2.0.0 (Kritisch) with start 15.01.2024 and deadline 19.02.2024, the units'
 * windows spread over the week. Every unit with auto-update installs in its first window from
 * the start date on; tenancy's unit then runs 5.50.4:2.0.0. The unit with auto-update off is
 * flagged, and from the deadline on the KSR blocks its TI access.
 */
/** 50 by default so the suite stays well under a minute on a shared CI machine; TIGW_KSR_ROLLOUT_UNITS=100 (or 1000) for the full rehearsal. */
const UNITS = Number(process.env["TIGW_KSR_ROLLOUT_UNITS"] ?? 50);
const WINDOWS = ["Mon 01:00", "Tue 02:30", "Wed 01:00", "Thu 23:45", "Fri 01:00", "Sat 04:00", "Sun 01:00"];
const MANUAL = `RZK-WR3-${String(UNITS - 1).padStart(3, "0")}`;

describe(`PTV5#WR3 rollout rehearsal (${UNITS} units, simulated clock, embedded)`, () => {
  let fleet: Fleet;
  const serials = Array.from({ length: UNITS }, (_, i) => `RZK-WR3-${String(i).padStart(3, "0")}`);
  const windowOf = (i: number) => WINDOWS[i % WINDOWS.length]!;
  let wallMs = 0;

  before(async () => {
    const t0 = Date.now();
    fleet = await startFleet("2024-01-01T08:00:00.000Z");
    for (let i = 0; i < UNITS; i += 10)
      await Promise.all(
        serials
          .slice(i, i + 10)
          .map((serial) => fleet.tenancy.tenancy.createUnit({ serial, profile: "rz", firmware: "5.50.3:2.0.0", producedOn: "2023-06-01" })),
      );
    await eventually(async () => (await fleet.ksr.ksr.list()).length === UNITS, 60_000, "ksr enrols every unit from tenancy's UnitCreated");
    const setUp = async (serial: string, i: number) => {
      if (serial === MANUAL) await fleet.ksr.ksr.changeSettings(serial, { autoUpdate: false });
      else if (windowOf(i) !== "Mon 01:00") await fleet.ksr.ksr.changeSettings(serial, { window: windowOf(i) });
    };
    for (let i = 0; i < UNITS; i += 10) await Promise.all(serials.slice(i, i + 10).map((s, j) => setUp(s, i + j)));
    process.stdout.write(`# rollout: ${UNITS} units created, enrolled and set up in ${Date.now() - t0} ms\n`);
  });
  after(() => fleet.stop());

  it("the release is published signed; units download it at once but install nothing before the start date", async () => {
    const release = await fleet.ksr.ksr.publish({
      updateId: "PTV5_WR3_5_50_4",
      product: "rz",
      fwVersion: "5.50.4:2.0.0",
      fwPriority: "Kritisch",
      startDate: "2024-01-15",
      deadline: "2024-02-19",
      releaseNotes: "PTV5#WR3 Wartungsrelease",
    });
    assert.equal(release.signerCertSerial, fleet.ksr.ksr.signerCertificate.certSerial);
    const started = Date.now();
    await fleet.advance("1d");
    const units = await fleet.ksr.ksr.list();
    assert.ok(
      units.every((u) => u.downloaded === "PTV5_WR3_5_50_4"),
      "auto-download is on by default",
    );
    await fleet.advance("12d"); // 2024-01-14T08:00Z: the day before the start date
    assert.ok((await fleet.ksr.ksr.list()).every((u) => u.firmware === "5.50.3:2.0.0"));
    wallMs += Date.now() - started;
  });

  it("every unit with auto-update installs in its first window from the start date on", async () => {
    const started = Date.now();
    for (let day = 0; day < 8; day++) await fleet.advance("1d");
    wallMs += Date.now() - started;
    const units = await fleet.ksr.ksr.list();
    for (const u of units) {
      if (u.serial === MANUAL) continue;
      assert.equal(u.firmware, "5.50.4:2.0.0", `${u.serial} (${u.settings.window}) runs ${u.firmware}; last result ${u.lastResult} ${u.lastMessage}`);
    }
    // The install happened at the unit's first window on or after 15.01.2024 (German time), not later.
    const installs = (await fleet.ksr.ksr.store.readAll(undefined, 100_000)).filter((e) => e.type === "FirmwareInstalled");
    assert.equal(installs.length, UNITS - 1);
    for (const e of installs) {
      const unit = units.find((u) => u.unitId === e.unitId)!;
      const first = occurrences(parseWindow(unit.settings.window), "2024-01-14T12:00:00.000Z", "2024-01-23T00:00:00.000Z")[0]!;
      assert.equal((e.data as { at: string }).at, first, `${unit.serial} installed in its first window`);
    }
    const last = installs
      .map((e) => (e.data as { at: string }).at)
      .sort()
      .at(-1)!;
    process.stdout.write(
      `# rollout: ${UNITS - 1} units installed, the last at ${last} (${((Date.parse(last) - Date.parse("2024-01-14T23:00:00Z")) / 86_400_000).toFixed(1)} simulated days after the start); wall time ${wallMs} ms\n`,
    );
  });

  it("tenancy's units run the new firmware (via ksr's FirmwareInstalled on the bus)", async () => {
    await eventually(
      async () => (await fleet.tenancy.tenancy.listUnits()).filter((u) => u.firmware === "5.50.4:2.0.0").length === UNITS - 1,
      30_000,
      "tenancy records the firmware",
    );
    assert.equal((await fleet.tenancy.tenancy.getUnit(MANUAL)).firmware, "5.50.3:2.0.0");
  });

  it("the unit with auto-update off is flagged, and loses TI access from the deadline on until it is updated by hand", async () => {
    const manual = await fleet.ksr.ksr.view(MANUAL);
    assert.equal(manual.firmware, "5.50.3:2.0.0");
    assert.ok(manual.flags.some((f) => f.startsWith("auto-update is off")));
    assert.deepEqual(await fleet.ksr.ksr.tiBlockers(MANUAL), []);
    await fleet.clock.advance("28d"); // 2024-02-19 (Monday): the deadline
    await fleet.ksr.ksr.tick();
    const blockers = await fleet.ksr.ksr.tiBlockers(MANUAL);
    assert.equal(blockers.length, 1);
    assert.match(blockers[0]!, /PTV5_WR3_5_50_4 .* past its deadline 2024-02-19/);
    assert.equal((await fleet.ksr.ksr.list())[0]!.serial, MANUAL, "worst first");
    const updated = await fleet.ksr.ksr.updateUnit(MANUAL);
    assert.equal(updated.firmware, "5.50.4:2.0.0");
    assert.deepEqual(updated.tiBlockers, []);
  });
});
