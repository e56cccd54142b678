import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import { gunzipSync } from "node:zlib";
import { after, before, describe, it } from "node:test";
import { call, createClient, EmbeddedBus, embeddedSql, type EventBus } from "@tigw/platform";
import { CardTerminalServiceClient } from "@tigw/platform/dist/src/gen/tigw/cardterminal/v1/card_terminal.js";
import { HsmServiceClient } from "@tigw/platform/dist/src/gen/tigw/hsm/v1/hsm.js";
import { TenancyServiceClient } from "@tigw/platform/dist/src/gen/tigw/tenancy/v1/tenancy.js";
import { VsdmServiceClient } from "@tigw/platform/dist/src/gen/tigw/vsdm/v1/vsdm.js";
import { refusal } from "@tigw/platform/dist/test/support/adapters.js";
import { startCardTerminal, type RunningCardTerminal } from "@tigw/card-terminal";
import { ClockControl, startHsm, type RunningHsm } from "@tigw/hsm";
import { loadProfiles, startTenancy, type RunningTenancy } from "@tigw/tenancy";
import { generatePopulation, startVsdm, type RunningVsdm } from "../src/index.js";

/**
 * ReadVSD through tenancy, hsm, card-terminal and vsdm as real gRPC services (embedded
 * adapters): a technician's Prüfkarte check (seed 004), a blocked health application, and a
 * Mandant reading another Mandant's terminal.
 */
