import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type FakeGateway, fakeGateway, loggedIn, tigw, unitFixture } from "./support.js";

describe("tigw fleet", () => {
  let gw: FakeGateway;
  const check = (unit: string, status: string, notOk: { check: string; detail: string }[] = []) => ({
    unit,
    status,
    checks: [{ check: "state", status: "ok", detail: "active" }, ...notOk.map((c) => ({ ...c, status }))],
  });
  before(async () => {
    gw = await fakeGateway({
      "GET /api/v1/fleet": () => ({
        totals: { units: 2, byState: { active: 1, blocked: 1 }, ktsUsed: 2, ktsLimit: 200 },
        units: [
          unitFixture({
            gsmck: { notAfter: "2025-06-01T00:00:00.000Z", daysToExpiry: 88, exchangeDue: true, lzvApplies: false, tiAccess: true },
            ti: { access: true, sis: true, blocked: false },
          }),
          unitFixture({ serial: "RZK-0002", state: "blocked", gsmck: null, ti: { access: false, sis: false, blocked: true } }),
        ],
      }),
      "GET /api/v1/units": () => ({ units: [unitFixture({ serial: "A" }), unitFixture({ serial: "B" }), unitFixture({ serial: "C" })] }),
      "GET /api/v1/units/A/check": () => check("A", "ok"),
      "GET /api/v1/units/B/check": () => check("B", "warning", [{ check: "terminals", detail: "1 of 2 connected" }]),
      "GET /api/v1/units/C/check": () =>
        check("C", "error", [
          { check: "ti-access", detail: "revoked" },
          { check: "smb", detail: "none" },
        ]),
      "GET /api/v1/fleet/expiries?within=90d": () => ({
        now: "2025-03-04T00:00:00.000Z",
        expiries: [
          {
            unitId: "u-3",
            serial: "RZK-0003",
            identity: "C.NK.VPN",
            notAfter: "2025-02-01T00:00:00.000Z",
            daysToExpiry: -31,
            lzvApplies: false,
            lzvReason: "LZV_NOT_ELIGIBLE",
            exchangeDue: true,
            tiAccess: false,
            expired: true,
          },
          {
            unitId: "u-1",
            serial: "RZK-0001",
            identity: "C.NK.VPN",
            notAfter: "2025-06-01T00:00:00.000Z",
            daysToExpiry: 88,
            lzvApplies: true,
            lzvReason: "",
            exchangeDue: true,
            tiAccess: true,
            expired: false,
          },
        ],
      }),
      "GET /api/v1/fleet/expiries?within=7d": () => ({ now: "2025-03-04T00:00:00.000Z", expiries: [] }),
    });
    loggedIn(gw.url);
  });
  after(() => gw.close());

  it("the overview: totals, then the units with their gSMC-K expiry and TI access", async () => {
    const r = await tigw(gw.url, "fleet");
    assert.equal(r.code, 0);
    assert.equal(
      r.out,
      [
        "2 units (1 active, 1 blocked); KT slots 2/200",
        "",
        "SERIAL    PROFILE  STATE    FIRMWARE      PRODUCED    MANDANTEN  KTS PER COMPUTE UNIT  GSMC-K EXPIRES              TI",
        "RZK-0001  rz       active   5.50.4:2.0.0  2024-05-01  1/200      2/50 0/50             2025-06-01 (88 d) EXCHANGE  yes+SIS",
        "RZK-0002  rz       blocked  5.50.4:2.0.0  2024-05-01  1/200      2/50 0/50             -                           NO (Sperrung)",
      ].join("\n"),
    );
  });

  it("check: every unit's check, those needing attention first; exit 1 when one fails", async () => {
    const r = await tigw(gw.url, "fleet", "check");
    assert.equal(r.code, 1);
    assert.equal(
      r.out,
      ["UNIT  STATUS   NOT OK", "C     error    ti-access: revoked; smb: none", "B     warning  terminals: 1 of 2 connected", "A     ok       -"].join("\n"),
    );
    const json = JSON.parse((await tigw(gw.url, "fleet", "check", "-o", "json")).out) as { units: { unit: string }[] };
    assert.deepEqual(
      json.units.map((u) => u.unit),
      ["C", "B", "A"],
    );
  });

  it("expiries --within: passed on; the most urgent first as the gateway ordered them", async () => {
    const r = await tigw(gw.url, "fleet", "expiries", "--within", "90d");
    assert.equal(
      r.out,
      [
        "as of 2025-03-04",
        "",
        "SERIAL    IDENTITY  EXPIRES     DAYS LEFT      EXCHANGE DUE  LZV                    TI ACCESS",
        "RZK-0003  C.NK.VPN  2025-02-01  -31 (expired)  YES           no (LZV_NOT_ELIGIBLE)  NO",
        "RZK-0001  C.NK.VPN  2025-06-01  88             YES           applies                yes",
      ].join("\n"),
    );
    assert.equal((await tigw(gw.url, "fleet", "expiries", "--within", "7d")).out, "no unit's gSMC-K expires within 7d");
  });
});
