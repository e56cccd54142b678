import { describe, it } from "node:test";
import { spec } from "@tigw/platform";
import { securityModuleDecider as d, LZV_UNTIL, type IdentitySpec, type Renewal, type SecurityModuleEvent } from "../src/index.js";

const unitId = "u-1";
const iccsn = "80276001234567890123";
const identities = (notBefore: string, notAfter: string): IdentitySpec[] =>
  (["C.NK.VPN", "C.AK.AUT", "C.SAK.AUT"] as const).map((name, i) => ({ name, certSerial: `S${i}`, keyRef: `k${i}`, notBefore, notAfter }));
const provisioned = (notBefore = "2020-06-01T00:00:00.000Z", notAfter = "2025-06-01T00:00:00.000Z"): SecurityModuleEvent => ({
  type: "SecurityModuleProvisioned",
  data: { unitId, serial: "RZK-1", iccsn, identities: identities(notBefore, notAfter), at: "2025-01-01T00:00:00.000Z" },
});
const licensed: SecurityModuleEvent = { type: "LzvLicenceChanged", data: { unitId, licensed: true, at: "2025-01-01T00:00:00.000Z" } };
const warning = (identity: "C.NK.VPN" | "C.AK.AUT" | "C.SAK.AUT", daysBefore: number, daysLeft: number, at: string): SecurityModuleEvent => ({
  type: "CertificateExpiryApproaching",
  data: { unitId, identity, daysBefore, daysLeft, notAfter: "2025-06-01T00:00:00.000Z", at },
});
const allWarn = (daysBefore: number, daysLeft: number, at: string) =>
  (["C.NK.VPN", "C.AK.AUT", "C.SAK.AUT"] as const).map((i) => warning(i, daysBefore, daysLeft, at));
const renewals = (over: Partial<Renewal> = {}): Renewal[] =>
  (["C.NK.VPN", "C.AK.AUT", "C.SAK.AUT"] as const).map((name, i) => ({
    name,
    certSerial: `R${i}`,
    notBefore: "2025-03-01T00:00:00.000Z",
    notAfter: LZV_UNTIL,
    iccsn,
    keyMatches: true,
    ocspRevoked: false,
    ...over,
  }));

describe("SecurityModule decider: expiry", () => {
  it("provisioning an old unit announces the marks it already crossed, in the same decision", () => {
    const at = "2025-03-04T00:00:00.000Z"; // 89 days before 2025-06-01
    const p = provisioned();
    spec(d)
      .given([])
      .when({ type: "Provision", unitId, serial: "RZK-1", iccsn, identities: identities("2020-06-01T00:00:00.000Z", "2025-06-01T00:00:00.000Z"), at })
      .then([
        { type: "SecurityModuleProvisioned", data: { ...p.data, at } } as SecurityModuleEvent,
        ...allWarn(180, 89, at)
          .map((w, i) => [w, allWarn(90, 89, at)[i]!])
          .flat(),
      ]);
  });
  it("announces 180 days before expiry once, then 90, then 30", () => {
    const at1 = "2024-12-10T00:00:00.000Z"; // 173 days left
    spec(d)
      .given([provisioned()])
      .when({ type: "Tick", at: at1 })
      .then(allWarn(180, 173, at1));
    spec(d)
      .given([provisioned(), ...allWarn(180, 173, at1)])
      .when({ type: "Tick", at: "2024-12-11T00:00:00.000Z" })
      .then([]);
    const at2 = "2025-03-04T00:00:00.000Z"; // 89 days left
    spec(d)
      .given([provisioned(), ...allWarn(180, 173, at1)])
      .when({ type: "Tick", at: at2 })
      .then(allWarn(90, 89, at2));
    const at3 = "2025-05-03T00:00:00.000Z"; // 29 days left
    spec(d)
      .given([provisioned(), ...allWarn(180, 173, at1), ...allWarn(90, 89, at2)])
      .when({ type: "Tick", at: at3 })
      .then(allWarn(30, 29, at3));
  });
  it("when C.NK.VPN expires the unit loses TI access, once", () => {
    const at = "2025-06-01T00:00:00.000Z";
    const expired = (["C.NK.VPN", "C.AK.AUT", "C.SAK.AUT"] as const).map((identity): SecurityModuleEvent => ({
      type: "CertificateExpired",
      data: { unitId, identity, notAfter: at, at },
    }));
    const marks = [...allWarn(180, 1, at), ...allWarn(90, 1, at), ...allWarn(30, 1, at)];
    spec(d)
      .given([provisioned(), ...marks])
      .when({ type: "Tick", at })
      .then([expired[0]!, { type: "TiAccessLost", data: { unitId, reason: "C.NK.VPN expired", at } }, expired[1]!, expired[2]!]);
    spec(d)
      .given([provisioned(), ...marks, ...expired, { type: "TiAccessLost", data: { unitId, reason: "", at } }])
      .when({ type: "Tick", at: "2025-07-01T00:00:00.000Z" })
      .then([]);
  });
  it("refuses a tick for a unit without gSMC-K", () => {
    spec(d).given([]).when({ type: "Tick", at: "2025-01-01T00:00:00.000Z" }).thenThrows("SECURITY_MODULE_NOT_FOUND");
  });
});

