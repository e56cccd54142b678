import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { answer, type FakeGateway, fakeGateway, loggedIn, tigw } from "./support.js";
import { tempDir } from "@tigw/platform/testing";

const unitFirmware = (over: Record<string, unknown> = {}) => ({
  unitId: "u-1",
  serial: "RZK-0004",
  product: "rz",
  version: "5.1.3",
  approval: "Zulassung widerrufen",
  approvalDate: "2024-11-08",
  settings: { autoDownload: true, autoUpdate: true, window: "Mon 01:00" },
  dueUpdateId: "WR3",
  dueVersion: "5.50.4:2.0.0",
  duePriority: "Kritisch",
  dueStartDate: "2024-01-15",
  dueDeadline: "2024-02-19",
  downloadedUpdateId: "",
  nextWindow: "2024-01-15T00:00:00.000Z",
  flags: ["firmware 5.1.3: Zulassung widerrufen on 2024-11-08, update required"],
  tiBlockers: ["critical firmware update WR3 (5.50.4:2.0.0) past its deadline 2024-02-19: install it to regain TI access"],
  lastResult: "",
  lastMessage: "",
  updatedAt: "",
  versionOfStream: "1",
  ...over,
});

const terminalFirmware = (over: Record<string, unknown> = {}) => ({
  ctId: "KT-7",
  unitId: "u-1",
  product: "ORGA 6141 online",
  version: "3.8.0",
  paired: true,
  connected: false,
  approval: "Zulassung abgelaufen",
  approvalDate: "2024-03-31",
  dueUpdateId: "ORGA_3_9_2",
  dueVersion: "3.9.2",
  duePriority: "Normal",
  dueStartDate: "2024-01-15",
  dueDeadline: "2024-06-30",
  plannedUpdateId: "",
  flags: ["firmware 3.8.0: Zulassung abgelaufen since 2024-03-31, update required"],
  lastResult: "",
  lastMessage: "",
  updatedAt: "",
  ...over,
});

describe("tigw ksr, fleet firmware, unit update", () => {
  let gw: FakeGateway;
  before(async () => {
    gw = await fakeGateway({
      "GET /api/v1/fleet/firmware": () => ({ units: [unitFirmware()] }),
      "GET /api/v1/fleet/firmware/terminals": () => ({ terminals: [terminalFirmware()] }),
      "POST /api/v1/terminals/KT-7/firmware/update": () => terminalFirmware({ plannedUpdateId: "ORGA_3_9_2" }),
      "POST /api/v1/terminals/KT-8/firmware/update": () =>
        answer(
          409,
          { title: "TERMINAL_NOT_PAIRED", code: "TERMINAL_NOT_PAIRED", detail: "terminal KT-8 is not paired with a Konnektor" },
          "application/problem+json",
        ),
      "POST /api/v1/ksr/releases": (r) => ({ ...(r.body as object), signerCertSerial: "1A2B", files: [] }),
      "POST /api/v1/units/RZK-0004/firmware/update": () =>
        answer(422, { title: "4183", code: "4183", detail: "firmware file rz.fw does not match its hash" }, "application/problem+json"),
      "POST /api/v1/ksr/releases/WR3/offline": () => ({ updateId: "WR3", package: '{"format":"tigw-ksr-offline-1"}' }),
      "POST /api/v1/units/RZK-0004/firmware/offline": () => unitFirmware({ version: "5.50.4:2.0.0" }),
      "POST /api/v1/units/RZK-0004/firmware/settings": (r) =>
        unitFirmware({ settings: { autoDownload: true, autoUpdate: false, window: (r.body as { window: string }).window } }),
    });
    loggedIn(gw.url);
  });
  after(() => gw.close());

  it("fleet firmware: revoked firmware, the update due with its deadline, lost TI access", async () => {
    const r = await tigw(gw.url, "fleet", "firmware");
    assert.equal(r.code, 0);
    assert.match(r.out, /RZK-0004\s+5\.1\.3\s+Zulassung widerrufen 2024-11-08\s+5\.50\.4:2\.0\.0 \(Kritisch\)\s+2024-02-19/);
    assert.match(r.out, /NO TI ACCESS/);
    assert.match(r.out, /CARD TERMINALS[\s\S]*KT-7\s+ORGA 6141 online\s+3\.8\.0\s+Zulassung abgelaufen 2024-03-31\s+3\.9\.2 \(Normal\)\s+2024-06-30\s+paired/);
  });

  it("kt update plans a terminal's update (runs when it connects); an unpaired one is refused with the code", async () => {
    const r = await tigw(gw.url, "kt", "update", "KT-7");
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /update ORGA_3_9_2 planned for terminal KT-7 \(ORGA 6141 online 3\.8\.0\): it starts when the terminal connects/);
    const refused = await tigw(gw.url, "kt", "update", "KT-8");
    assert.equal(refused.code, 1);
    assert.match(refused.err, /TERMINAL_NOT_PAIRED/);
    const firmware = await tigw(gw.url, "kt", "firmware");
    assert.match(firmware.out, /KT-7\s+ORGA 6141 online\s+3\.8\.0/);
  });

  it("ksr publish sends the release; a missing option is a usage error naming it", async () => {
    const r = await tigw(
      gw.url,
      "ksr",
      "publish",
      "--update-id",
      "WR3",
      "--product",
      "rz",
      "--version",
      "5.50.4:2.0.0",
      "--priority",
      "Kritisch",
      "--start",
      "2024-01-15",
      "--deadline",
      "2024-02-19",
    );
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /published WR3: rz 5\.50\.4:2\.0\.0 \(Kritisch\), start 2024-01-15, deadline 2024-02-19, signed by 1A2B/);
    const missing = await tigw(gw.url, "ksr", "publish", "--update-id", "WR3");
    assert.equal(missing.code, 2);
    assert.match(missing.err, /missing --product/);
  });

  it("unit update: a refused package exits 1 with its gematik code", async () => {
    const r = await tigw(gw.url, "unit", "update", "RZK-0004");
    assert.equal(r.code, 1);
    assert.match(r.err, /4183/);
  });

  it("ksr export writes the offline package (owner-only); unit update --offline uploads it with its password", async () => {
    const file = join(tempDir("tigw-ksr-"), "wr3.pkg");
    const r = await tigw(gw.url, "ksr", "export", "WR3", "--password", "Techniker-4711!", "--out", file);
    assert.equal(r.code, 0, r.err);
    assert.equal(readFileSync(file, "utf8"), '{"format":"tigw-ksr-offline-1"}');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const up = await tigw(gw.url, "unit", "update", "RZK-0004", "--offline", file, "--password", "Techniker-4711!");
    assert.equal(up.code, 0, up.err);
    assert.deepEqual(gw.requests.at(-1)!.body, { package: '{"format":"tigw-ksr-offline-1"}', password: "Techniker-4711!" });
    assert.match(up.out, /Firmware:\s+5\.50\.4:2\.0\.0/);
    const noPassword = await tigw(gw.url, "unit", "update", "RZK-0004", "--offline", file);
    assert.equal(noPassword.code, 2);
    assert.match(noPassword.err, /missing --password/);
  });

  it("unit update-settings: --auto off and --window; on|off only", async () => {
    const r = await tigw(gw.url, "unit", "update-settings", "RZK-0004", "--auto", "off", "--window", "Tue 03:00");
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /Auto-update:\s+off/);
    assert.deepEqual(gw.requests.at(-1)!.body, { window: "Tue 03:00", autoUpdate: false });
    const bad = await tigw(gw.url, "unit", "update-settings", "RZK-0004", "--auto", "maybe");
    assert.equal(bad.code, 2);
  });
});
