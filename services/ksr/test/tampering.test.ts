import assert from "node:assert/strict";
import { generateKeyPairSync, sign, X509Certificate } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { call, createClient, DomainError } from "@tigw/platform";
import { eventually } from "@tigw/platform/testing";
import { HsmServiceClient, type IssueCardRequest, type IssueCardResponse } from "@tigw/contracts/hsm/v1/hsm";
import { issueCertificate, nameOf, OID_GEM_OR_CP, PROFILES, toPem } from "@tigw/hsm";
import { updateInformationXml, verifyPackage, type ReleaseState, type SignedPackage } from "../src/index.js";
import { startFleet, type Fleet } from "./support.js";

/**
 * Tampering: mutated packages (flipped bits in the firmware file, the UpdateInformation and both
 * signatures; a foreign signer posing as the TI PKI's component CA; a practice card's key; an
 * expired KSR signing certificate; correctly signed versions outside the unit's firmware group;
 * a missing file) are each refused with its HSK code by the unit's verification, every fifth
 * also installed through the application (recorded, refused with the same code). Nothing is
 * installed: the units still run 5.50.3:2.0.0 afterwards, in ksr and in tenancy. A failed apply
 * (4184) rolls back and the unit keeps working; a failed download is 4182.
 */
const SERIALS = ["RZK-T-1", "RZK-T-2", "RZK-T-3", "RZK-T-4"];

/** A small deterministic generator, so a failing mutation can be replayed. */
function prng(seed: number): () => number {
  let x = seed;
  return () => ((x = (x * 1103515245 + 12345) & 0x7fffffff), x / 0x7fffffff);
}

function flipBit(b: Buffer, rnd: () => number): Buffer {
  const out = Buffer.from(b);
  const i = Math.floor(rnd() * out.length);
  out[i] = out[i]! ^ (1 << Math.floor(rnd() * 8));
  return out;
}

