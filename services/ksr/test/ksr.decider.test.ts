import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fold, spec } from "@tigw/platform";
import {
  catalogueDecider,
  compliance,
  DEFAULT_SETTINGS,
  germanDay,
  germanInstant,
  occurrences,
  parseWindow,
  releaseDecider,
  seedEntries,
  tiBlockers,
  unitFirmwareDecider,
  type ReleaseFacts,
  type UnitFirmwareEvent,
} from "../src/index.js";

/** The deciders and pure rules of ksr, given/when/then; dates follow seed 000's PTV5#WR3 release. */
const UNIT = "7a0c2f7e-1b1c-4c55-9a3e-2f8a4f0d9e11";
const AT = "2024-01-10T09:00:00.000Z";
const WR3: ReleaseFacts = {
  updateId: "PTV5_WR3_5_50_4",
  product: "rz",
  fwVersion: "5.50.4:2.0.0",
  fwPriority: "Kritisch",
  startDate: "2024-01-15",
  deadline: "2024-02-19",
  releaseNotes: "PTV5#WR3",
  files: [{ filename: "rz.fw", size: 3, sha256: "a".repeat(64) }],
  creationDate: "2024-01-05",
  signerCertSerial: "01",
};
const catalogue = fold(catalogueDecider, catalogueDecider.decide({ type: "SeedCatalogue", entries: seedEntries(), at: AT }, { entries: {} }));
const entryOf = (product: string, version: string) => catalogue.entries[`${product}\u0000${version}`];
const enrolled: UnitFirmwareEvent = {
  type: "UnitEnrolled",
  data: { unitId: UNIT, serial: "RZK-1", product: "rz", firmware: "5.50.3:2.0.0", settings: DEFAULT_SETTINGS(), at: AT },
};
const ok = { ok: true } as const;

describe("firmware catalogue (seed 000)", () => {
  it("holds every version of the seed table for rz and einbox with its approval and date, plus terminal models", () => {
    const rz = Object.values(catalogue.entries).filter((e) => e.product === "rz");
    assert.equal(rz.length, 14);
    assert.deepEqual(
      [entryOf("rz", "5.50.4:2.0.0")!.approval, entryOf("rz", "5.50.4:2.0.0")!.approvalDate, entryOf("einbox", "5.1.3:2.0.0")!.approval],
      ["zugelassen", "2025-11-16", "Zulassung widerrufen"],
    );
    assert.equal(entryOf("rz", "2.0.38:2.0.0")!.approval, "Zulassung abgelaufen");
    assert.ok(Object.values(catalogue.entries).some((e) => e.product === "ORGA 6141 online" && e.group === "kt-orga-6141-online"));
  });

  it("seeding again adds nothing; cataloguing a known version is refused", () => {
    spec(catalogueDecider)
      .given(catalogueDecider.decide({ type: "SeedCatalogue", entries: seedEntries(), at: AT }, { entries: {} }))
      .when({ type: "SeedCatalogue", entries: seedEntries(), at: AT })
      .thenNothingHappened();
    spec(catalogueDecider)
      .given(catalogueDecider.decide({ type: "SeedCatalogue", entries: seedEntries(), at: AT }, { entries: {} }))
      .when({ type: "CatalogueVersion", entry: { ...entryOf("rz", "5.50.4:2.0.0")! }, at: AT })
      .thenThrows("VERSION_EXISTS");
  });
});

describe("release", () => {
  const publish = (r: Partial<ReleaseFacts> = {}, version = "5.50.4:2.0.0") => ({
    type: "PublishRelease" as const,
    release: { ...WR3, ...r },
    entry: entryOf("rz", version),
    at: AT,
  });

  it("publishes an approved version with start date and deadline", () => {
    spec(releaseDecider)
      .given([])
      .when(publish())
      .then([{ type: "ReleasePublished", data: { ...WR3, at: AT } }]);
  });

  it("refuses a revoked version, a deadline before the start, a bad UpdateID or priority", () => {
    spec(releaseDecider)
      .given([])
      .when(publish({ fwVersion: "5.1.3:2.0.0" }, "5.1.3:2.0.0"))
      .thenThrows("VERSION_NOT_APPROVED");
    spec(releaseDecider)
      .given([])
      .when(publish({ fwVersion: "9.9.9:2.0.0" }, "9.9.9:2.0.0"))
      .thenThrows("VERSION_NOT_CATALOGUED");
    spec(releaseDecider)
      .given([])
      .when(publish({ deadline: "2024-01-01" }))
      .thenThrows("DEADLINE_BEFORE_START");
    spec(releaseDecider)
      .given([])
      .when(publish({ updateId: "WR3-x" }))
      .thenThrows("INVALID_UPDATE_ID");
    spec(releaseDecider)
      .given([])
      .when(publish({ fwPriority: "Hoch" as "Normal" }))
      .thenThrows("INVALID_PRIORITY");
  });

  it("the same release again changes nothing; another version under its UpdateID is refused", () => {
    const published = releaseDecider.decide(publish(), releaseDecider.initialState());
    spec(releaseDecider).given(published).when(publish()).thenNothingHappened();
    spec(releaseDecider)
      .given(published)
      .when(publish({ fwVersion: "5.50.3:2.0.0" }, "5.50.3:2.0.0"))
      .thenThrows("UPDATE_ID_EXISTS");
  });
});

