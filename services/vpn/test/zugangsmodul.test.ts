import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { base32Decode, DomainError, EmbeddedBus, embeddedSql, SecretVault, SimulatedClock, SqlEventStore, totpAt, type Sql } from "@tigw/platform";
import { loadProfiles, startTenancy, type RunningTenancy } from "@tigw/tenancy";
import { Zugangsmodul } from "../src/index.js";

const PASSWORD = "practice-password-1";
const refusal = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof DomainError, `a DomainError, not ${String(e)}`);
    return e.code;
  }
  assert.fail("expected a refusal");
};

/**
 * The Zugangsmodul's practice accounts on an embedded store, with tenancy as a real service for
 * the units and Mandanten: TOTP secrets encrypted at rest and in no event or answer after the
 * enrolment, logins with one-time codes, a Mandant bound to one account under concurrency, DVO
 * grants that expire on the simulated clock, and state that survives a restart.
 */
describe("Zugangsmodul: practice accounts", () => {
  let tenancy: RunningTenancy;
  let sql: Sql;
  let z: Zugangsmodul;
  const clock = new SimulatedClock(new Date("2026-03-02T08:00:00Z"));
  const masterKey = randomBytes(32);
  let recoveryCodes: string[] = [];
  const open = async () => {
    const store = await SqlEventStore.open(sql, "vpn");
    const m = new Zugangsmodul(store, clock, await SecretVault.open(sql, store.schema, masterKey, "practice_totp_secrets"), tenancy.address);
    await m.open();
    return m;
  };
  let secret: Buffer = Buffer.alloc(0);
  let secretText = "";

  before(async () => {
    const bus = await EmbeddedBus.open(await embeddedSql());
    tenancy = await startTenancy({ sql: await embeddedSql(), bus, clock, profiles: loadProfiles(), vendorKeys: [] });
    await tenancy.tenancy.createUnit({ serial: "RZK-ZM-0001", profile: "rz", firmware: "", producedOn: "" });
    for (const id of ["btrs-01", "btrs-02"]) await tenancy.tenancy.addMandant("RZK-ZM-0001", { mandantId: id, name: `Praxis ${id}`, bsnr: "", smcbIccsn: "" });
    sql = await embeddedSql();
    z = await open();
  });
  after(async () => {
    z.close();
    await tenancy.stop();
  });

  it("a new account can do nothing before TOTP; enrolment needs a code of the new secret", async () => {
    const p = await z.register("praxis-ort", PASSWORD, "Hausarztpraxis Dr. Ort");
    assert.equal(p.status, "totp-enrolment");
    assert.equal(await refusal(z.register("praxis-ort", PASSWORD, "Noch eine")), "ACCOUNT_EXISTS");
    assert.equal(await refusal(z.register("praxis-x", "short", "X")), "WEAK_PASSWORD");
    assert.equal(await refusal(z.grantDvo("praxis-ort", "RZK-ZM-0001", "Max", 2)), "TOTP_ENROLMENT_REQUIRED");
    assert.equal((await z.authenticate("praxis-ort", PASSWORD, "")).status, "totp-enrolment", "the password alone opens only the enrolment");
    const t = await z.beginTotp("praxis-ort");
    secretText = t.secret;
    secret = base32Decode(t.secret);
    assert.match(t.otpauthUri, /^otpauth:\/\/totp\/ti-gateway%3Apraxis-ort\?secret=/);
    const wrong = totpAt(secret, Date.now()) === "000000" ? "111111" : "000000";
    assert.equal(await refusal(z.confirmTotp("praxis-ort", wrong)), "INVALID_TOTP");
    const confirmed = await z.confirmTotp("praxis-ort", totpAt(secret, Date.now()));
    assert.equal(confirmed.practice.status, "active");
    recoveryCodes = confirmed.recoveryCodes;
    assert.equal(new Set(recoveryCodes).size, 10);
    for (const c of recoveryCodes) assert.match(c, /^[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}$/);
    assert.equal(confirmed.practice.recoveryCodesLeft, 10);
    assert.equal(await refusal(z.beginTotp("praxis-ort")), "TOTP_ALREADY_ENROLLED", "the secret is never handed out again");
  });

  it("keeps the TOTP secret and the password out of events and answers, and the secret encrypted at rest", async () => {
    const events = await sql.query<{ data: unknown }>("SELECT data FROM vpn.events");
    const text = JSON.stringify(events) + JSON.stringify(await z.view("praxis-ort")) + JSON.stringify(await z.list());
    assert.ok(events.length >= 2);
    for (const s of [secretText, secret.toString("hex"), secret.toString("base64"), PASSWORD]) assert.ok(!text.includes(s), `${s} in an event or answer`);
    const vault = JSON.stringify(await sql.query("SELECT * FROM vpn.practice_totp_secrets"));
    assert.ok(!vault.includes(secretText) && !vault.includes(Buffer.from(secretText).toString("base64")), "the vault holds ciphertext only");
    const [cred] = await sql.query<{ password_hash: string }>("SELECT password_hash FROM vpn.practice_credentials WHERE account = 'praxis-ort'");
    assert.match(cred!.password_hash, /^scrypt\$/);
  });

  it("logs in with password and a code that works once; the same refusal for a wrong password and an unknown account", async () => {
    assert.equal(await refusal(z.authenticate("praxis-ort", PASSWORD, "")), "TOTP_REQUIRED");
    assert.equal(await refusal(z.authenticate("praxis-ort", "wrong-password-1", totpAt(secret, Date.now() + 30_000))), "INVALID_CREDENTIALS");
    assert.equal(await refusal(z.authenticate("nobody-here", PASSWORD, "")), "INVALID_CREDENTIALS");
    // The enrolment used this step's code: the login takes the next one's (within the drift window).
    const code = totpAt(secret, Date.now() + 30_000);
    assert.equal((await z.authenticate("praxis-ort", PASSWORD, code)).status, "active");
    assert.equal(await refusal(z.authenticate("praxis-ort", PASSWORD, code)), "INVALID_CREDENTIALS", "a code works once");
  });

  it("a recovery code (a lost phone) logs in once and puts the account back in enrolment for a new phone, which brings new codes; a renewal needs the password; codes are in no event or answer but the one that makes them", async () => {
    const [first, second] = recoveryCodes;
    assert.equal(await refusal(z.authenticate("praxis-ort", "wrong-password-1", first!)), "INVALID_CREDENTIALS", "not without the password");
    assert.equal(await refusal(z.authenticate("praxis-ort", PASSWORD, "ABCD-EFGH-JKLM")), "INVALID_CREDENTIALS");
    // As typed: lower case and without dashes works too.
    const recovered = await z.authenticate("praxis-ort", PASSWORD, first!.toLowerCase().replaceAll("-", ""));
    assert.equal(recovered.status, "totp-enrolment", "the lost phone's secret is gone: a new phone is enrolled next");
    assert.equal(recovered.recoveryCodesLeft, 0, "the remaining codes went with it");
    const [cred] = await sql.query<{ totp_ref: string | null }>("SELECT totp_ref FROM vpn.practice_credentials WHERE account = 'praxis-ort'");
    assert.equal(cred!.totp_ref, null);
    const t = await z.beginTotp("praxis-ort");
    secretText = t.secret;
    secret = base32Decode(t.secret);
    const enrolled = await z.confirmTotp("praxis-ort", totpAt(secret, Date.now()));
    assert.equal(enrolled.practice.totpGeneration, 2, "sessions of the old phone end with this");
    assert.equal(enrolled.recoveryCodes.length, 10);
    assert.equal(await refusal(z.authenticate("praxis-ort", PASSWORD, first!)), "INVALID_CREDENTIALS", "a recovery code works once");
    assert.equal(await refusal(z.authenticate("praxis-ort", PASSWORD, second!)), "INVALID_CREDENTIALS", "the old set went with the old phone");
    assert.equal(await refusal(z.renewRecoveryCodes("praxis-ort", "wrong-password-1")), "INVALID_CREDENTIALS", "a renewal asks for the password");
    const renewed = await z.renewRecoveryCodes("praxis-ort", PASSWORD);
    assert.equal(renewed.practice.recoveryCodesLeft, 10);
    assert.equal(await refusal(z.authenticate("praxis-ort", PASSWORD, enrolled.recoveryCodes[0]!)), "INVALID_CREDENTIALS", "the renewal voided the set before");
    const events = await sql.query<{ type: string; data: Record<string, string> }>(
      "SELECT type, data FROM vpn.events WHERE stream_id = 'practice-praxis-ort' ORDER BY stream_version",
    );
    assert.deepEqual(
      events.slice(-4).map((e) => e.type),
      ["PracticeRecoveryCodeUsed", "PracticeTotpReset", "PracticeTotpEnrolled", "PracticeRecoveryCodesRenewed"],
    );
    const text = JSON.stringify(events) + JSON.stringify(await z.view("praxis-ort")) + JSON.stringify(await z.list());
    for (const c of [...recoveryCodes, ...enrolled.recoveryCodes, ...renewed.recoveryCodes])
      assert.ok(!text.includes(c) && !text.includes(c.replaceAll("-", "")), `${c} in an event or answer`);
    const stored = JSON.stringify(await sql.query("SELECT * FROM vpn.practice_recovery_codes"));
    for (const c of renewed.recoveryCodes) assert.ok(!stored.includes(c.replaceAll("-", "")), "hashes only");
  });

  it("a Mandant belongs to one account, also when two operators bind it at once", async () => {
    await z.register("mvz-nord", PASSWORD, "MVZ Nord");
    const both = await Promise.allSettled([z.bind("praxis-ort", "RZK-ZM-0001", "btrs-01", "op1"), z.bind("mvz-nord", "RZK-ZM-0001", "btrs-01", "op2")]);
    assert.equal(both.filter((r) => r.status === "fulfilled").length, 1, JSON.stringify(both));
    const lost = both.find((r) => r.status === "rejected") as PromiseRejectedResult;
    assert.equal((lost.reason as DomainError).code, "MANDANT_ALREADY_BOUND");
    assert.equal(await refusal(z.bind("praxis-ort", "RZK-ZM-0001", "btrs-99", "op1")), "MANDANT_NOT_FOUND");
    // Whoever won, give praxis-ort btrs-01 (unbinding the other) and mvz-nord btrs-02.
    await z.unbind("mvz-nord", "RZK-ZM-0001", "btrs-01", "op1");
    await z.bind("praxis-ort", "RZK-ZM-0001", "btrs-01", "op1");
    await z.bind("mvz-nord", "RZK-ZM-0001", "btrs-02", "op1");
    assert.deepEqual(
      (await z.view("praxis-ort")).bindings.map((b) => [b.serial, b.mandantId]),
      [["RZK-ZM-0001", "btrs-01"]],
    );
    assert.deepEqual(
      (await z.view("mvz-nord")).bindings.map((b) => [b.serial, b.mandantId]),
      [["RZK-ZM-0001", "btrs-02"]],
    );
  });

  it("a DVO grant is for an own instance, expires on the simulated clock and can be revoked before", async () => {
    assert.equal(await refusal(z.grantDvo("praxis-ort", "RZK-OTHER-0009", "Max", 2)), "PERMISSION_DENIED");
    const g = await z.grantDvo("praxis-ort", "RZK-ZM-0001", "Max Techniker", 2);
    assert.equal(g.grants.find((x) => x.grantId === g.grantId)?.state, "active");
    const second = await z.grantDvo("praxis-ort", "RZK-ZM-0001", "Erika Technikerin", 8);
    assert.equal((await z.revokeDvo("praxis-ort", second.grantId)).grants.find((x) => x.grantId === second.grantId)?.state, "revoked");
    clock.advance(3 * 3_600_000);
    assert.equal((await z.view("praxis-ort")).grants.find((x) => x.grantId === g.grantId)?.state, "expired");
    assert.equal(await refusal(z.revokeDvo("mvz-nord", g.grantId)), "GRANT_NOT_FOUND", "another practice's grant is not found in its account");
  });

  it("an operator's TOTP reset (a lost phone) deletes the secret; the account enrols again with a new one", async () => {
    await z.register("praxis-reset", PASSWORD, "Praxis Reset");
    const first = base32Decode((await z.beginTotp("praxis-reset")).secret);
    const firstCodes = (await z.confirmTotp("praxis-reset", totpAt(first, Date.now()))).recoveryCodes;
    const [before] = await sql.query<{ totp_ref: string }>("SELECT totp_ref FROM vpn.practice_credentials WHERE account = 'praxis-reset'");
    assert.equal((await z.resetTotp("praxis-reset", "admin")).status, "totp-enrolment");
    assert.equal((await sql.query("SELECT 1 FROM vpn.practice_totp_secrets WHERE key_ref = $1", [before!.totp_ref])).length, 0, "the old secret is gone");
    assert.equal((await z.authenticate("praxis-reset", PASSWORD, "")).status, "totp-enrolment", "the password alone opens only the enrolment again");
    const second = base32Decode((await z.beginTotp("praxis-reset")).secret);
    assert.ok(!second.equals(first));
    assert.equal((await z.confirmTotp("praxis-reset", totpAt(second, Date.now()))).practice.status, "active");
    assert.equal(await refusal(z.authenticate("praxis-reset", PASSWORD, firstCodes[0]!)), "INVALID_CREDENTIALS", "the old phone's recovery codes went with it");
  });

  it("a blocked account cannot log in; after a restart everything is still there and the secret still decrypts", async () => {
    await z.block("mvz-nord", "Vertrag beendet", "admin");
    assert.equal(await refusal(z.authenticate("mvz-nord", PASSWORD, "")), "ACCOUNT_BLOCKED");
    z.close();
    z = await open();
    assert.equal((await z.view("mvz-nord")).status, "blocked");
    assert.equal((await z.view("praxis-ort")).bindings.length, 1);
    assert.equal(await refusal(z.authenticate("praxis-ort", PASSWORD, "")), "TOTP_REQUIRED", "the password still checks");
    const [cred] = await sql.query<{ totp_ref: string }>("SELECT totp_ref FROM vpn.practice_credentials WHERE account = 'praxis-ort'");
    const again = await SecretVault.open(sql, "vpn", masterKey, "practice_totp_secrets");
    assert.equal((await again.get(cred!.totp_ref)).toString("utf8"), secretText, "the master key decrypts it after a restart");
    const other = await SecretVault.open(sql, "vpn", randomBytes(32), "practice_totp_secrets");
    await assert.rejects(other.get(cred!.totp_ref), "another key does not");
  });
});
