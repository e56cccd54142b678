import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkUnit, type UnitFacts } from "../src/diagnose/unit-check.js";

/** A unit as a technician leaves it: active, valid certificates, one connected terminal, the SMC-B unlocked, reads fine. */
const healthy = (): UnitFacts => ({
  unit: {
    serial: "RZK-0001",
    state: "active",
    computeUnits: [
      { index: 1, ktsUsed: 3, ktsLimit: 50 },
      { index: 2, ktsUsed: 0, ktsLimit: 50 },
    ],
  },
  securityModule: {
    tiAccess: true,
    identities: [
      { name: "C.NK.VPN", daysToExpiry: 700 },
      { name: "C.AK.AUT", daysToExpiry: 700 },
    ],
  },
  vpn: { registrationStatus: "Registriert", contractStatus: "Zugriff auf TI erlaubt", blocked: false, tiAccess: true, reasons: [], tiTunnel: "up" },
  mandanten: ["praxis-1"],
  terminals: [{ ctId: "KT-1", correlation: "aktiv", connected: true }],
  smbs: { "praxis-1": ["80276001011699900001"] },
  smcCards: [{ iccsn: "80276001011699900001", ctId: "KT-1", pin: "VERIFIED" }],
  reads: [{ outcome: "warning", result: 3, code: "11101" }],
});
const statusOf = (f: UnitFacts, check: string) => checkUnit(f).checks.find((c) => c.check === check)!;

describe("unit check (the technician's functional check)", () => {
  it("a healthy unit passes every check", () => {
    const r = checkUnit(healthy());
    assert.equal(r.status, "ok");
    assert.deepEqual(
      r.checks.map((c) => c.check),
      ["unit state", "TI access (gSMC-K)", "TI access (VPN-ZugD)", "KT slots", "card terminals", "SM-B of praxis-1", "VSDM (last 24 h)"],
    );
  });

  it("fails without TI access or a connected terminal; warns 90 days before expiry (seed 003: three months)", () => {
    assert.equal(statusOf({ ...healthy(), securityModule: { tiAccess: false, identities: [] } }, "TI access (gSMC-K)").status, "error");
    assert.equal(statusOf({ ...healthy(), securityModule: undefined }, "TI access (gSMC-K)").status, "error");
    const soon = statusOf({ ...healthy(), securityModule: { tiAccess: true, identities: [{ name: "C.NK.VPN", daysToExpiry: 89 }] } }, "TI access (gSMC-K)");
    assert.deepEqual([soon.status, /89 days/.test(soon.detail)], ["warning", true]);
    assert.equal(
      statusOf({ ...healthy(), securityModule: { tiAccess: true, identities: [{ name: "C.NK.VPN", daysToExpiry: 90 }] } }, "TI access (gSMC-K)").status,
      "ok",
    );
    const silent = { ...healthy(), terminals: [{ ctId: "KT-1", correlation: "aktiv", connected: false }] };
    assert.equal(checkUnit(silent).status, "error");
    const some = statusOf({ ...healthy(), terminals: [...healthy().terminals, { ctId: "KT-2", correlation: "gepairt", connected: false }] }, "card terminals");
    assert.deepEqual([some.status, some.detail], ["warning", "1 of 2 connected; not connected: KT-2"]);
    assert.equal(statusOf({ ...healthy(), terminals: [{ ctId: "KT-9", correlation: "bekannt", connected: false }] }, "card terminals").status, "warning");
    assert.equal(statusOf({ ...healthy(), unit: { ...healthy().unit, state: "blocked" } }, "unit state").status, "error");
  });

  it("fails without a VPN-ZugD registration or after a Sperrung, naming why; warns when the tunnel is down", () => {
    const none = statusOf(
      {
        ...healthy(),
        vpn: {
          registrationStatus: "Nicht registriert",
          contractStatus: "Kein Zugriff auf TI und SIS",
          blocked: false,
          tiAccess: false,
          reasons: ["not registered at the VPN-ZugD"],
          tiTunnel: "down",
        },
      },
      "TI access (VPN-ZugD)",
    );
    assert.deepEqual([none.status, /not registered.*tigw vpn register RZK-0001/.test(none.detail)], ["error", true]);
    const blocked = statusOf(
      {
        ...healthy(),
        vpn: {
          registrationStatus: "Nicht registriert",
          contractStatus: "Kein Zugriff auf TI und SIS",
          blocked: true,
          tiAccess: false,
          reasons: ["blocked at the VPN-ZugD (Sperrung: Diebstahl)"],
          tiTunnel: "down",
        },
      },
      "TI access (VPN-ZugD)",
    );
    assert.deepEqual([blocked.status, /Sperrung: Diebstahl/.test(blocked.detail)], ["error", true]);
    assert.equal(statusOf({ ...healthy(), vpn: { ...healthy().vpn!, tiTunnel: "down" } }, "TI access (VPN-ZugD)").status, "warning");
    assert.equal(statusOf({ ...healthy(), vpn: undefined }, "TI access (VPN-ZugD)").status, "warning");
  });

  it("names what ReadVSD would answer: 4009 without a managed SM-B, 3041 while its PIN is not verified", () => {
    assert.match(statusOf({ ...healthy(), smbs: {} }, "SM-B of praxis-1").detail, /4009/);
    assert.match(statusOf({ ...healthy(), smcCards: [] }, "SM-B of praxis-1").detail, /not inserted/);
    const locked = statusOf({ ...healthy(), smcCards: [{ iccsn: "80276001011699900001", ctId: "KT-1", pin: "TRANSPORT_PIN" }] }, "SM-B of praxis-1");
    assert.deepEqual([locked.status, /3041/.test(locked.detail)], ["warning", true]);
  });

  it("warns on KT slots at 90 % and on refusals or impossible online checks in the last day", () => {
    assert.equal(
      statusOf({ ...healthy(), unit: { ...healthy().unit, computeUnits: [{ index: 1, ktsUsed: 45, ktsLimit: 50 }] } }, "KT slots").status,
      "warning",
    );
    const refused = statusOf(
      {
        ...healthy(),
        reads: [
          { outcome: "error", result: 0, code: "3041" },
          { outcome: "ok", result: 2, code: "" },
        ],
      },
      "VSDM (last 24 h)",
    );
    assert.deepEqual([refused.status, /codes 3041/.test(refused.detail)], ["warning", true]);
    assert.equal(statusOf({ ...healthy(), reads: [{ outcome: "warning", result: 5, code: "" }] }, "VSDM (last 24 h)").status, "warning");
    assert.equal(statusOf({ ...healthy(), reads: [] }, "VSDM (last 24 h)").status, "ok");
  });
});