describe("unit firmware", () => {
  it("enrols with the defaults: auto-download on, auto-update on, Monday 01:00", () => {
    spec(unitFirmwareDecider)
      .given([])
      .when({ type: "Enrol", unitId: UNIT, serial: "RZK-1", product: "rz", firmware: "5.50.3:2.0.0", at: AT })
      .then((_, s) => assert.deepEqual(s.settings, { autoDownload: true, autoUpdate: true, window: "Mon 01:00" }));
  });

  it("refuses an update window that is no weekday and time", () => {
    spec(unitFirmwareDecider).given([enrolled]).when({ type: "ChangeSettings", window: "Monday 1am", at: AT }).thenThrows("INVALID_UPDATE_WINDOW");
  });

  it("a window before the start date does nothing; from the start date on it opens", () => {
    spec(unitFirmwareDecider).given([enrolled]).when({ type: "ReachWindow", occurrence: "2024-01-08T00:00:00.000Z", due: WR3, at: AT }).thenNothingHappened();
    spec(unitFirmwareDecider)
      .given([enrolled])
      .when({ type: "ReachWindow", occurrence: "2024-01-15T00:00:00.000Z", due: WR3, at: AT })
      .then([{ type: "UpdateWindowOpened", data: { unitId: UNIT, occurrence: "2024-01-15T00:00:00.000Z", updateId: WR3.updateId, at: AT } }]);
  });

  it("a window while the Konnektor is switched off is missed, and the same window never opens later", () => {
    const off: UnitFirmwareEvent = { type: "KonnektorSwitchedOff", data: { unitId: UNIT, at: AT } };
    const on: UnitFirmwareEvent = { type: "KonnektorSwitchedOn", data: { unitId: UNIT, at: AT } };
    const occurrence = "2024-01-15T00:00:00.000Z";
    spec(unitFirmwareDecider)
      .given([enrolled, off])
      .when({ type: "ReachWindow", occurrence, due: WR3, at: AT })
      .then((events) =>
        assert.deepEqual(
          events.map((e) => e.type),
          ["UpdateWindowMissed"],
        ),
      );
    const missed = unitFirmwareDecider.decide({ type: "ReachWindow", occurrence, due: WR3, at: AT }, fold(unitFirmwareDecider, [enrolled, off]));
    spec(unitFirmwareDecider)
      .given([enrolled, off, ...missed, on])
      .when({ type: "ReachWindow", occurrence, due: WR3, at: AT })
      .thenNothingHappened();
  });

  it("auto-update off: the window does nothing", () => {
    const offSetting: UnitFirmwareEvent = {
      type: "UpdateSettingsChanged",
      data: { unitId: UNIT, autoDownload: true, autoUpdate: false, window: "Mon 01:00", at: AT },
    };
    spec(unitFirmwareDecider)
      .given([enrolled, offSetting])
      .when({ type: "ReachWindow", occurrence: "2024-01-15T00:00:00.000Z", due: WR3, at: AT })
      .thenNothingHappened();
  });

  it("a verified package installs (UpdateVerified, FirmwareInstalled); a refused one records its code and installs nothing", () => {
    spec(unitFirmwareDecider)
      .given([enrolled])
      .when({ type: "RecordInstall", trigger: "auto", release: WR3, verification: ok, apply: ok, at: AT })
      .then((events, s) => {
        assert.deepEqual(
          events.map((e) => e.type),
          ["UpdateVerified", "FirmwareInstalled"],
        );
        assert.equal(s.firmware, "5.50.4:2.0.0");
      });
    spec(unitFirmwareDecider)
      .given([enrolled])
      .when({ type: "RecordInstall", trigger: "manual", release: WR3, verification: { ok: false, code: "4183", message: "hash" }, apply: ok, at: AT })
      .then((events, s) => {
        assert.deepEqual(
          events.map((e) => [e.type, (e.data as { code?: string }).code]),
          [["UpdateFailed", "4183"]],
        );
        assert.equal(s.firmware, "5.50.3:2.0.0");
      });
  });

  it("a failed apply is 4184 and rolls back to the version the unit ran", () => {
    spec(unitFirmwareDecider)
      .given([enrolled])
      .when({ type: "RecordInstall", trigger: "auto", release: WR3, verification: ok, apply: { ok: false, code: "4184", message: "disk" }, at: AT })
      .then((events, s) => {
        assert.deepEqual(
          events.map((e) => e.type),
          ["UpdateVerified", "UpdateFailed", "UpdateRolledBack"],
        );
        assert.equal((events[1]!.data as { code: string }).code, "4184");
        assert.equal(s.firmware, "5.50.3:2.0.0");
        assert.equal(s.lastResult, "4184");
      });
  });

  it("refuses an older or equal version, and any install while switched off", () => {
    spec(unitFirmwareDecider)
      .given([enrolled])
      .when({ type: "RecordInstall", trigger: "manual", release: { updateId: "X", fwVersion: "5.1.3:2.0.0" }, verification: ok, apply: ok, at: AT })
      .thenThrows("VERSION_NOT_NEWER");
    spec(unitFirmwareDecider)
      .given([enrolled, { type: "KonnektorSwitchedOff", data: { unitId: UNIT, at: AT } }])
      .when({ type: "RecordInstall", trigger: "manual", release: WR3, verification: ok, apply: ok, at: AT })
      .thenThrows("KONNEKTOR_SWITCHED_OFF");
  });

  it("a failed download is 4182", () => {
    spec(unitFirmwareDecider)
      .given([enrolled])
      .when({ type: "RecordDownload", release: WR3, outcome: { ok: false, code: "4182", message: "timeout" }, at: AT })
      .then((events) => assert.equal((events[0]!.data as { code: string }).code, "4182"));
  });
});

