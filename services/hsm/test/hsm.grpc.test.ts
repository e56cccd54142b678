import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createPublicKey, generateKeyPairSync, randomBytes, verify, X509Certificate } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { status } from "@grpc/grpc-js";
import { after, before, describe, it } from "node:test";
import { callByName, createClient, createLogger, followHsmClock, topicOf, type Sql } from "@tigw/platform";
import { HsmServiceClient } from "@tigw/contracts/hsm/v1/hsm";
import { TenancyServiceClient } from "@tigw/contracts/tenancy/v1/tenancy";
import { eventually, freshContext, refusal, serviceSetups, tempDir } from "@tigw/platform/testing";
import { issueLicence, loadProfiles, startTenancy } from "@tigw/tenancy";
import { askOcsp, ClockControl, ktConnectMessage, OcspUnreachable, policiesOf, startHsm, type RunningHsm } from "../src/index.js";

/**
 * The hsm service over gRPC next to tenancy (units come from tenancy's events), with a simulated
 * clock starting 2025-03-01: certificates checked with openssl, OCSP with openssl ocsp,
 * signatures with node:crypto, expiry marks, LZV and Sperrung, and a scan for leaked secrets.
 */
const setups = serviceSetups();

/** openssl as a child process; asynchronous, since the OCSP responder it may call runs in this process. */
const openssl = (...args: string[]): Promise<string> =>
  new Promise((resolve, reject) =>
    execFile("openssl", args, { timeout: 30_000 }, (e, stdout, stderr) =>
      e ? reject(new Error(`openssl ${args[0]}: ${stderr || e.message}`)) : resolve(stdout),
    ),
  );

