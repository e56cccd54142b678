import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fold, spec } from "@tigw/platform";
import {
  CONTRACT_NONE,
  CONTRACT_TI,
  CONTRACT_TI_SIS,
  decideTiAccess,
  NO_DNS,
  NOT_REGISTERED,
  REGISTERED,
  registrationDecider,
  type RegistrationEvent,
} from "../src/index.js";

const at = "2026-03-01T10:00:00.000Z";
const dns = { ...NO_DNS(), dnsServersTi: ["10.97.0.53"], dnsDomainVpnZugdInt: "vpn-zugd.sim" };
const registered: RegistrationEvent = {
  type: "VpnRegistered",
  data: { unitId: "u1", serial: "RZK-1", contractId: "C-1", contractStatus: CONTRACT_TI, sisRequested: false, dns, at },
};
const blocked: RegistrationEvent = { type: "VpnBlocked", data: { unitId: "u1", serial: "RZK-1", contractId: "C-1", reason: "Diebstahl", at } };
const state = (events: RegistrationEvent[]) => fold(registrationDecider, events);
const good = [
  { name: "C.NK.VPN", notBefore: "2024-01-01T00:00:00.000Z", notAfter: "2029-01-01T00:00:00.000Z", ocspStatus: "good" },
  { name: "C.AK.AUT", notBefore: "2024-01-01T00:00:00.000Z", notAfter: "2029-01-01T00:00:00.000Z", ocspStatus: "good" },
];

describe("Registration decider", () => {
  it("records a registration with its contract status and DNS parameters", () => {
    spec(registrationDecider)
      .given([])
      .when({ type: "RecordRegistration", unitId: "u1", serial: "RZK-1", contractId: "C-1", contractStatus: CONTRACT_TI, sisRequested: false, dns, at })
      .then([registered]);
    const s = state([registered]);
    assert.equal(s.status, REGISTERED);
    assert.equal(s.contractStatus, CONTRACT_TI);
    assert.deepEqual(s.dns.dnsServersTi, ["10.97.0.53"]);
  });

  it("a failed re-registration leaves the unit unregistered, with the code", () => {
    const failed: RegistrationEvent = {
      type: "VpnRegistrationFailed",
      data: { unitId: "u1", serial: "RZK-1", contractId: "C-1", code: "7021", message: "expired", at },
    };
    spec(registrationDecider)
      .given([registered])
      .when({ type: "RecordRegistrationFailure", unitId: "u1", serial: "RZK-1", contractId: "C-1", code: "7021", message: "expired", at })
      .then([failed]);
    const s = state([registered, failed]);
    assert.equal(s.status, NOT_REGISTERED);
    assert.equal(s.contractStatus, CONTRACT_NONE);
    assert.equal(s.lastResult, "7021");
    assert.deepEqual(s.dns, NO_DNS());
  });

  it("a failed deregistration leaves the unit registered", () => {
    const failed: RegistrationEvent = { type: "VpnDeregistrationFailed", data: { unitId: "u1", code: "7081", message: "down", at } };
    spec(registrationDecider).given([registered]).when({ type: "RecordDeregistrationFailure", code: "7081", message: "down", at }).then([failed]);
    const s = state([registered, failed]);
    assert.equal(s.status, REGISTERED);
    assert.equal(s.contractStatus, CONTRACT_TI);
    assert.equal(s.lastResult, "7081");
  });

  it("deregistering an unregistered unit changes nothing", () => {
    spec(registrationDecider).given([]).when({ type: "RecordDeregistration", at }).then([]);
  });

  it("MTU: 1500 and 1400 (DS-Lite) only, others refused with a message", () => {
    spec(registrationDecider)
      .given([registered])
      .when({ type: "SetMtu", unitId: "u1", serial: "RZK-1", mtu: 1400, at })
      .then([{ type: "MtuChanged", data: { unitId: "u1", mtu: 1400, at } }]);
    spec(registrationDecider).given([registered]).when({ type: "SetMtu", unitId: "u1", serial: "RZK-1", mtu: 1500, at }).then([]);
    const e = spec(registrationDecider).given([registered]).when({ type: "SetMtu", unitId: "u1", serial: "RZK-1", mtu: 1492, at }).thenThrows("INVALID_MTU");
    assert.match(e.message, /1500.*1400.*DS-Lite/);
  });

  it("a Sperrung ends the registration and refuses a new one until lifted", () => {
    spec(registrationDecider)
      .given([registered])
      .when({ type: "RecordBlock", unitId: "u1", serial: "RZK-1", contractId: "C-1", reason: "Diebstahl", at })
      .then([blocked]);
    assert.equal(state([registered, blocked]).status, NOT_REGISTERED);
    spec(registrationDecider)
      .given([registered, blocked])
      .when({ type: "RecordRegistration", unitId: "u1", serial: "RZK-1", contractId: "C-1", contractStatus: CONTRACT_TI, sisRequested: false, dns, at })
      .thenThrows("UNIT_BLOCKED");
    const unblocked: RegistrationEvent = { type: "VpnUnblocked", data: { unitId: "u1", at } };
    spec(registrationDecider).given([registered, blocked]).when({ type: "RecordUnblock", at }).then([unblocked]);
    // Lifting the Sperrung does not register the unit again.
    assert.equal(state([registered, blocked, unblocked]).status, NOT_REGISTERED);
  });

  it("refuses a malformed ContractID before anything is recorded", () => {
    spec(registrationDecider)
      .given([])
      .when({ type: "RecordRegistration", unitId: "u1", serial: "RZK-1", contractId: "bad id", contractStatus: CONTRACT_TI, sisRequested: false, dns, at })
      .thenThrows("INVALID_CONTRACT_ID");
  });
});

describe("TI-access rule", () => {
  const now = "2026-03-01T12:00:00.000Z";
  it("is off by default: a unit that never registered has no TI access", () => {
    const v = decideTiAccess({ registration: state([]), identities: good, now });
    assert.equal(v.tiAccess, false);
    assert.match(v.reasons.join(), /not registered/);
  });

  it("registered with valid identities: TI access; SIS only with a SIS contract and the wish", () => {
    assert.deepEqual(decideTiAccess({ registration: state([registered]), identities: good, now }), { tiAccess: true, sisAccess: false, reasons: [] });
    const sis: RegistrationEvent = { ...registered, data: { ...registered.data, contractStatus: CONTRACT_TI_SIS, sisRequested: true } } as RegistrationEvent;
    assert.equal(decideTiAccess({ registration: state([sis]), identities: good, now }).sisAccess, true);
  });

  it("an expired or revoked gSMC-K identity, a Sperrung or another blocker ends TI access", () => {
    const expired = [{ ...good[0]!, notAfter: "2026-02-01T00:00:00.000Z" }, good[1]!];
    assert.match(decideTiAccess({ registration: state([registered]), identities: expired, now }).reasons.join(), /C\.NK\.VPN expired on 2026-02-01/);
    const revoked = [good[0]!, { ...good[1]!, ocspStatus: "revoked" }];
    assert.match(decideTiAccess({ registration: state([registered]), identities: revoked, now }).reasons.join(), /C\.AK\.AUT revoked/);
    assert.equal(decideTiAccess({ registration: state([registered, blocked]), identities: good, now }).tiAccess, false);
    assert.equal(decideTiAccess({ registration: state([registered]), identities: undefined, now }).tiAccess, false);
    assert.deepEqual(
      decideTiAccess({ registration: state([registered]), identities: good, now, blockers: ["critical firmware update past its deadline"] }).reasons,
      ["critical firmware update past its deadline"],
    );
  });
});
