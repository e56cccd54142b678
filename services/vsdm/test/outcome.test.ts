import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decideRead, FachdienstSimulator, generatePopulation, pruefkarte, type InsuredPerson, type ReadFacts } from "../src/index.js";

const person = (over: Partial<InsuredPerson["card"]> = {}): InsuredPerson => {
  const p = generatePopulation(1, 42)[0]!;
  return { ...p, card: { ...p.card, generation: "G2.1", certificate: "valid", healthApplicationBlocked: false, vsdInconsistent: false, ...over } };
};
const facts = (over: Partial<ReadFacts> = {}): ReadFacts => ({
  person: person(),
  performOnlineCheck: true,
  autCertificate: "good",
  fachdienst: { kind: "no-update", pruefziffer: Buffer.from("pz") },
  daysOffline: 0,
  maxOfflineDays: 90,
  ...over,
});
const summary = (f: ReadFacts) => {
  const o = decideRead(f);
  return o.kind === "fault" ? { fault: o.code, result: o.result } : { result: o.result, ec: o.errorCode, updated: o.updated };
};

describe("ReadVSD decisions (VSDM Fachmodul)", () => {
  it("2: online check, no update needed", () => assert.deepEqual(summary(facts()), { result: 2, ec: undefined, updated: false }));
  it("1: an update pending at the Fachdienst is applied during the read", () => {
    const o = decideRead(facts({ fachdienst: { kind: "update", pruefziffer: Buffer.from("pz"), changes: { street: "Neue Straße" } } }));
    assert.ok(o.kind === "vsd" && o.result === 1 && o.updated && o.person.street === "Neue Straße");
  });
  it("3: the Prüfkarte eGK (no real insurer, UFS 11101)", () =>
    assert.deepEqual(summary(facts({ person: pruefkarte(1), fachdienst: { kind: "error", code: 11101 } })), { result: 3, ec: 11101, updated: false }));
  it("5: the Fachdienst is unreachable; 6 when the maximum offline period is exceeded", () => {
    assert.deepEqual(summary(facts({ fachdienst: { kind: "unreachable" } })), { result: 5, ec: undefined, updated: false });
    assert.deepEqual(summary(facts({ fachdienst: { kind: "unreachable" }, daysOffline: 91 })), { result: 6, ec: undefined, updated: false });
    assert.deepEqual(summary(facts({ fachdienst: { kind: "error", code: 11101 }, daysOffline: 91 })), { result: 6, ec: 11101, updated: false });
  });
  it("without TI access (vpn's rule): 5, or 6 past the maximum offline period; no result without an online check", () => {
    assert.deepEqual(summary(facts({ tiAccess: false, autCertificate: "unreachable", fachdienst: undefined })), { result: 5, ec: undefined, updated: false });
    assert.deepEqual(summary(facts({ tiAccess: false, autCertificate: "unreachable", fachdienst: undefined, daysOffline: 91 })), {
      result: 6,
      ec: undefined,
      updated: false,
    });
    assert.deepEqual(summary(facts({ tiAccess: false, autCertificate: "unreachable", fachdienst: undefined, performOnlineCheck: false })), {
      result: undefined,
      ec: undefined,
      updated: false,
    });
  });
  it("5: OCSP for C.CH.AUT cannot be asked", () =>
    assert.deepEqual(summary(facts({ autCertificate: "unreachable" })), { result: 5, ec: undefined, updated: false }));
  it("106 with result 4: revoked or expired C.CH.AUT in an online check; 107 offline", () => {
    assert.deepEqual(summary(facts({ autCertificate: "revoked" })), { fault: 106, result: 4 });
    assert.deepEqual(summary(facts({ autCertificate: "expired", performOnlineCheck: false })), { fault: 107, result: 4 });
  });
  it("113: an outdated card generation (G1); 114: a blocked health application", () => {
    assert.deepEqual(summary(facts({ person: person({ generation: "G1" }) })), { fault: 113, result: undefined });
    assert.deepEqual(summary(facts({ person: person({ healthApplicationBlocked: true }) })), { fault: 114, result: undefined });
  });
  it("3001: inconsistent VSD on the eGK", () =>
    assert.deepEqual(summary(facts({ person: person({ vsdInconsistent: true }) })), { fault: 3001, result: undefined }));
  it("without an online check: the VSD, no Prüfungsnachweis", () =>
    assert.deepEqual(summary(facts({ performOnlineCheck: false, fachdienst: undefined })), { result: undefined, ec: undefined, updated: false }));
});

describe("Fachdienst simulator", () => {
  it("answers per insurer and can be switched at runtime; the Prüfkarte's IK is not served", async () => {
    const fd = new FachdienstSimulator();
    const p = person();
    assert.equal((await fd.check(p, 1000)).kind, "no-update");
    fd.set(p.insurer.ik, "update-pending");
    assert.equal((await fd.check(p, 1000)).kind, "update");
    fd.set(p.insurer.ik, "unreachable");
    assert.equal((await fd.check(p, 1000)).kind, "unreachable");
    fd.reset(p.insurer.ik);
    assert.deepEqual(await fd.check(pruefkarte(1), 1000), { kind: "error", code: 11101 });
    assert.throws(() => fd.set(p.insurer.ik, "broken" as "slow"));
  });
  it("a slow Fachdienst answers after the caller's timeout: unreachable", async () => {
    const fd = new FachdienstSimulator({ slowMs: 500 });
    const p = person();
    fd.set(p.insurer.ik, "slow");
    const t0 = Date.now();
    assert.equal((await fd.check(p, 100)).kind, "unreachable");
    assert.ok(Date.now() - t0 >= 95);
  });
});