describe("tampered packages are refused with the HSK's codes and nothing is installed (embedded)", () => {
  let fleet: Fleet;
  let release: ReleaseState;
  let good: SignedPackage;
  let hsm: HsmServiceClient;
  const cases: { kind: string; code: string; pkg: SignedPackage; version: string }[] = [];

  /** A package of the release's files, its UpdateInformation signed by `signXml`, its files by `signFile`. */
  const signedWith = (xml: string, pem: string, signData: (d: Buffer) => Promise<Buffer>) =>
    (async (): Promise<SignedPackage> => ({
      updateInformation: xml,
      signature: (await signData(Buffer.from(xml, "utf8"))).toString("base64"),
      signerCertificate: pem,
      files: await Promise.all(good.files.map(async (f) => ({ ...f, signature: (await signData(Buffer.from(f.content, "base64"))).toString("base64") }))),
    }))();
  const hsmSigner = (certSerial: string) => async (data: Buffer) =>
    Buffer.from(
      (await call<{ certSerial: string; data: Buffer; scheme: string }, { signature: Uint8Array }>(hsm.sign.bind(hsm), { certSerial, data, scheme: "" }))
        .signature,
    );
  const issue = (cardType: string, notBefore = "", validityYears = 5) =>
    call<IssueCardRequest, IssueCardResponse>(hsm.issueCard.bind(hsm), {
      cardType,
      keyType: "ecc",
      holder: `${cardType} test`,
      iccsn: "",
      notBefore,
      validityYears,
    }).then((r) => r.certificate!);

  before(async () => {
    fleet = await startFleet("2024-03-01T08:00:00.000Z");
    hsm = createClient(HsmServiceClient, fleet.hsm.address, { deadlineMs: 60_000 });
    for (const serial of SERIALS) await fleet.tenancy.tenancy.createUnit({ serial, profile: "rz", firmware: "5.50.3:2.0.0", producedOn: "2023-06-01" });
    await eventually(async () => (await fleet.ksr.ksr.list()).length === SERIALS.length, 60_000, "ksr enrols the units");
    release = await fleet.ksr.ksr.publish({
      updateId: "WR3_TAMPER",
      product: "rz",
      fwVersion: "5.50.4:2.0.0",
      fwPriority: "Normal",
      startDate: "2024-03-01",
      deadline: "2024-04-30",
      releaseNotes: "to be tampered with",
    });
    good = await fleet.ksr.ksr.download(release.updateId);
    const rnd = prng(17);
    // Flipped bits: 250 each in the file, the UpdateInformation and the two signatures.
    for (let i = 0; i < 250; i++) {
      const file = good.files[0]!;
      cases.push({
        kind: "file bit",
        code: "4183",
        version: release.fwVersion,
        pkg: { ...good, files: [{ ...file, content: flipBit(Buffer.from(file.content, "base64"), rnd).toString("base64") }] },
      });
      cases.push({
        kind: "UpdateInformation bit",
        code: "4181",
        version: release.fwVersion,
        pkg: { ...good, updateInformation: flipBit(Buffer.from(good.updateInformation, "utf8"), rnd).toString("latin1") },
      });
      cases.push({
        kind: "UpdateInformation signature bit",
        code: "4181",
        version: release.fwVersion,
        pkg: { ...good, signature: flipBit(Buffer.from(good.signature, "base64"), rnd).toString("base64") },
      });
      cases.push({
        kind: "file signature bit",
        code: "4183",
        version: release.fwVersion,
        pkg: { ...good, files: [{ ...good.files[0]!, signature: flipBit(Buffer.from(good.files[0]!.signature, "base64"), rnd).toString("base64") }] },
      });
    }
    // A foreign signer: its own "component CA" under the TI PKI's exact name, a C.FD.SIG from it.
    const caKey = generateKeyPairSync("ec", { namedCurve: "brainpoolP256r1" });
    const realSigner = new X509Certificate(fleet.ksr.ksr.signerCertificate.pem);
    const caName = nameOf(fleet.ksr.ksr.trustedSubCas.find((ca) => realSigner.checkIssued(ca))!.raw);
    const leafKey = generateKeyPairSync("ec", { namedCurve: "brainpoolP256r1" });
    const leaf = issueCertificate({
      subject: { cn: "KSR ti-gateway", o: "not the TI" },
      publicKey: leafKey.publicKey,
      notBefore: new Date("2024-01-01"),
      notAfter: new Date("2029-01-01"),
      issuer: { name: caName, privateKey: caKey.privateKey, publicKey: caKey.publicKey },
      usage: ["digitalSignature"],
      policies: [PROFILES["C.FD.SIG"].oid, OID_GEM_OR_CP],
    });
    const foreign = await signedWith(good.updateInformation, toPem(leaf.der), async (d) => sign("sha256", d, leafKey.privateKey));
    // A practice card (SMC-B) of the TI PKI: may sign, but is no KSR signer.
    const smcb = await issue("SMCB");
    const byCard = await signedWith(good.updateInformation, smcb.pem, hsmSigner(smcb.certSerial));
    // The KSR's profile, but a certificate that expired in 2016.
    const old = await issue("KSR", "2015-01-01", 1);
    const expired = await signedWith(good.updateInformation, old.pem, hsmSigner(old.certSerial));
    // Signed by the real KSR signer, but for another hardware version or an uncatalogued one.
    const ksrSigner = fleet.ksr.ksr.signerCertificate;
    const otherGroup = await signedWith(updateInformationXml({ ...release, fwVersion: "5.50.4:3.0.0" }), ksrSigner.pem, hsmSigner(ksrSigner.certSerial));
    const unknown = await signedWith(updateInformationXml({ ...release, fwVersion: "6.0.0:2.0.0" }), ksrSigner.pem, hsmSigner(ksrSigner.certSerial));
    for (let i = 0; i < 10; i++) {
      cases.push({ kind: "foreign signer", code: "4181", version: release.fwVersion, pkg: foreign });
      cases.push({ kind: "SMC-B signer", code: "4181", version: release.fwVersion, pkg: byCard });
      cases.push({ kind: "expired signing certificate", code: "4181", version: release.fwVersion, pkg: expired });
      cases.push({ kind: "other hardware version", code: "4185", version: "5.50.4:3.0.0", pkg: otherGroup });
      cases.push({ kind: "uncatalogued version", code: "4185", version: "6.0.0:2.0.0", pkg: unknown });
      cases.push({ kind: "missing file", code: "4183", version: release.fwVersion, pkg: { ...good, files: [] } });
    }
  });
  after(async () => {
    hsm.close();
    await fleet.stop();
  });

  it("the untouched package verifies (and costs little to verify)", async () => {
    const unit = await fleet.ksr.ksr.view(SERIALS[0]!);
    const ctx = { subCas: fleet.ksr.ksr.trustedSubCas, now: fleet.clock.now(), unit, catalogue: await fleet.ksr.ksr.catalogue() };
    assert.equal(verifyPackage(good, ctx).ok, true);
    const n = 200;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) verifyPackage(good, ctx);
    const perPackage = Number(process.hrtime.bigint() - t0) / 1e6 / n;
    process.stdout.write(`# verification of a 32 KiB package (two ECDSA brainpoolP256r1 signatures, chain, SHA-256): ${perPackage.toFixed(2)} ms\n`);
  });

  it("each of the 1,060 mutated packages is refused with its code, and nothing is installed", async () => {
    assert.ok(cases.length >= 1000);
    const wrong: string[] = [];
    const t0 = Date.now();
    // Every package through the unit's verification; every fifth also through the whole install
    // path (recorded as UpdateFailed): the same verdicts, at a cost a shared CI machine bears.
    const unitState = await fleet.ksr.ksr.view(SERIALS[0]!);
    const ctx = { subCas: fleet.ksr.ksr.trustedSubCas, now: fleet.clock.now(), unit: unitState, catalogue: await fleet.ksr.ksr.catalogue() };
    let throughApplication = 0;
    for (const [i, c] of cases.entries()) {
      const v = verifyPackage(c.pkg, ctx);
      if (v.ok || v.code !== c.code) wrong.push(`${c.kind}: verification said ${v.ok ? "ok" : v.code} instead of ${c.code}`);
      if (i % 5 !== 0) continue;
      throughApplication++;
      const unit = SERIALS[(i / 5) % SERIALS.length]!;
      try {
        await fleet.ksr.ksr.installPackage(unit, c.pkg, { updateId: release.updateId, fwVersion: c.version });
        wrong.push(`${c.kind}: installed`);
      } catch (e) {
        if (!(e instanceof DomainError) || e.code !== c.code) wrong.push(`${c.kind}: ${e instanceof DomainError ? e.code : String(e)} instead of ${c.code}`);
      }
    }
    process.stdout.write(`# ${cases.length} mutated packages refused (${throughApplication} of them through the application) in ${Date.now() - t0} ms\n`);
    assert.deepEqual(wrong.slice(0, 10), [], `${wrong.length} packages not refused as expected`);
    for (const u of await fleet.ksr.ksr.list()) {
      assert.equal(u.firmware, "5.50.3:2.0.0", `${u.serial} still runs 5.50.3:2.0.0`);
      assert.ok(/^41(81|83|85)$/.test(u.lastResult), `${u.serial}: last result ${u.lastResult}`);
    }
    const events = await fleet.ksr.ksr.store.readAll(undefined, 100_000);
    assert.equal(events.filter((e) => e.type === "FirmwareInstalled" || e.type === "UpdateVerified").length, 0);
    assert.equal(events.filter((e) => e.type === "UpdateFailed").length, throughApplication);
    for (const serial of SERIALS) assert.equal((await fleet.tenancy.tenancy.getUnit(serial)).firmware, "5.50.3:2.0.0");
  });

  it("an offline package opens only with its password (nothing is recorded otherwise), then installs like an online one; the password is stored nowhere", async () => {
    const unit = SERIALS[2]!;
    const password = "Techniker-Passwort-4711";
    const short = await fleet.ksr.ksr.exportOffline(release.updateId, "kurz").catch((e: unknown) => e);
    assert.equal((short as DomainError).code, "INVALID_PASSWORD");
    const file = await fleet.ksr.ksr.exportOffline(release.updateId, password);
    const before = (await fleet.ksr.ksr.store.readAll(undefined, 100_000)).length;
    await assert.rejects(fleet.ksr.ksr.installOffline(unit, file, "Falsches-Passwort-0815"), (e: DomainError) => e.code === "INVALID_PACKAGE_PASSWORD");
    const f = JSON.parse(file) as { ciphertext: string };
    const damaged = JSON.stringify({ ...f, ciphertext: flipBit(Buffer.from(f.ciphertext, "base64"), prng(5)).toString("base64") });
    await assert.rejects(fleet.ksr.ksr.installOffline(unit, damaged, password), (e: DomainError) => e.code === "INVALID_PACKAGE_PASSWORD");
    await assert.rejects(fleet.ksr.ksr.installOffline(unit, "not a package", password), (e: DomainError) => e.code === "INVALID_OFFLINE_PACKAGE");
    assert.equal((await fleet.ksr.ksr.store.readAll(undefined, 100_000)).length, before, "a package that does not open leaves no event");
    assert.equal((await fleet.ksr.ksr.view(unit)).firmware, "5.50.3:2.0.0");
    const after = await fleet.ksr.ksr.installOffline(unit, file, password);
    assert.equal(after.firmware, "5.50.4:2.0.0");
    const events = await fleet.ksr.ksr.store.readAll(undefined, 100_000);
    const installed = events.filter((e) => e.type === "FirmwareInstalled").at(-1)!;
    assert.equal((installed.data as { trigger: string }).trigger, "offline");
    assert.ok(!JSON.stringify(events).includes(password), "the password is in no event");
    const [row] = await fleet.ksr.ksr.store.sql.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${fleet.ksr.ksr.store.schema}.packages WHERE package::text LIKE $1`,
      [`%${password}%`],
    );
    assert.equal(row!.n, 0);
  });

  it("a failed download is 4182; a failed apply is 4184, rolls back, and the unit updates afterwards", async () => {
    const unit = SERIALS[1]!;
    fleet.ksr.ksr.setFault("download", true);
    await assert.rejects(fleet.ksr.ksr.updateUnit(unit), (e: DomainError) => e.code === "4182");
    fleet.ksr.ksr.setFault("download", false);
    fleet.ksr.ksr.setFault("apply", true);
    await assert.rejects(fleet.ksr.ksr.updateUnit(unit), (e: DomainError) => e.code === "4184" && /rolled back to 5\.50\.3:2\.0\.0/.test(e.message));
    assert.equal((await fleet.ksr.ksr.view(unit)).firmware, "5.50.3:2.0.0");
    fleet.ksr.ksr.setFault("apply", false);
    const after = await fleet.ksr.ksr.updateUnit(unit);
    assert.equal(after.firmware, "5.50.4:2.0.0");
    assert.equal(after.lastResult, "OK");
    const types = (await fleet.ksr.ksr.store.readAll(undefined, 100_000)).filter((e) => e.unitId === after.unitId).map((e) => e.type);
    assert.deepEqual(types.slice(-5), ["UpdateVerified", "UpdateFailed", "UpdateRolledBack", "UpdateVerified", "FirmwareInstalled"]);
    await eventually(async () => (await fleet.tenancy.tenancy.getUnit(unit)).firmware === "5.50.4:2.0.0", 30_000, "tenancy records the update");
  });
});