describe("windows, compliance and the TI-access clause", () => {
  it("Monday 01:00 German time: 00:00 UTC in winter, 23:00 UTC on Sunday in summer", () => {
    assert.deepEqual(occurrences(parseWindow("Mon 01:00"), "2024-01-10T00:00:00Z", "2024-01-23T00:00:00Z"), [
      "2024-01-15T00:00:00.000Z",
      "2024-01-22T00:00:00.000Z",
    ]);
    assert.deepEqual(occurrences(parseWindow("Mon 01:00"), "2024-07-01T00:00:00Z", "2024-07-09T00:00:00Z"), ["2024-07-07T23:00:00.000Z"]);
    assert.equal(occurrences(parseWindow("daily 03:30"), "2024-03-30T00:00:00Z", "2024-04-02T00:00:00Z").length, 3);
  });

  it("German days and wall-clock instants agree with the time-zone database across summer-time changes", () => {
    const tz = new Intl.DateTimeFormat("en-CA", { timeZone: "Europe/Berlin", year: "numeric", month: "2-digit", day: "2-digit" });
    const instants: number[] = [];
    // Every quarter hour of the two change weekends of 2024, and random instants 2015-2035.
    for (const around of ["2024-03-30T00:00:00Z", "2024-10-26T00:00:00Z"]) for (let q = 0; q < 4 * 72; q++) instants.push(Date.parse(around) + q * 900_000);
    for (let i = 0; i < 3_000; i++) instants.push(Date.UTC(2015, 0, 1) + Math.floor(Math.random() * 20 * 365 * 86_400_000));
    for (const ms of instants) assert.equal(germanDay(ms), tz.format(new Date(ms)), new Date(ms).toISOString());
    // 01:00 on the day summer time starts is still winter time; 03:00 is already summer time.
    assert.equal(new Date(germanInstant(2024, 3, 31, 1, 0)).toISOString(), "2024-03-31T00:00:00.000Z");
    assert.equal(new Date(germanInstant(2024, 3, 31, 3, 0)).toISOString(), "2024-03-31T01:00:00.000Z");
    assert.equal(new Date(germanInstant(2024, 10, 27, 4, 0)).toISOString(), "2024-10-27T03:00:00.000Z");
  });

  it("a critical release past its deadline blocks TI access until installed; a normal one only flags", () => {
    const unit = fold(unitFirmwareDecider, [enrolled]);
    assert.deepEqual(tiBlockers(unit, [WR3], "2024-02-18T12:00:00Z"), []);
    assert.equal(tiBlockers(unit, [WR3], "2024-02-19T00:30:00Z").length, 1);
    assert.deepEqual(tiBlockers(unit, [{ ...WR3, fwPriority: "Normal" }], "2024-03-01T00:00:00Z"), []);
    const installed = fold(unitFirmwareDecider, [
      enrolled,
      {
        type: "FirmwareInstalled",
        data: { unitId: UNIT, updateId: WR3.updateId, fromVersion: "5.50.3:2.0.0", toVersion: "5.50.4:2.0.0", trigger: "auto", at: AT },
      },
    ]);
    assert.deepEqual(tiBlockers(installed, [WR3], "2024-03-01T00:00:00Z"), []);
  });

  it("flags revoked firmware and auto-update off with an update due", () => {
    const revoked = fold(unitFirmwareDecider, [{ ...enrolled, data: { ...enrolled.data, firmware: "5.1.3" } }]);
    const c = compliance(revoked, [], catalogue, "2024-12-01T00:00:00Z");
    assert.equal(c.approval, "Zulassung widerrufen");
    assert.equal(c.severity, 2);
    const manual = fold(unitFirmwareDecider, [
      enrolled,
      { type: "UpdateSettingsChanged", data: { unitId: UNIT, autoDownload: true, autoUpdate: false, window: "Mon 01:00", at: AT } },
    ]);
    assert.ok(compliance(manual, [WR3], catalogue, "2024-01-20T00:00:00Z").flags.some((f) => f.startsWith("auto-update is off")));
  });
});
