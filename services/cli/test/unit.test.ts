import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { answer, type FakeGateway, fakeGateway, loggedIn, tigw, unitFixture } from "./support.js";

const securityModule = {
  unitId: "u-1",
  serial: "RZK-0001",
  iccsn: "80276001011699900001",
  tiAccess: true,
  lzvLicensed: false,
  lzvLastAttempt: "",
  lzvLastOutcome: "",
  identities: [
    {
      name: "C.NK.VPN",
      certificate: {
        certSerial: "0A1B",
        notBefore: "2024-05-01T00:00:00.000Z",
        notAfter: "2029-04-30T23:59:59.000Z",
        keyType: "ECC brainpoolP256r1",
        ocspStatus: "good",
      },
      daysToExpiry: 1500,
      warnings: [],
      expired: false,
      extendedByLzv: false,
    },
    {
      name: "C.AK.AUT",
      certificate: {
        certSerial: "0A1C",
        notBefore: "2024-05-01T00:00:00.000Z",
        notAfter: "2025-04-30T23:59:59.000Z",
        keyType: "RSA 2048",
        ocspStatus: "revoked",
      },
      daysToExpiry: -3,
      warnings: [180, 90, 30],
      expired: true,
      extendedByLzv: true,
    },
  ],
};

describe("tigw unit", () => {
  let gw: FakeGateway;
  before(async () => {
    gw = await fakeGateway({
      "POST /api/v1/units": (r) => unitFixture({ serial: (r.body as { serial: string }).serial, mandanten: [], mandantenCount: 0, state: "provisioned" }),
      "GET /api/v1/units": () => ({ units: [unitFixture(), unitFixture({ serial: "RZK-0002", state: "blocked", mandantenCount: 0 })] }),
      "GET /api/v1/units/RZK%200001": () =>
        unitFixture({
          licence: { licenceId: "lic-9", ktPerComputeUnit: 80, features: ["PTV5", "LZV"], issuedAt: "2026-01-02T03:04:05.000Z", source: "file", keyId: "k1" },
        }),
      "POST /api/v1/units/RZK-0001/state": (r) => unitFixture({ state: (r.body as { action: string }).action === "block" ? "blocked" : "active" }),
      "GET /api/v1/units/RZK-0001/check": () => ({
        unit: "RZK-0001",
        status: "error",
        checks: [
          { check: "state", status: "ok", detail: "active" },
          { check: "ti-access", status: "error", detail: "C.NK.VPN revoked" },
        ],
      }),
      "GET /api/v1/units/RZK-0002/check": () => ({ unit: "RZK-0002", status: "ok", checks: [{ check: "state", status: "ok", detail: "active" }] }),
      "GET /api/v1/units/RZK-0001/certs": () => securityModule,
      "POST /api/v1/units/RZK-0001/lzv": () => answer(409, { code: "LZV_NOT_LICENSED", detail: "the unit's licence has no LZV" }),
      "POST /api/v1/units/RZK-0001/revoke": () => ({ ...securityModule, tiAccess: false }),
    });
    loggedIn(gw.url);
  });
  after(() => gw.close());

  it("create: sends serial, profile, firmware and production date; prints the new unit", async () => {
    const r = await tigw(gw.url, "unit", "create", "--serial", "RZK-0009", "--profile", "rz", "--produced", "2024-05-01");
    assert.equal(r.code, 0);
    assert.deepEqual(gw.last.body, { serial: "RZK-0009", profile: "rz", producedOn: "2024-05-01" });
    assert.equal(
      r.out,
      [
        "created unit RZK-0009 (u-1)",
        "",
        "Unit:      u-1",
        "Serial:    RZK-0009",
        "Profile:   rz",
        "State:     provisioned",
        "Firmware:  5.50.4:2.0.0",
        "Produced:  2024-05-01",
        "Licence:   50 KTs per compute unit (profile base licence)",
        "KTs:       compute unit 1: 2/50, compute unit 2: 0/50 (recommended 80)",
        "Mandanten: 0/200",
      ].join("\n"),
    );
  });

  it("create without --profile: usage error, nothing sent", async () => {
    const sent = gw.requests.length;
    const r = await tigw(gw.url, "unit", "create", "--serial", "RZK-0009");
    assert.equal(r.code, 2);
    assert.match(r.err, /^usage error: missing --profile/);
    assert.equal(gw.requests.length, sent);
  });

  it("list: a table of the units; -o json: the answer as it came", async () => {
    const r = await tigw(gw.url, "unit", "list");
    assert.equal(
      r.out,
      [
        "SERIAL    PROFILE  STATE    FIRMWARE      PRODUCED    MANDANTEN  KTS PER COMPUTE UNIT",
        "RZK-0001  rz       active   5.50.4:2.0.0  2024-05-01  1/200      2/50 0/50",
        "RZK-0002  rz       blocked  5.50.4:2.0.0  2024-05-01  0/200      2/50 0/50",
      ].join("\n"),
    );
    const json = await tigw(gw.url, "unit", "list", "-o", "json");
    assert.deepEqual(JSON.parse(json.out), { units: [unitFixture(), unitFixture({ serial: "RZK-0002", state: "blocked", mandantenCount: 0 })] });
  });

  it("show: the unit by serial (URL-encoded), its file licence and its Mandanten", async () => {
    const r = await tigw(gw.url, "unit", "show", "RZK 0001");
    assert.equal(gw.last.path, "/api/v1/units/RZK%200001");
    const lines = r.out.split("\n");
    assert.ok(lines.includes("Licence:   80 KTs per compute unit, features PTV5, LZV (licence lic-9 issued 2026-01-02T03:04:05.000Z, key k1)"), r.out);
    assert.deepEqual(lines.slice(-3), ["", "ID  NAME         BSNR       SMC-B ICCSN", "m1  Praxis Eins  123456789  -"]);
  });

  it("show without UNIT: usage error", async () => {
    const r = await tigw(gw.url, "unit", "show");
    assert.equal(r.code, 2);
    assert.match(r.err, /missing UNIT/);
  });

  it("activate|block|unblock|decommission: the action and reason go to /state", async () => {
    const r = await tigw(gw.url, "unit", "block", "RZK-0001", "--reason", "theft");
    assert.deepEqual([gw.last.method, gw.last.path, gw.last.body], ["POST", "/api/v1/units/RZK-0001/state", { action: "block", reason: "theft" }]);
    assert.equal(r.out, "unit RZK-0001 is blocked");
  });

  it("check: the checks as a table and the overall status; exit 1 when one fails", async () => {
    const r = await tigw(gw.url, "unit", "check", "RZK-0001");
    assert.equal(r.code, 1);
    assert.equal(r.out, ["CHECK      STATUS  DETAIL", "state      ok      active", "ti-access  error   C.NK.VPN revoked", "", "overall: error"].join("\n"));
    assert.equal((await tigw(gw.url, "unit", "check", "RZK-0002")).code, 0);
  });

  it("certs: the gSMC-K's identities with expiry, OCSP and notes", async () => {
    const r = await tigw(gw.url, "unit", "certs", "RZK-0001");
    assert.equal(
      r.out,
      [
        "Unit:         RZK-0001",
        "gSMC-K ICCSN: 80276001011699900001",
        "TI access:    yes",
        "LZV licensed: no",
        "LZV last try: -",
        "",
        "IDENTITY  SERIAL  KEY                  VALID FROM  VALID UNTIL  DAYS LEFT  OCSP     NOTE",
        "C.NK.VPN  0A1B    ECC brainpoolP256r1  2024-05-01  2029-04-30   1500       good     -",
        "C.AK.AUT  0A1C    RSA 2048             2024-05-01  2025-04-30   -3         revoked  EXPIRED, extended by LZV, warned at 180/90/30 days",
      ].join("\n"),
    );
  });

  it("lzv refused: the code and text, exit 1; revoke: TI access off", async () => {
    const lzv = await tigw(gw.url, "unit", "lzv", "RZK-0001");
    assert.deepEqual([lzv.code, lzv.err], [1, "error LZV_NOT_LICENSED: the unit's licence has no LZV"]);
    const revoke = await tigw(gw.url, "unit", "revoke", "RZK-0001", "--reason", "keyCompromise");
    assert.deepEqual(gw.last.body, { reason: "keyCompromise" });
    assert.equal(revoke.out, "revoked every gSMC-K certificate of RZK-0001; TI access off");
  });
});