describe("SecurityModule decider: LZV", () => {
  const at = "2025-03-01T00:00:00.000Z"; // 92 days before 2025-06-01
  const failed = (code: string) => ({ type: "LzvFailed", data: { unitId, code, at } });
  const expectFail = (given: SecurityModuleEvent[], code: string, over: Partial<Renewal> = {}) => {
    const [e] = d.decide({ type: "CompleteLzv", renewals: renewals(over), at }, given.reduce(d.evolve, d.initialState()));
    if (e?.type !== "LzvFailed" || e.data.code !== code) throw new Error(`expected LzvFailed ${code}, got ${JSON.stringify(e)}`);
    return failed(code);
  };
  it("extends an eligible, licensed unit until 2025-12-31", () => {
    spec(d)
      .given([provisioned(), licensed])
      .when({ type: "CompleteLzv", renewals: renewals(), at })
      .then([
        {
          type: "LzvSucceeded",
          data: {
            unitId,
            renewals: (["C.NK.VPN", "C.AK.AUT", "C.SAK.AUT"] as const).map((name, i) => ({
              name,
              certSerial: `R${i}`,
              previousCertSerial: `S${i}`,
              notAfter: LZV_UNTIL,
            })),
            at,
          },
        },
      ]);
  });
  it("refuses without the LZV licence feature, for certificates issued from 2021, too early, and after expiry", () => {
    expectFail([provisioned()], "LZV_NOT_LICENSED");
    expectFail([provisioned("2021-02-01T00:00:00.000Z", "2026-02-01T00:00:00.000Z"), licensed], "LZV_NOT_ELIGIBLE");
    expectFail([provisioned("2020-12-01T00:00:00.000Z", "2025-12-01T00:00:00.000Z"), licensed], "LZV_TOO_EARLY");
    expectFail([provisioned("2020-01-01T00:00:00.000Z", "2025-01-01T00:00:00.000Z"), licensed], "LZV_EXPIRED");
  });
  it("rejects a renewed certificate that is not later, for another key or ICCSN, or revoked per OCSP", () => {
    expectFail([provisioned("2020-06-01T00:00:00.000Z", "2025-06-01T00:00:00.000Z"), licensed], "LZV_EXPIRY_NOT_LATER", {
      notAfter: "2025-06-01T00:00:00.000Z",
    });
    expectFail([provisioned(), licensed], "LZV_KEY_MISMATCH", { keyMatches: false });
    expectFail([provisioned(), licensed], "LZV_ICCSN_MISMATCH", { iccsn: "80276009999999999999" });
    expectFail([provisioned(), licensed], "LZV_CERT_REVOKED", { ocspRevoked: true });
  });
  it("refuses a second LZV and an LZV of a revoked gSMC-K", () => {
    const done: SecurityModuleEvent = {
      type: "LzvSucceeded",
      data: { unitId, renewals: renewals().map((r, i) => ({ name: r.name, certSerial: r.certSerial, previousCertSerial: `S${i}`, notAfter: LZV_UNTIL })), at },
    };
    expectFail([provisioned(), licensed, done], "LZV_ALREADY_EXTENDED");
    expectFail(
      [provisioned(), licensed, { type: "SecurityModuleRevoked", data: { unitId, reason: "keyCompromise", certSerials: ["S0", "S1", "S2"], at } }],
      "LZV_CERT_REVOKED",
    );
  });
  it("after LZV the new expiry gets its own warnings", () => {
    const done: SecurityModuleEvent = {
      type: "LzvSucceeded",
      data: { unitId, renewals: renewals().map((r, i) => ({ name: r.name, certSerial: r.certSerial, previousCertSerial: `S${i}`, notAfter: LZV_UNTIL })), at },
    };
    const t = "2025-07-10T00:00:00.000Z"; // 174 days before 2025-12-31
    const [first] = d.decide(
      { type: "Tick", at: t },
      [provisioned(), licensed, ...allWarn(180, 92, at), ...allWarn(90, 89, at), done].reduce(d.evolve, d.initialState()),
    );
    if (first?.type !== "CertificateExpiryApproaching" || first.data.daysBefore !== 180 || first.data.notAfter !== LZV_UNTIL)
      throw new Error(JSON.stringify(first));
  });
});

describe("SecurityModule decider: Sperrung", () => {
  it("revokes every identity and cuts TI access; repeating changes nothing", () => {
    const at = "2025-03-01T00:00:00.000Z";
    spec(d)
      .given([provisioned()])
      .when({ type: "RecordRevocation", reason: "keyCompromise", at })
      .then([
        { type: "SecurityModuleRevoked", data: { unitId, reason: "keyCompromise", certSerials: ["S0", "S1", "S2"], at } },
        { type: "TiAccessLost", data: { unitId, reason: "gSMC-K certificates revoked", at } },
      ]);
    spec(d)
      .given([provisioned(), { type: "SecurityModuleRevoked", data: { unitId, reason: "", certSerials: [], at } }])
      .when({ type: "RecordRevocation", reason: "keyCompromise", at })
      .then([]);
  });
});
