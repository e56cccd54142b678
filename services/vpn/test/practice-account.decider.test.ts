import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fold, spec } from "@tigw/platform";
import {
  grantStateAt,
  instanceBindingsDecider,
  practiceAccountDecider,
  statusOf,
  type InstanceBindingsEvent,
  type PracticeAccountEvent,
} from "../src/index.js";

const at = "2026-03-01T10:00:00.000Z";
const later = (hours: number) => new Date(Date.parse(at) + hours * 3_600_000).toISOString();
const registered: PracticeAccountEvent = { type: "PracticeRegistered", data: { account: "praxis-ort", practiceName: "Hausarztpraxis Dr. Ort", at } };
const enrolled: PracticeAccountEvent = { type: "PracticeTotpEnrolled", data: { account: "praxis-ort", at } };
const grant = { type: "GrantDvoAccess", grantId: "dvo-1", unitId: "u1", serial: "RZK-1", unitBound: true, technician: "Max Techniker", hours: 4, at } as const;
const granted: PracticeAccountEvent = {
  type: "DvoAccessGranted",
  data: { account: "praxis-ort", grantId: "dvo-1", unitId: "u1", serial: "RZK-1", technician: "Max Techniker", until: later(4), at },
};

describe("PracticeAccount decider", () => {
  it("registers an account that must enrol TOTP before it is active", () => {
    spec(practiceAccountDecider)
      .given([])
      .when({ type: "RegisterPractice", account: "praxis-ort", practiceName: " Hausarztpraxis Dr. Ort ", at })
      .then([registered]);
    assert.equal(statusOf(fold(practiceAccountDecider, [registered])), "totp-enrolment");
    assert.equal(statusOf(fold(practiceAccountDecider, [registered, enrolled])), "active");
  });

  it("refuses a taken name, a malformed name and an empty practice name", () => {
    spec(practiceAccountDecider)
      .given([registered])
      .when({ type: "RegisterPractice", account: "praxis-ort", practiceName: "X", at })
      .thenThrows("ACCOUNT_EXISTS");
    spec(practiceAccountDecider)
      .given([])
      .when({ type: "RegisterPractice", account: "Praxis Ort", practiceName: "X", at })
      .thenThrows("INVALID_ACCOUNT", { field: "account" });
    spec(practiceAccountDecider)
      .given([])
      .when({ type: "RegisterPractice", account: "praxis-ort", practiceName: "  ", at })
      .thenThrows("INVALID_PRACTICE_NAME");
  });

  it("a practice without TOTP can grant nothing; a blocked one neither", () => {
    spec(practiceAccountDecider).given([registered]).when(grant).thenThrows("TOTP_ENROLMENT_REQUIRED");
    const blocked: PracticeAccountEvent = { type: "PracticeBlocked", data: { account: "praxis-ort", reason: "Vertrag gekündigt", by: "admin", at } };
    spec(practiceAccountDecider).given([registered, enrolled, blocked]).when(grant).thenThrows("ACCOUNT_BLOCKED");
    spec(practiceAccountDecider).given([registered, enrolled]).when({ type: "EnrolTotp", at }).thenThrows("TOTP_ALREADY_ENROLLED");
  });

  it("grants a technician access to an own instance for some hours; it expires on the clock and can be revoked before", () => {
    spec(practiceAccountDecider).given([registered, enrolled]).when(grant).then([granted]);
    const s = fold(practiceAccountDecider, [registered, enrolled, granted]);
    assert.equal(grantStateAt(s.grants[0]!, later(3)), "active");
    assert.equal(grantStateAt(s.grants[0]!, later(4)), "expired");
    const revoked: PracticeAccountEvent = { type: "DvoAccessRevoked", data: { account: "praxis-ort", grantId: "dvo-1", at: later(1) } };
    spec(practiceAccountDecider)
      .given([registered, enrolled, granted])
      .when({ type: "RevokeDvoAccess", grantId: "dvo-1", at: later(1) })
      .then([revoked]);
    assert.equal(grantStateAt(fold(practiceAccountDecider, [registered, enrolled, granted, revoked]).grants[0]!, later(2)), "revoked");
    spec(practiceAccountDecider)
      .given([registered, enrolled, granted])
      .when({ type: "RevokeDvoAccess", grantId: "dvo-1", at: later(5) })
      .thenNothingHappened();
    spec(practiceAccountDecider).given([registered, enrolled]).when({ type: "RevokeDvoAccess", grantId: "dvo-9", at }).thenThrows("GRANT_NOT_FOUND");
  });

  it("refuses a grant for an instance the practice is not bound to, and durations out of range", () => {
    spec(practiceAccountDecider)
      .given([registered, enrolled])
      .when({ ...grant, unitBound: false })
      .thenThrows("PERMISSION_DENIED", { field: "unit" });
    spec(practiceAccountDecider)
      .given([registered, enrolled])
      .when({ ...grant, hours: 0 })
      .thenThrows("INVALID_GRANT_DURATION");
    spec(practiceAccountDecider)
      .given([registered, enrolled])
      .when({ ...grant, hours: 24 * 15 })
      .thenThrows("INVALID_GRANT_DURATION");
    spec(practiceAccountDecider)
      .given([registered, enrolled])
      .when({ ...grant, technician: "" })
      .thenThrows("INVALID_TECHNICIAN");
  });

  it("an operator's TOTP reset puts the account back into enrolment; a second reset changes nothing", () => {
    const reset: PracticeAccountEvent = { type: "PracticeTotpReset", data: { account: "praxis-ort", by: "admin", at } };
    spec(practiceAccountDecider).given([registered, enrolled]).when({ type: "ResetTotp", by: "admin", at }).then([reset]);
    assert.equal(statusOf(fold(practiceAccountDecider, [registered, enrolled, reset])), "totp-enrolment");
    spec(practiceAccountDecider).given([registered, enrolled, reset]).when({ type: "ResetTotp", by: "admin", at }).thenNothingHappened();
    spec(practiceAccountDecider).given([registered, enrolled, reset]).when(grant).thenThrows("TOTP_ENROLMENT_REQUIRED");
    spec(practiceAccountDecider)
      .given([registered, enrolled, reset])
      .when({ type: "EnrolTotp", at })
      .then((events) => assert.equal(events.length, 1));
  });

  it("block and unblock are idempotent", () => {
    const blocked: PracticeAccountEvent = { type: "PracticeBlocked", data: { account: "praxis-ort", reason: "blocked by the operator", by: "admin", at } };
    spec(practiceAccountDecider).given([registered]).when({ type: "BlockPractice", reason: "", by: "admin", at }).then([blocked]);
    spec(practiceAccountDecider).given([registered, blocked]).when({ type: "BlockPractice", reason: "", by: "admin", at }).thenNothingHappened();
    spec(practiceAccountDecider).given([registered]).when({ type: "UnblockPractice", by: "admin", at }).thenNothingHappened();
    spec(practiceAccountDecider).given([]).when({ type: "BlockPractice", reason: "", by: "admin", at }).thenThrows("PRACTICE_NOT_FOUND");
  });
});