for (const setup of setups) {
  describe(`hsm over gRPC (${setup.store.name} store, ${setup.bus.name} bus)`, () => {
    const dir = tempDir("tigw-hsm-");
    const vendor = generateKeyPairSync("ed25519");
    const masterKey = randomBytes(32);
    const logs: string[] = [];
    const logger = createLogger("hsm-test", { destination: new Writable({ write: (c, _e, cb) => (logs.push(String(c)), cb()) }) });
    const rpc = callByName;

    /**
     * A tenancy and an hsm of their own: own contexts, own simulated clock from 2025-03-01. Most
     * tests share one (`shared`); a test that advances the clock starts its own, so no test depends
     * on the time (or the units) another left behind.
     */
    const startPair = async () => {
      const tenancyContext = freshContext("tenancy");
      const hsmContext = freshContext("hsm");
      const sql = await setup.store.sql();
      const bus = await setup.bus.bus();
      const clock = await ClockControl.simulated(sql, hsmContext, new Date("2025-03-01T00:00:00Z"));
      const tenancy = await startTenancy({ sql, bus, clock, profiles: loadProfiles(), vendorKeys: [vendor.publicKey], context: tenancyContext, logger });
      const hsm = await startHsm({ sql, bus, clock, masterKey, context: hsmContext, tenancyTopic: topicOf(tenancyContext), logger, tickMs: 3_600_000 });
      const h = createClient(HsmServiceClient, hsm.address, { deadlineMs: 60_000 });
      const t = createClient(TenancyServiceClient, tenancy.address, { deadlineMs: 30_000 });
      const stop = async () => {
        h.close();
        t.close();
        await hsm.stop();
        await tenancy.stop();
        await bus.close();
      };
      return { sql, bus, tenancyContext, hsmContext, tenancy, hsm, h, t, stop };
    };
    type Pair = Awaited<ReturnType<typeof startPair>>;
    /** Runs `test` on a pair of its own, stopped afterwards. */
    const withOwnPair = async (test: (p: Pair) => Promise<void>) => {
      const own = await startPair();
      try {
        await test(own);
      } finally {
        await own.stop();
      }
    };

    let shared: Pair;
    let sql: Sql;
    let hsm: RunningHsm;
    let h: HsmServiceClient;
    let t: TenancyServiceClient;
    let tenancyContext: string;
    let hsmContext: string;
    type Sm = {
      securityModule: {
        unitId: string;
        iccsn: string;
        tiAccess: boolean;
        lzvLicensed: boolean;
        identities: {
          name: string;
          daysToExpiry: number;
          warnings: number[];
          extendedByLzv: boolean;
          certificate: { certSerial: string; pem: string; notAfter: string; iccsn: string; ocspStatus: string };
        }[];
      };
    };
    const sm = (unitId: string, p: Pair = shared) => rpc<Sm>(p.h, "getSecurityModule", { unitId }).then((r) => r.securityModule);
    const createUnit = async (serial: string, producedOn: string, p: Pair = shared) => {
      const { unit } = await rpc<{ unit: { unitId: string } }>(p.t, "createUnit", { serial, profile: "rz", firmware: "", producedOn });
      await eventually(
        () =>
          sm(unit.unitId, p).then(
            () => true,
            () => false,
          ),
        60_000,
        `gSMC-K of ${serial}`,
      );
      return unit.unitId;
    };

    before(async () => {
      shared = await startPair();
      ({ sql, hsm, h, t, tenancyContext, hsmContext } = shared);
      const anchors = await rpc<{ rootPems: string[]; subCaPems: string[] }>(h, "getTrustAnchors", {});
      writeFileSync(join(dir, "roots.pem"), anchors.rootPems.join(""));
      writeFileSync(join(dir, "subs.pem"), anchors.subCaPems.join(""));
      writeFileSync(join(dir, "chain.pem"), [...anchors.subCaPems, ...anchors.rootPems].join(""));
    });
    after(() => shared.stop());

    /** openssl verify at the simulated time (the certificates live in 2025). */
    const verifyWithOpenssl = async (pem: string, name: string, p: Pair = shared) => {
      const f = join(dir, `${name}.pem`);
      writeFileSync(f, pem);
      const at = String(Math.floor(p.hsm.hsm.clock.now().getTime() / 1000));
      assert.equal((await openssl("verify", "-attime", at, "-CAfile", join(dir, "roots.pem"), "-untrusted", join(dir, "subs.pem"), f)).trim(), `${f}: OK`);
    };
    const card = (cardType: string, keyType: string, holder: string) =>
      rpc<{ certificate: { pem: string; keyType: string; iccsn: string; certSerial: string } }>(h, "issueCard", {
        cardType,
        keyType,
        holder,
        iccsn: "",
        notBefore: "",
        validityYears: 0,
      }).then((r) => r.certificate);

    it("provisions a gSMC-K when tenancy announces a unit: three identities valid 5 years from production, verified by openssl", async () => {
      const unitId = await createUnit("RZK-HSM-0001", "2020-06-01");
      const m = await sm(unitId);
      assert.deepEqual(
        m.identities.map((i) => i.name),
        ["C.NK.VPN", "C.AK.AUT", "C.SAK.AUT"],
      );
      for (const i of m.identities) {
        assert.equal(i.certificate.notAfter, "2025-06-01T00:00:00.000Z");
        assert.equal(i.certificate.iccsn, m.iccsn);
        assert.equal(i.daysToExpiry, 92);
        assert.deepEqual(i.warnings, [180], "the 180-day mark was crossed before provisioning: announced once");
        await verifyWithOpenssl(i.certificate.pem, `${i.name}-${unitId}`);
      }
      assert.match(await openssl("x509", "-noout", "-text", "-in", join(dir, `C.NK.VPN-${unitId}.pem`)), /brainpoolP256r1/);
    });

    it("issues test cards of every kind on brainpoolP256r1 and RSA 2048, each verified by openssl", async () => {
      for (const cardType of ["SMCB", "HBA", "EGK", "GSMC_KT"]) {
        for (const keyType of ["ecc", "rsa"]) {
          const certificate = await card(cardType, keyType, `Test ${cardType}`);
          assert.equal(certificate.keyType, keyType === "rsa" ? "RSA 2048" : "ECC brainpoolP256r1");
          assert.match(certificate.iccsn, /^80276\d{15}$/);
          await verifyWithOpenssl(certificate.pem, `${cardType}-${keyType}`);
        }
      }
      assert.equal((await refusal(card("XYZ", "ecc", "x"))).code, "INVALID_CARD_TYPE");
    });

    it("an SMC-B also holds C.ENC and C.SIG, an HBA C.ENC and C.QES: own keys, the card's ICCSN and key type, their policy OIDs, verified by openssl", async () => {
      const policy = {
        "C.ENC/SMCB": "1.2.276.0.76.4.76",
        "C.SIG/SMCB": "1.2.276.0.76.4.78",
        "C.ENC/HBA": "1.2.276.0.76.4.74",
        "C.QES/HBA": "1.2.276.0.76.4.72",
      };
      for (const [cardType, keyType, refs] of [
        ["SMCB", "ecc", ["C.ENC", "C.SIG"]],
        ["HBA", "rsa", ["C.ENC", "C.QES"]],
      ] as const) {
        const aut = await card(cardType, keyType, `Further ${cardType}`);
        const { certificates } = await rpc<{
          certificates: { ref: string; certificate: { pem: string; iccsn: string; keyType: string; certSerial: string } }[];
        }>(h, "getCardCertificates", { iccsn: aut.iccsn });
        assert.deepEqual(certificates.map((c) => c.ref).sort(), [...refs]);
        for (const c of certificates) {
          assert.equal(c.certificate.iccsn, aut.iccsn);
          assert.equal(c.certificate.keyType, aut.keyType);
          assert.notEqual(
            new X509Certificate(c.certificate.pem).publicKey.export({ type: "spki", format: "der" }).toString("hex"),
            new X509Certificate(aut.pem).publicKey.export({ type: "spki", format: "der" }).toString("hex"),
            "a key pair of its own",
          );
          await verifyWithOpenssl(c.certificate.pem, `${cardType}-${c.ref}`);
          assert.ok(
            policiesOf(new X509Certificate(c.certificate.pem).raw).includes(policy[`${c.ref}/${cardType}` as keyof typeof policy]),
            `${c.ref} of a ${cardType}`,
          );
        }
      }
      const egk = await card("EGK", "ecc", "Versicherte Further");
      assert.deepEqual((await rpc<{ certificates: unknown[] }>(h, "getCardCertificates", { iccsn: egk.iccsn })).certificates, []);
    });

    it("answers OCSP (RFC 6960) that openssl ocsp parses: good, revoked after revocation, unknown for a serial it never issued", async () => {
      const certificate = await card("SMCB", "ecc", "Praxis OCSP");
      const leaf = join(dir, "ocsp-leaf.pem");
      writeFileSync(leaf, certificate.pem);
      const issuer = join(dir, "ocsp-issuer.pem");
      const anchors = await rpc<{ subCaPems: string[] }>(h, "getTrustAnchors", {});
      for (const p of anchors.subCaPems)
        if ((await openssl("x509", "-noout", "-subject", "-in", writeTmp(p))).includes("SMCB-CA-TIGW-TEST-ECC")) writeFileSync(issuer, p);
      const at = String(Math.floor(hsm.hsm.clock.now().getTime() / 1000));
      const ask = (...target: string[]) =>
        openssl("ocsp", "-issuer", issuer, ...target, "-url", hsm.ocspUrl, "-CAfile", join(dir, "chain.pem"), "-attime", at, "-validity_period", "1000000000");
      assert.match(await ask("-cert", leaf), /ocsp-leaf\.pem: good/);
      await rpc(h, "revokeCertificate", { certSerial: certificate.certSerial, reason: "keyCompromise" });
      const revoked = await ask("-cert", leaf);
      assert.match(revoked, /ocsp-leaf\.pem: revoked/);
      assert.match(revoked, /Reason: keyCompromise/);
      assert.match(await ask("-serial", "0x1234567890ABCDEF"), /0x1234567890ABCDEF: unknown/);
      assert.equal((await rpc<{ status: string }>(h, "getOcspStatus", { certSerial: certificate.certSerial })).status, "revoked");
    });

    it("askOcsp, the relying party's client: good, revoked, unknown for a wrong issuer, OcspUnreachable while the responder is down", async () => {
      const certificate = await card("EGK", "ecc", "eGK OCSP client");
      const anchors = await rpc<{ subCaPems: string[]; rootPems: string[] }>(h, "getTrustAnchors", {});
      const issuer = anchors.subCaPems.find((p) => new X509Certificate(certificate.pem).checkIssued(new X509Certificate(p)))!;
      assert.ok(issuer, "the eGK's sub-CA is among the trust anchors");
      assert.deepEqual(await askOcsp(certificate.pem, issuer, { timeoutMs: 5_000 }), { status: "good" });
      assert.deepEqual(
        await askOcsp(certificate.pem, anchors.rootPems[0]!, { timeoutMs: 5_000 }),
        { status: "unknown" },
        "an answer about another CA's certificate is not trusted",
      );
      await hsm.ocsp.pause();
      try {
        await assert.rejects(askOcsp(certificate.pem, issuer, { timeoutMs: 5_000 }), OcspUnreachable);
      } finally {
        await hsm.ocsp.resume();
      }
      await rpc(h, "revokeCertificate", { certSerial: certificate.certSerial, reason: "keyCompromise" });
      const revoked = await askOcsp(certificate.pem, issuer, { timeoutMs: 5_000 });
      assert.deepEqual([revoked.status, revoked.status === "revoked" && revoked.reason], ["revoked", "keyCompromise"]);
    });

    function writeTmp(pem: string): string {
      const f = join(dir, `tmp-${randomBytes(4).toString("hex")}.pem`);
      writeFileSync(f, pem);
      return f;
    }

    it("signs through the API; node:crypto verifies with the certificate's key and rejects a flipped bit", async () => {
      for (const keyType of ["ecc", "rsa"]) {
        const certificate = await card("HBA", keyType, "Dr. Sign");
        const data = randomBytes(64);
        const { signature } = await rpc<{ signature: Buffer }>(h, "sign", { certSerial: certificate.certSerial, data, scheme: "" });
        const key = createPublicKey(certificate.pem);
        assert.ok(verify("sha256", data, key, signature), `${keyType} signature verifies`);
        const flipped = Buffer.from(data);
        flipped[7]! ^= 0x01;
        assert.equal(verify("sha256", flipped, key, signature), false);
        assert.equal((await rpc<{ valid: boolean }>(h, "verify", { certSerial: certificate.certSerial, data: flipped, signature })).valid, false);
        assert.equal((await rpc<{ valid: boolean }>(h, "verify", { certSerial: certificate.certSerial, data, signature })).valid, true);
      }
    });

    it("signs on request only with practice cards: gSMC-K and gSMC-KT keys are refused with PERMISSION_DENIED; the gSMC-KT proves a connect only", async () => {
      /** The raw gRPC status of a refused call, as any client sees it. */
      const grpcStatus = (method: "sign" | "proveTerminalKey", req: object) =>
        new Promise<{ code?: number; details?: string }>((resolve) =>
          (h[method] as (r: object, cb: (e: { code?: number; details?: string } | null) => void) => void).call(h, req, (e) => resolve(e ?? {})),
        );
      const data = randomBytes(32);
      const unitId = await createUnit("RZK-HSM-SIGN", "2024-06-01");
      for (const id of (await sm(unitId)).identities) {
        const e = await grpcStatus("sign", { certSerial: id.certificate.certSerial, data, scheme: "" });
        assert.equal(e.code, status.PERMISSION_DENIED, `${id.name} of the gSMC-K signs nothing on request`);
        assert.match(e.details ?? "", /^SIGNING_NOT_PERMITTED: .*gSMC-K key/);
        assert.equal(
          (await grpcStatus("proveTerminalKey", { certSerial: id.certificate.certSerial, ctId: "KT-1", challenge: data })).code,
          status.PERMISSION_DENIED,
        );
      }
      const gsmckt = await card("GSMC_KT", "ecc", "gSMC-KT KT-SIGN");
      const refused = await grpcStatus("sign", { certSerial: gsmckt.certSerial, data, scheme: "" });
      assert.deepEqual([refused.code, /^SIGNING_NOT_PERMITTED: .*gSMC-KT key/.test(refused.details ?? "")], [status.PERMISSION_DENIED, true]);
      assert.equal((await refusal(rpc(h, "sign", { certSerial: gsmckt.certSerial, data, scheme: "" }))).code, "SIGNING_NOT_PERMITTED");

      // The gSMC-KT signs the connect message (bound to the terminal), never the bare data.
      const { signature } = await rpc<{ signature: Buffer }>(h, "proveTerminalKey", { certSerial: gsmckt.certSerial, ctId: "KT-SIGN", challenge: data });
      assert.ok(verify("sha256", ktConnectMessage("KT-SIGN", data), createPublicKey(gsmckt.pem), signature));
      assert.equal(verify("sha256", data, createPublicKey(gsmckt.pem), signature), false);
      assert.equal(
        (await refusal(rpc(h, "proveTerminalKey", { certSerial: gsmckt.certSerial, ctId: "KT-SIGN", challenge: randomBytes(64) }))).code,
        "INVALID_CHALLENGE",
      );
      const smcb = await card("SMCB", "ecc", "Praxis Sign");
      assert.equal((await grpcStatus("proveTerminalKey", { certSerial: smcb.certSerial, ctId: "KT-SIGN", challenge: data })).code, status.PERMISSION_DENIED);

      // Practice cards still sign, and the signature verifies.
      for (const cardType of ["SMCB", "HBA", "EGK"]) {
        const practice = cardType === "SMCB" ? smcb : await card(cardType, "ecc", `Practice ${cardType}`);
        const signed = await rpc<{ signature: Buffer }>(h, "sign", { certSerial: practice.certSerial, data, scheme: "" });
        assert.ok(verify("sha256", data, createPublicKey(practice.pem), signed.signature), `${cardType} signs`);
      }
    });

    it("authenticates an eGK and an SMC-B card to card; a revoked SMC-B fails with 4057", async () => {
      const egk = await card("EGK", "ecc", "Versicherte Person");
      const smcb = await card("SMCB", "ecc", "Praxis C2C");
      const ok = await rpc<{ authenticated: boolean; steps: string[] }>(h, "cardToCardAuthenticate", {
        sourceCertSerial: egk.certSerial,
        targetCertSerial: smcb.certSerial,
      });
      assert.equal(ok.authenticated, true);
      assert.equal(ok.steps.length, 2);
      await rpc(h, "revokeCertificate", { certSerial: smcb.certSerial, reason: "keyCompromise" });
      assert.equal((await refusal(rpc(h, "cardToCardAuthenticate", { sourceCertSerial: egk.certSerial, targetCertSerial: smcb.certSerial }))).code, "4057");
    });

    it("a cluster-mode service follows hsm's simulated clock over gRPC (TIGW_CLOCK=hsm)", () =>
      withOwnPair(async (own) => {
        const c = await followHsmClock(own.hsm.address, { everyMs: 3_600_000 });
        try {
          assert.deepEqual([c.simulated, c.now().toISOString()], [true, "2025-03-01T00:00:00.000Z"]);
          await rpc(own.h, "advanceClock", { duration: "30d" });
          await c.refresh();
          assert.equal(c.now().toISOString(), "2025-03-31T00:00:00.000Z");
        } finally {
          c.stop();
        }
      }));

    it("simulated time: the 90- and 30-day marks arrive once each; the fleet query puts the unit first with the exchange flag", () =>
      withOwnPair(async (own) => {
        const unitId = await createUnit("RZK-HSM-0001", "2020-06-01", own);
        await rpc(own.h, "advanceClock", { duration: "3d" });
        assert.deepEqual((await sm(unitId, own)).identities[0]!.warnings, [180, 90]);
        await rpc(own.h, "advanceClock", { duration: "1d" });
        assert.deepEqual((await sm(unitId, own)).identities[0]!.warnings, [180, 90], "no second announcement");
        const { expiries } = await rpc<{ expiries: { serial: string; daysToExpiry: number; exchangeDue: boolean; lzvApplies: boolean; lzvReason: string }[] }>(
          own.h,
          "listExpiries",
          { withinDays: 90 },
        );
        const mine = expiries.find((e) => e.serial === "RZK-HSM-0001")!;
        assert.deepEqual([mine.daysToExpiry, mine.exchangeDue, mine.lzvApplies, mine.lzvReason], [88, true, false, "LZV_NOT_LICENSED"]);
        assert.equal(expiries[0]!.serial, "RZK-HSM-0001", "the unit expiring first comes first");
        assert.deepEqual(
          expiries.map((e) => e.daysToExpiry),
          [...expiries.map((e) => e.daysToExpiry)].sort((a, b) => a - b),
        );
      }));

    it("LZV: refused without the licence feature, then extends to 2025-12-31 with the same keys and ICCSN once licensed", async () => {
      const unitId = await createUnit("RZK-HSM-0004", "2020-06-01");
      assert.equal((await refusal(rpc(h, "attemptLzv", { unitId }))).code, "LZV_NOT_LICENSED");
      const before = await sm(unitId);
      const licence = issueLicence(vendor.privateKey, { serial: "RZK-HSM-0004", ktPerComputeUnit: 50, features: ["PTV5", "LZV"] });
      await rpc(t, "importLicence", { unit: "RZK-HSM-0004", licenceFile: JSON.stringify(licence) });
      await eventually(() => sm(unitId).then((m) => m.lzvLicensed), 60_000, "LZV licence seen by hsm");
      const after = (await rpc<Sm>(h, "attemptLzv", { unitId })).securityModule;
      for (const [i, id] of after.identities.entries()) {
        const old = before.identities[i]!;
        assert.equal(id.certificate.notAfter, "2025-12-31T23:59:59.000Z");
        assert.equal(id.certificate.iccsn, old.certificate.iccsn);
        assert.notEqual(id.certificate.certSerial, old.certificate.certSerial);
        assert.ok(
          createPublicKey(id.certificate.pem)
            .export({ type: "spki", format: "der" })
            .equals(createPublicKey(old.certificate.pem).export({ type: "spki", format: "der" })),
          `${id.name} keeps its key`,
        );
        assert.equal(id.extendedByLzv, true);
        await verifyWithOpenssl(id.certificate.pem, `lzv-${id.name}`);
      }
      assert.equal((await refusal(rpc(h, "attemptLzv", { unitId }))).code, "LZV_ALREADY_EXTENDED");
    });

    it("LZV is refused for certificates issued from 2021 on; Sperrung revokes the gSMC-K (OCSP revoked, no TI access)", async () => {
      const unitId = await createUnit("RZK-HSM-0002", "2021-03-01");
      await rpc(t, "importLicence", {
        unit: "RZK-HSM-0002",
        licenceFile: JSON.stringify(issueLicence(vendor.privateKey, { serial: "RZK-HSM-0002", ktPerComputeUnit: 50, features: ["LZV"] })),
      });
      await eventually(() => sm(unitId).then((m) => m.lzvLicensed), 60_000, "licence");
      assert.equal((await refusal(rpc(h, "attemptLzv", { unitId }))).code, "LZV_NOT_ELIGIBLE");
      const revoked = (await rpc<Sm>(h, "revokeUnit", { unitId, reason: "keyCompromise" })).securityModule;
      assert.equal(revoked.tiAccess, false);
      assert.ok(revoked.identities.every((i) => i.certificate.ocspStatus === "revoked"));
      assert.equal((await refusal(rpc(h, "attemptLzv", { unitId }))).code, "LZV_CERT_REVOKED");
    });

    it("advancing simulated time through the 180/90/30-day marks and the expiry records each event once", () =>
      withOwnPair(async (own) => {
        await createUnit("RZK-HSM-0013", "2022-10-01", own);
        const unitId = await createUnit("RZK-HSM-0003", "2020-10-01", own);
        for (let i = 0; i < 8; i++) await rpc(own.h, "advanceClock", { duration: "30d" });
        const { events } = await own.hsm.hsm.pki.store.readStream(`sm-${unitId}`);
        const count = (type: string, f: (d: Record<string, unknown>) => boolean = () => true) =>
          events.filter((e) => e.type === type && f(e.data as Record<string, unknown>)).length;
        for (const identity of ["C.NK.VPN", "C.AK.AUT", "C.SAK.AUT"]) {
          for (const mark of [180, 90, 30])
            assert.equal(
              count("CertificateExpiryApproaching", (d) => d["identity"] === identity && d["daysBefore"] === mark),
              1,
              `${identity} ${mark}`,
            );
          assert.equal(
            count("CertificateExpired", (d) => d["identity"] === identity),
            1,
          );
        }
        assert.equal(count("TiAccessLost"), 1);
        const m = await sm(unitId, own);
        assert.equal(m.tiAccess, false);
        const { expiries } = await rpc<{ expiries: { serial: string; expired: boolean; tiAccess: boolean }[] }>(own.h, "listExpiries", { withinDays: 0 });
        assert.deepEqual(expiries[0], { ...expiries[0], serial: "RZK-HSM-0003", expired: true, tiAccess: false }, "the expired unit comes first");
      }));

    it("advancing the clock is refused on the system clock", async () => {
      const sys = ClockControl.system({ now: () => new Date(), simulated: false });
      assert.equal((await refusal(sys.advance("1d"))).code, "CLOCK_NOT_SIMULATED");
    });

    it("no private key, PEM key block or master key appears in any event or log line", async () => {
      // Its own material to scan, whatever ran before: a unit (gSMC-K keys) and a card of each kind.
      await createUnit("RZK-HSM-0005", "2024-01-01");
      for (const cardType of ["SMCB", "HBA", "EGK", "GSMC_KT"]) await card(cardType, "ecc", `Leak scan ${cardType}`);
      const events = [...(await hsm.hsm.pki.store.readAll(undefined, 100_000))].map((e) => JSON.stringify(e)).join("\n");
      const tenancyEvents = (await sql.query<{ data: unknown }>(`SELECT data FROM ${tenancyContext.replaceAll("-", "_")}.events`))
        .map((r) => JSON.stringify(r.data))
        .join("\n");
      const haystack = `${events}\n${tenancyEvents}\n${logs.join("")}`;
      assert.ok(events.length > 1000, "events were scanned");
      assert.doesNotMatch(haystack, /PRIVATE KEY/);
      for (const needle of [masterKey.toString("base64"), masterKey.toString("hex")]) assert.ok(!haystack.includes(needle), "master key leaked");
      const keyRefs = (await sql.query<{ key_ref: string }>(`SELECT key_ref FROM ${hsmContext}.vault_keys`)).map((r) => r.key_ref);
      assert.ok(keyRefs.length > 20);
      const vault = (hsm.hsm as unknown as { vault: { get(ref: string): Promise<import("node:crypto").KeyObject> } }).vault;
      for (const ref of keyRefs) {
        const der = (await vault.get(ref)).export({ type: "pkcs8", format: "der" });
        for (const needle of [der.toString("base64"), der.toString("hex"), der.subarray(der.length - 32).toString("base64")])
          assert.ok(!haystack.includes(needle), `key ${ref} leaked`);
      }
      const stored = await sql.query<{ ciphertext: string }>(`SELECT ciphertext FROM ${hsmContext}.vault_keys LIMIT 1`);
      assert.doesNotMatch(Buffer.from(stored[0]!.ciphertext, "base64").toString("latin1"), /BEGIN/, "keys are stored encrypted");
    });
  });
}
