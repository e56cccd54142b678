import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fold, spec } from "@tigw/platform";
import {
  DEFAULT_SETTINGS,
  terminalFirmwareDecider,
  terminalsPending,
  unitFirmwareDecider,
  type ReleaseFacts,
  type TerminalFirmwareEvent,
  type UnitFirmwareEvent,
} from "../src/index.js";

/** The card-terminal side of the KSR, given/when/then: only paired terminals update; the batch waits for them. */
const AT = "2024-01-15T09:00:00.000Z";
const MODEL = "ORGA 6141 online";
const KT_RELEASE: ReleaseFacts = {
  updateId: "ORGA_3_9_2",
  product: MODEL,
  fwVersion: "3.9.2",
  fwPriority: "Normal",
  startDate: "2024-01-15",
  deadline: "2024-03-31",
  releaseNotes: "",
  files: [{ filename: "kt.fw", size: 3, sha256: "a".repeat(64) }],
  creationDate: "2024-01-05",
  signerCertSerial: "01",
};
const observed = (facts: Partial<{ paired: boolean; connected: boolean; firmware: string; unitId: string }> = {}): TerminalFirmwareEvent => ({
  type: "TerminalObserved",
  data: { ctId: "KT-1", unitId: "u1", product: MODEL, firmware: "3.9.0", paired: true, connected: false, ...facts, at: AT },
});
const ok = { ok: true } as const;

describe("terminal firmware", () => {
  it("records what card-terminal says once; a repeat records nothing", () => {
    spec(terminalFirmwareDecider)
      .given([])
      .when({ type: "Observe", ctId: "KT-1", facts: { unitId: "u1", product: MODEL, firmware: "3.9.0", paired: true, connected: false }, at: AT })
      .then([observed()]);
    spec(terminalFirmwareDecider)
      .given([observed()])
      .when({ type: "Observe", ctId: "KT-1", facts: { paired: true }, at: AT })
      .thenNothingHappened();
  });

  it("plans an update only for a paired terminal and only to a newer version of its model", () => {
    spec(terminalFirmwareDecider)
      .given([observed({ paired: false, unitId: "" })])
      .when({ type: "PlanUpdate", release: KT_RELEASE, at: AT })
      .thenThrows("TERMINAL_NOT_PAIRED");
    spec(terminalFirmwareDecider)
      .given([observed({ firmware: "3.9.2" })])
      .when({ type: "PlanUpdate", release: KT_RELEASE, at: AT })
      .thenThrows("VERSION_NOT_NEWER");
    spec(terminalFirmwareDecider)
      .given([observed()])
      .when({ type: "PlanUpdate", release: { ...KT_RELEASE, product: "Cherry ST-1506" }, at: AT })
      .thenThrows("VERSION_NOT_NEWER");
    spec(terminalFirmwareDecider).given([]).when({ type: "PlanUpdate", release: KT_RELEASE, at: AT }).thenThrows("TERMINAL_NOT_FOUND");
  });

  it("a verified package installs; a refused one (4181-4185) changes nothing; a failed apply (4184) keeps the version", () => {
    spec(terminalFirmwareDecider)
      .given([observed()])
      .when({ type: "RecordTerminalUpdate", release: KT_RELEASE, verification: ok, apply: ok, at: AT })
      .then((events, s) => {
        assert.deepEqual(
          events.map((e) => e.type),
          ["TerminalUpdateVerified", "TerminalFirmwareInstalled"],
        );
        assert.deepEqual([s.firmware, s.lastResult], ["3.9.2", "OK"]);
      });
    spec(terminalFirmwareDecider)
      .given([observed()])
      .when({ type: "RecordTerminalUpdate", release: KT_RELEASE, verification: { ok: false, code: "4183", message: "hash" }, apply: ok, at: AT })
      .then((events, s) => {
        assert.deepEqual(
          events.map((e) => e.type),
          ["TerminalUpdateFailed"],
        );
        assert.deepEqual([s.firmware, s.lastResult], ["3.9.0", "4183"]);
      });
    spec(terminalFirmwareDecider)
      .given([observed()])
      .when({ type: "RecordTerminalUpdate", release: KT_RELEASE, verification: ok, apply: { ok: false, code: "4184", message: "failed" }, at: AT })
      .then((_events, s) => assert.deepEqual([s.firmware, s.lastResult], ["3.9.0", "4184"]));
  });

  it("a batch's Konnektor release misses its window while a paired terminal of the unit still has an update due", () => {
    const pending = terminalsPending(
      [
        { ctId: "KT-1", product: MODEL, firmware: "3.9.0", paired: true },
        { ctId: "KT-2", product: MODEL, firmware: "3.9.2", paired: true },
        { ctId: "KT-3", product: MODEL, firmware: "3.9.0", paired: false },
      ],
      [KT_RELEASE],
      AT,
    );
    assert.deepEqual(pending, ["KT-1 (3.9.0 -> 3.9.2)"]);
    assert.deepEqual(
      terminalsPending([{ ctId: "KT-1", product: MODEL, firmware: "3.9.0", paired: true }], [KT_RELEASE], "2024-01-10T09:00:00.000Z"),
      [],
      "not before its start date",
    );
    const enrolled: UnitFirmwareEvent = {
      type: "UnitEnrolled",
      data: { unitId: "u1", serial: "RZK-1", product: "rz", firmware: "5.50.3:2.0.0", settings: DEFAULT_SETTINGS(), at: AT },
    };
    const batch: ReleaseFacts = { ...KT_RELEASE, updateId: "RZ_BATCH", product: "rz", fwVersion: "5.50.4:2.0.0", afterTerminals: true };
    const window = "2024-01-15T00:00:00.000Z";
    spec(unitFirmwareDecider)
      .given([enrolled])
      .when({ type: "ReachWindow", occurrence: window, due: batch, terminalsPending: pending, at: window })
      .then((events) => {
        assert.equal(events[0]?.type, "UpdateWindowMissed");
        assert.match((events[0]!.data as { reason: string }).reason, /card terminals update first: KT-1/);
      });
    spec(unitFirmwareDecider)
      .given([enrolled])
      .when({ type: "ReachWindow", occurrence: window, due: batch, terminalsPending: [], at: window })
      .then((events) => assert.equal(events[0]?.type, "UpdateWindowOpened"));
    assert.equal(fold(unitFirmwareDecider, [enrolled]).firmware, "5.50.3:2.0.0");
  });
});
