import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { callByName, createClient, SqlEventStore, topicOf, type EventBus, type Sql } from "@tigw/platform";
import { CardTerminalServiceClient } from "@tigw/contracts/cardterminal/v1/card_terminal";
import { HsmServiceClient } from "@tigw/contracts/hsm/v1/hsm";
import { TenancyServiceClient } from "@tigw/contracts/tenancy/v1/tenancy";
import { eventually, freshContext, refusal, serviceSetups } from "@tigw/platform/testing";
import { ClockControl, startHsm, type RunningHsm } from "@tigw/hsm";
import { loadProfiles, startTenancy, type RunningTenancy } from "@tigw/tenancy";
import { startCardTerminal, type RunningCardTerminal } from "../src/index.js";

/**
 * Certificates tied to their cards (issue 12, defect 9): pairing takes only a C.SMKT.AUT of the
 * KOMP CA (X.509 chain, issuer, policy OID), valid on the simulated clock and good at OCSP; every
 * connect checks it again and records CERT_INVALID; an inserted card's certificate must be its own.
 */
for (const setup of serviceSetups()) {
  describe(`card certificates (${setup.store.name} store, ${setup.bus.name} bus)`, () => {
    const ctx = { tenancy: freshContext("tenancy"), hsm: freshContext("hsm"), kt: freshContext("kt") };
    const UNIT = "RZK-CERT-0001";
    let sql: Sql;
    let bus: EventBus;
    let tenancy: RunningTenancy;
    let hsm: RunningHsm;
    let kt: RunningCardTerminal;
    let t: TenancyServiceClient;
    let h: HsmServiceClient;
    let c: CardTerminalServiceClient;
    const rpc = callByName;
    type Terminal = { ctId: string; correlation: string; connected: boolean; refusedConnects: number };
    type Cert = { certSerial: string; iccsn: string };

    const issue = async (cardType: string, o: { holder?: string; iccsn?: string; notBefore?: string; years?: number } = {}) =>
      (
        await rpc<{ certificate: Cert }>(h, "issueCard", {
          cardType,
          keyType: "ecc",
          holder: o.holder ?? "",
          iccsn: o.iccsn ?? "",
          notBefore: o.notBefore ?? "",
          validityYears: o.years ?? 5,
        })
      ).certificate;
    const addTerminal = (ctId: string) =>
      rpc(c, "addTerminal", {
        ctId,
        mac: `00:0D:F8:${randomBytes(3).toString("hex").match(/../g)!.join(":")}`,
        address: "",
        vendor: "ORGA",
        model: "6141 online",
        firmware: "3.9.0",
      });
    const pair = (ctId: string, certSerial: string) => rpc<{ terminal: Terminal; pairingSecret: Buffer }>(c, "pairTerminal", { ctId, unit: UNIT, certSerial });
    const connect = async (ctId: string, certSerial: string, secret: Buffer) => {
      const { challenge } = await rpc<{ challenge: Buffer }>(c, "beginConnect", { ctId });
      const { signature } = await rpc<{ signature: Buffer }>(h, "proveTerminalKey", { certSerial, ctId, challenge });
      return (
        await rpc<{ terminal: Terminal }>(c, "completeConnect", {
          ctId,
          challenge,
          signature,
          secretProof: createHmac("sha256", secret).update(challenge).digest(),
        })
      ).terminal;
    };
    /** A terminal paired with a fresh gSMC-KT (valid `years` from now) and connected once. */
    const pairedTerminal = async (ctId: string, years = 5) => {
      const cert = await issue("GSMC_KT", { holder: `gSMC-KT ${ctId}`, years });
      await addTerminal(ctId);
      const { pairingSecret } = await pair(ctId, cert.certSerial);
      await connect(ctId, cert.certSerial, pairingSecret);
      await rpc(c, "disconnect", { ctId });
      return { cert, secret: pairingSecret };
    };
    const refusedEvents = async (ctId: string) => {
      const { events } = await (await SqlEventStore.open(sql, ctx.kt)).readStream(`kt-${ctId}`);
      return events.filter((e) => e.type === "TerminalConnectRefused").map((e) => (e.data as { reason: string }).reason);
    };

    before(async () => {
      sql = await setup.store.sql();
      bus = await setup.bus.bus();
      // One simulated clock for all three services, as in a single-process start.
      const clock = await ClockControl.simulated(sql, ctx.hsm, new Date("2026-03-01T00:00:00Z"));
      tenancy = await startTenancy({ sql, bus, clock, profiles: loadProfiles(), vendorKeys: [], context: ctx.tenancy });
      hsm = await startHsm({ sql, bus, clock, masterKey: randomBytes(32), context: ctx.hsm, tenancyTopic: topicOf(ctx.tenancy), tickMs: 3_600_000 });
      kt = await startCardTerminal({ sql, bus, clock, masterKey: randomBytes(32), tenancyAddress: tenancy.address, hsmAddress: hsm.address, context: ctx.kt });
      t = createClient(TenancyServiceClient, tenancy.address, { deadlineMs: 60_000 });
      h = createClient(HsmServiceClient, hsm.address, { deadlineMs: 60_000 });
      c = createClient(CardTerminalServiceClient, kt.address, { deadlineMs: 60_000 });
      await rpc(t, "createUnit", { serial: UNIT, profile: "rz", firmware: "", producedOn: "" });
    });
    after(async () => {
      for (const x of [t, h, c]) x.close();
      await kt.stop();
      await hsm.stop();
      await tenancy.stop();
      await bus.close();
    });

    it("pairs only a C.SMKT.AUT of the KOMP CA: an SMC-B named 'gSMC-KT' (wrong CA) and a gSMC-K's C.AK.AUT (wrong profile) are refused", async () => {
      await addTerminal("KT-CA");
      // The old check looked for "gSMC-KT" in the subject: this SMC-B passed it.
      const impostor = await issue("SMCB", { holder: "gSMC-KT KT-CA" });
      const wrongCa = await refusal(pair("KT-CA", impostor.certSerial));
      assert.deepEqual([wrongCa.code, wrongCa.details["problem"]], ["PAIRING_CERT_INVALID", "WRONG_CA"]);
      assert.match(wrongCa.message, /SMCB-CA.*KOMP CA/);

      const { unit } = await rpc<{ unit: { unitId: string } }>(t, "getUnit", { unit: UNIT });
      type Sm = { securityModule: { identities: { name: string; certificate: { certSerial: string } }[] } };
      const sm = () => rpc<Sm>(h, "getSecurityModule", { unitId: unit.unitId }).then((r) => r.securityModule);
      await eventually(
        () =>
          sm().then(
            () => true,
            () => false,
          ),
        60_000,
        "the unit's gSMC-K",
      );
      const akAut = (await sm()).identities.find((i) => i.name === "C.AK.AUT")!.certificate.certSerial;
      const wrongProfile = await refusal(pair("KT-CA", akAut));
      assert.deepEqual([wrongProfile.code, wrongProfile.details["problem"]], ["PAIRING_CERT_INVALID", "WRONG_PROFILE"]);

      const terminal = (await rpc<{ terminal: Terminal }>(c, "getTerminal", { ctId: "KT-CA" })).terminal;
      assert.equal(terminal.correlation, "bekannt", "a refused pairing leaves the terminal unpaired");
      const right = await issue("GSMC_KT", { holder: "KT-CA" });
      assert.equal((await pair("KT-CA", right.certSerial)).terminal.correlation, "gepairt");
    });

    it("refuses to pair with an expired or a revoked gSMC-KT", async () => {
      await addTerminal("KT-OLD");
      const expired = await issue("GSMC_KT", { notBefore: "2020-01-01T00:00:00Z", years: 5 });
      const e = await refusal(pair("KT-OLD", expired.certSerial));
      assert.deepEqual([e.code, e.details["problem"]], ["PAIRING_CERT_INVALID", "EXPIRED"]);
      const revoked = await issue("GSMC_KT");
      await rpc(h, "revokeCertificate", { certSerial: revoked.certSerial, reason: "keyCompromise" });
      const r = await refusal(pair("KT-OLD", revoked.certSerial));
      assert.deepEqual([r.code, r.details["problem"]], ["PAIRING_CERT_INVALID", "REVOKED"]);
    });

    it("a connect after the gSMC-KT was revoked is refused with CERT_INVALID and recorded", async () => {
      const { cert, secret } = await pairedTerminal("KT-REV");
      await rpc(h, "revokeCertificate", { certSerial: cert.certSerial, reason: "keyCompromise" });
      const refused = await refusal(connect("KT-REV", cert.certSerial, secret));
      assert.deepEqual([refused.code, refused.details["reason"], refused.details["problem"]], ["CONNECT_REFUSED", "CERT_INVALID", "REVOKED"]);
      const terminal = (await rpc<{ terminal: Terminal }>(c, "getTerminal", { ctId: "KT-REV" })).terminal;
      assert.deepEqual([terminal.connected, terminal.refusedConnects], [false, 1]);
      assert.deepEqual(await refusedEvents("KT-REV"), ["CERT_INVALID"]);
    });

    it("a connect after the gSMC-KT expired on the simulated clock is refused with CERT_INVALID; a longer-lived one still connects", async () => {
      const short = await pairedTerminal("KT-EXP", 1);
      const long = await pairedTerminal("KT-LONG", 5);
      await rpc(h, "advanceClock", { duration: "400d" });
      const refused = await refusal(connect("KT-EXP", short.cert.certSerial, short.secret));
      assert.deepEqual([refused.code, refused.details["reason"], refused.details["problem"]], ["CONNECT_REFUSED", "CERT_INVALID", "EXPIRED"]);
      assert.deepEqual(await refusedEvents("KT-EXP"), ["CERT_INVALID"]);
      assert.equal((await connect("KT-LONG", long.cert.certSerial, long.secret)).connected, true);
    });

    it("an inserted card's certificate must be its own: another card's (ICCSN), another type's (CA) are refused; its own is taken", async () => {
      const { cert, secret } = await pairedTerminal("KT-CARDS");
      await connect("KT-CARDS", cert.certSerial, secret);
      const insert = (slot: number, cardType: string, iccsn: string, certSerial: string) =>
        rpc<{ card: { cardHandle: string } }>(c, "insertCard", { ctId: "KT-CARDS", slot, cardType, iccsn, certSerial, pin: "" });
      const mine = await issue("SMCB", { holder: "Praxis Eigen" });
      const others = await issue("SMCB", { holder: "Praxis Fremd" });
      const wrongCard = await refusal(insert(1, "SMC-B", mine.iccsn, others.certSerial));
      assert.deepEqual([wrongCard.code, wrongCard.details["problem"]], ["CARD_CERT_INVALID", "WRONG_ICCSN"]);
      const hba = await issue("HBA", { iccsn: mine.iccsn });
      const wrongType = await refusal(insert(1, "SMC-B", mine.iccsn, hba.certSerial));
      assert.deepEqual([wrongType.code, wrongType.details["problem"]], ["CARD_CERT_INVALID", "WRONG_CA"]);
      const egk = await issue("EGK");
      assert.deepEqual((await refusal(insert(1, "SMC-B", egk.iccsn, egk.certSerial))).details["problem"], "WRONG_CA");
      const { cards } = await rpc<{ cards: unknown[] }>(c, "listCards", { unit: UNIT });
      assert.equal(cards.length, 0, "no refused card sits in a slot");
      assert.ok((await insert(1, "SMC-B", mine.iccsn, mine.certSerial)).card.cardHandle);
      assert.ok((await insert(2, "EGK", egk.iccsn, egk.certSerial)).card.cardHandle);
    });
  });
}