describe("InstanceBindings decider (a Mandant belongs to at most one practice)", () => {
  const bind = { type: "BindPractice", unitId: "u1", serial: "RZK-1", mandantId: "btrs-01", mandantKnown: true, account: "praxis-ort", by: "op", at } as const;
  const bound: InstanceBindingsEvent = {
    type: "PracticeBound",
    data: { unitId: "u1", serial: "RZK-1", mandantId: "btrs-01", account: "praxis-ort", by: "op", at },
  };

  it("binds a Mandant to an account once; binding it again to the same account changes nothing", () => {
    spec(instanceBindingsDecider).given([]).when(bind).then([bound]);
    spec(instanceBindingsDecider).given([bound]).when(bind).thenNothingHappened();
  });

  it("refuses a Mandant of another account and an unknown Mandant", () => {
    spec(instanceBindingsDecider)
      .given([bound])
      .when({ ...bind, account: "praxis-weiss" })
      .thenThrows("MANDANT_ALREADY_BOUND", { field: "mandantId" });
    spec(instanceBindingsDecider)
      .given([])
      .when({ ...bind, mandantKnown: false })
      .thenThrows("MANDANT_NOT_FOUND");
  });

  it("unbinding frees the Mandant for another account; unbinding someone else's changes nothing", () => {
    spec(instanceBindingsDecider)
      .given([bound])
      .when({ type: "UnbindPractice", mandantId: "btrs-01", account: "praxis-weiss", by: "op", at })
      .thenNothingHappened();
    const unbound: InstanceBindingsEvent = { type: "PracticeUnbound", data: { unitId: "u1", mandantId: "btrs-01", account: "praxis-ort", by: "op", at } };
    spec(instanceBindingsDecider).given([bound]).when({ type: "UnbindPractice", mandantId: "btrs-01", account: "praxis-ort", by: "op", at }).then([unbound]);
    spec(instanceBindingsDecider)
      .given([bound, unbound])
      .when({ ...bind, account: "praxis-weiss" })
      .then((events) => assert.equal(events[0]?.type, "PracticeBound"));
  });
});