describe("ReadVSD across the services (embedded)", () => {
  let bus: EventBus;
  let tenancy: RunningTenancy;
  let hsm: RunningHsm;
  let ktSvc: RunningCardTerminal;
  let vsdm: RunningVsdm;
  let t: TenancyServiceClient;
  let h: HsmServiceClient;
  let c: CardTerminalServiceClient;
  let v: VsdmServiceClient;
  const rpc = <Res>(client: object, m: string, req: object) => call<object, Res>((client as Record<string, (...a: never[]) => unknown>)[m]!.bind(client) as never, req);
  const conf = (action: string, over: object) => rpc(c, "configureInfomodell", { unit: "RZK-VSD-0001", action, mandantId: "", clientSystemId: "", workplaceId: "", clientSystemIds: [], ctId: "", kind: "", iccsn: "", ...over });
  const insert = async (slot: number, cardType: string, iccsn: string, certSerial: string, pin = "") =>
    (await rpc<{ card: { cardHandle: string } }>(c, "insertCard", { ctId: "KT-VSD-1", slot, cardType, iccsn, certSerial, pin })).card.cardHandle;
  let smcbHandle = "";
  const read = (ehcHandle: string, ctx = { mandantId: "M1", clientSystemId: "PVS1", workplaceId: "AP1", userId: "" }) =>
    rpc<{ persoenlicheVersichertendaten: Buffer; allgemeineVersicherungsdaten: Buffer; pruefungsnachweis: Buffer; result: number; errorCode: number }>(v, "readVsd", {
      unit: "RZK-VSD-0001",
      context: ctx,
      ehcHandle,
      hpcHandle: smcbHandle,
      performOnlineCheck: true,
      readOnlineReceipt: true,
    });

  before(async () => {
    bus = await EmbeddedBus.open(await embeddedSql());
    // A simulated clock (starting now), so a test can let the maximum offline period pass.
    const clock = await ClockControl.simulated(await embeddedSql(), "clock", new Date());
    tenancy = await startTenancy({ sql: await embeddedSql(), bus, clock, profiles: loadProfiles(), vendorKeys: [] });
    hsm = await startHsm({ sql: await embeddedSql(), bus, clock, masterKey: randomBytes(32) });
    ktSvc = await startCardTerminal({ sql: await embeddedSql(), bus, clock, masterKey: randomBytes(32), tenancyAddress: tenancy.address, hsmAddress: hsm.address });
    vsdm = await startVsdm({ sql: await embeddedSql(), bus, clock, tenancyAddress: tenancy.address, hsmAddress: hsm.address, cardTerminalAddress: ktSvc.address, population: { size: 2000, seed: 1 } });
    t = createClient(TenancyServiceClient, tenancy.address, { deadlineMs: 60_000 });
    h = createClient(HsmServiceClient, hsm.address, { deadlineMs: 60_000 });
    c = createClient(CardTerminalServiceClient, ktSvc.address, { deadlineMs: 60_000 });
    v = createClient(VsdmServiceClient, vsdm.address, { deadlineMs: 60_000 });

    await rpc(t, "createUnit", { serial: "RZK-VSD-0001", profile: "rz", firmware: "", producedOn: "" });
    for (const m of ["M1", "M2"]) await rpc(t, "addMandant", { unit: "RZK-VSD-0001", mandantId: m, name: `Praxis ${m}`, bsnr: "", smcbIccsn: "" });
    // A paired, connected terminal (gSMC-KT from the test PKI).
    const gsmckt = (await rpc<{ certificate: { certSerial: string } }>(h, "issueCard", { cardType: "GSMC_KT", keyType: "ecc", holder: "KT-VSD-1", iccsn: "", notBefore: "", validityYears: 5 })).certificate.certSerial;
    await rpc(c, "addTerminal", { ctId: "KT-VSD-1", mac: "00:0D:F8:00:00:01", address: "", vendor: "ORGA", model: "6141", firmware: "3.9.0" });
    const { pairingSecret } = await rpc<{ pairingSecret: Buffer }>(c, "pairTerminal", { ctId: "KT-VSD-1", unit: "RZK-VSD-0001", certSerial: gsmckt });
    const { challenge } = await rpc<{ challenge: Buffer }>(c, "beginConnect", { ctId: "KT-VSD-1" });
    const { signature } = await rpc<{ signature: Buffer }>(h, "sign", { certSerial: gsmckt, data: challenge });
    await rpc(c, "completeConnect", { ctId: "KT-VSD-1", challenge, signature, secretProof: createHmac("sha256", pairingSecret).update(challenge).digest() });
    // Infomodell: M1 with PVS1 at AP1 (KT-VSD-1 local), M2 with PVS2 at AP9.
    await conf("mandant", { mandantId: "M1" });
    await conf("mandant", { mandantId: "M2" });
    await conf("client-system", { mandantId: "M1", clientSystemId: "PVS1" });
    await conf("client-system", { mandantId: "M2", clientSystemId: "PVS2" });
    await conf("workplace", { mandantId: "M1", workplaceId: "AP1", clientSystemIds: ["PVS1"] });
    await conf("workplace", { mandantId: "M2", workplaceId: "AP9", clientSystemIds: ["PVS2"] });
    await conf("terminal", { mandantId: "M1", ctId: "KT-VSD-1" });
    await conf("workplace-terminal", { workplaceId: "AP1", ctId: "KT-VSD-1", kind: "local" });
    await conf("workplace-terminal", { workplaceId: "AP9", ctId: "KT-VSD-1", kind: "remote" });
    // The practice's SMC-B, managed by M1, unlocked with its PIN.
    const smcb = (await rpc<{ certificate: { certSerial: string; iccsn: string } }>(h, "issueCard", { cardType: "SMCB", keyType: "ecc", holder: "Praxis M1", iccsn: "", notBefore: "", validityYears: 5 })).certificate;
    await conf("smb", { mandantId: "M1", iccsn: smcb.iccsn });
    smcbHandle = await insert(2, "SMC-B", smcb.iccsn, smcb.certSerial, "123456");
  });
  after(async () => {
    for (const x of [t, h, c, v]) x.close();
    await vsdm.stop();
    await ktSvc.stop();
    await hsm.stop();
    await tenancy.stop();
    await bus.close();
  });

  it("refuses a read while the SMC-B is locked (3041)", async () => {
    const egk = await rpc<{ iccsn: string; certSerial: string }>(v, "prepareEgk", { kvnr: "", pruefkarte: 2 });
    const handle = await insert(1, "PRUEFKARTE_EGK", egk.iccsn, egk.certSerial);
    try {
      assert.equal((await refusal(read(handle))).code, "3041");
    } finally {
      await rpc(c, "removeCard", { ctId: "KT-VSD-1", slot: 1 });
    }
    assert.equal((await rpc<{ result: string }>(c, "verifyPin", { cardHandle: smcbHandle, pin: "123456" })).result, "OK");
  });

  it("seed 004's technician check: Prüfkarte 0001 reads the fictitious identity with Prüfungsnachweis 3, protocolled with OCSP ok", async () => {
    const egk = await rpc<{ iccsn: string; certSerial: string; kvnr: string }>(v, "prepareEgk", { kvnr: "", pruefkarte: 1 });
    const handle = await insert(1, "PRUEFKARTE_EGK", egk.iccsn, egk.certSerial);
    const r = await read(handle);
    assert.deepEqual([r.result, r.errorCode], [3, 11101]);
    const pd = gunzipSync(r.persoenlicheVersichertendaten).toString("latin1");
    for (const f of ["<Nachname>Ort</Nachname>", "<Vorname>Dienstleister</Vorname>", "<Vorsatzwort>vor</Vorsatzwort>", "<Strasse>Friedrichstraße</Strasse>", `<Versicherten_ID>${egk.kvnr}</Versicherten_ID>`]) assert.ok(pd.includes(f), f);
    assert.match(gunzipSync(r.allgemeineVersicherungsdaten).toString("latin1"), /<Kostentraegerkennung>109500969<\/Kostentraegerkennung>/);
    assert.match(gunzipSync(r.pruefungsnachweis).toString("latin1"), /<E>3<\/E><EC>11101<\/EC>/);
    const { entries } = await rpc<{ entries: { kvnr: string; ocsp: string; outcome: string; result: number; steps: { name: string }[] }[] }>(v, "listProtocol", { unit: "RZK-VSD-0001", outcome: "" });
    const last = entries.at(-1)!;
    assert.deepEqual([last.kvnr, last.ocsp, last.outcome, last.result], [egk.kvnr, "ok", "warning", 3]);
    assert.ok(last.steps.some((s) => s.name === "online check Fachdienst"));
    await rpc(c, "removeCard", { ctId: "KT-VSD-1", slot: 1 });
  });

  it("an eGK with a blocked health application is refused with 114", async () => {
    const blocked = generatePopulation(2000, 1).find((p) => p.card.healthApplicationBlocked && p.card.generation !== "G1" && p.card.certificate === "valid")!;
    const egk = await rpc<{ iccsn: string; certSerial: string }>(v, "prepareEgk", { kvnr: blocked.kvnr, pruefkarte: 0 });
    const handle = await insert(1, "EGK", egk.iccsn, egk.certSerial);
    try {
      assert.equal((await refusal(read(handle))).code, "114");
    } finally {
      await rpc(c, "removeCard", { ctId: "KT-VSD-1", slot: 1 });
    }
  });

  const population = generatePopulation(2000, 1);
  const ordinary = population.filter((p) => p.card.generation !== "G1" && p.card.certificate === "valid" && !p.card.healthApplicationBlocked && !p.card.vsdInconsistent);
  /** Inserts the person's eGK into slot 1, reads, removes the card again. */
  const readPerson = async (kvnr: string, during?: () => Promise<void>) => {
    const egk = await rpc<{ iccsn: string; certSerial: string }>(v, "prepareEgk", { kvnr, pruefkarte: 0 });
    const handle = await insert(1, "EGK", egk.iccsn, egk.certSerial);
    try {
      const reading = read(handle);
      if (during) await during();
      return await reading;
    } finally {
      await rpc(c, "removeCard", { ctId: "KT-VSD-1", slot: 1 });
    }
  };
  const fachdienst = (ik: string, behaviour: string) => rpc(v, "setFachdienst", { ik, behaviour });

  it("result 2: no update needed; result 1: the pending update is written (VSD status current)", async () => {
    const p = ordinary[0]!;
    assert.equal((await readPerson(p.kvnr)).result, 2);
    await fachdienst(p.insurer.ik, "update-pending");
    try {
      const r = await readPerson(p.kvnr);
      assert.equal(r.result, 1);
      assert.match(gunzipSync(r.persoenlicheVersichertendaten).toString("latin1"), /<Strasse>Neue Straße<\/Strasse>/);
    } finally {
      await fachdienst(p.insurer.ik, "no-update");
    }
  });

  it("result 5: the Fachdienst is unreachable (VSD still returned)", async () => {
    const p = ordinary[1]!;
    await fachdienst(p.insurer.ik, "unreachable");
    try {
      const r = await readPerson(p.kvnr);
      assert.equal(r.result, 5);
      assert.ok(r.persoenlicheVersichertendaten.length > 0);
    } finally {
      await fachdienst(p.insurer.ik, "no-update");
    }
  });

  it("113: an outdated eGK generation (G1); 106 with Prüfungsnachweis 4: a revoked C.CH.AUT", async () => {
    const g1 = population.find((p) => p.card.generation === "G1" && p.card.certificate === "valid" && !p.card.healthApplicationBlocked && !p.card.vsdInconsistent)!;
    assert.equal((await refusal(readPerson(g1.kvnr))).code, "113");
    const revoked = population.find((p) => p.card.generation !== "G1" && p.card.certificate === "revoked" && !p.card.healthApplicationBlocked && !p.card.vsdInconsistent)!;
    const e = await refusal(readPerson(revoked.kvnr));
    assert.deepEqual([e.code, e.details["pruefungsnachweis"]], ["106", "4"]);
    const { entries } = await rpc<{ entries: { kvnr: string; ocsp: string; code: string }[] }>(v, "listProtocol", { unit: "RZK-VSD-0001", outcome: "error" });
    assert.deepEqual(entries.filter((x) => x.kvnr === revoked.kvnr).map((x) => [x.ocsp, x.code]), [["revoked", "106"]]);
  });

  it("12105: the eGK is pulled while the online check runs", async () => {
    const p = ordinary[2]!;
    await fachdienst(p.insurer.ik, "slow");
    try {
      const e = await refusal(readPerson(p.kvnr, async () => {
        await new Promise((r) => setTimeout(r, 300));
        await rpc(c, "removeCard", { ctId: "KT-VSD-1", slot: 1 });
      }));
      assert.equal(e.code, "12105");
    } finally {
      await fachdienst(p.insurer.ik, "no-update");
    }
  });

  it("3001: the VSD on the eGK are inconsistent", async () => {
    const p = population.find((x) => x.card.vsdInconsistent && x.card.generation !== "G1" && x.card.certificate === "valid" && !x.card.healthApplicationBlocked)!;
    assert.equal((await refusal(readPerson(p.kvnr))).code, "3001");
  });

  it("result 6: the Fachdienst is unreachable and the card's last online check is beyond the maximum offline period", async () => {
    const p = ordinary[3]!;
    assert.equal((await readPerson(p.kvnr)).result, 2);
    await fachdienst(p.insurer.ik, "unreachable");
    try {
      assert.equal((await readPerson(p.kvnr)).result, 5, "within the offline period");
      await rpc(h, "advanceClock", { duration: "91d" });
      assert.equal((await readPerson(p.kvnr)).result, 6);
    } finally {
      await fachdienst(p.insurer.ik, "no-update");
    }
  });

  it("tenant isolation: Mandant M2 reading on M1's terminal is refused by the access check and no VSD leaks", async () => {
    const egk = await rpc<{ iccsn: string; certSerial: string }>(v, "prepareEgk", { kvnr: "", pruefkarte: 3 });
    const handle = await insert(1, "PRUEFKARTE_EGK", egk.iccsn, egk.certSerial);
    const e = await refusal(read(handle, { mandantId: "M2", clientSystemId: "PVS2", workplaceId: "AP9", userId: "" }));
    assert.equal(e.code, "4012");
    assert.ok(!/Dienstleister|Friedrich/.test(`${e.message} ${JSON.stringify(e.details)}`));
    const { entries } = await rpc<{ entries: object[] }>(v, "listProtocol", { unit: "RZK-VSD-0001", outcome: "error" });
    assert.ok(!/Dienstleister|Friedrich|Ort"/.test(JSON.stringify(entries)), "no names or addresses in the protocol");
    await rpc(c, "removeCard", { ctId: "KT-VSD-1", slot: 1 });
  });
});
