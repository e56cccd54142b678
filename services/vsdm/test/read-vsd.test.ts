import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import { after, before, beforeEach, describe, it } from "node:test";
import type { CardTerminalServiceClient } from "@tigw/contracts/cardterminal/v1/card_terminal";
import type { HsmServiceClient } from "@tigw/contracts/hsm/v1/hsm";
import type { VsdmServiceClient } from "@tigw/contracts/vsdm/v1/vsdm";
import { refusal } from "@tigw/platform/testing";
import { gematikErrorXml, generatePopulation, readVsdResponseXml, type ReadVsdShape } from "../src/index.js";
import { schemaErrors } from "./support/gematik-xsd.js";
import { rpc, setUpPractice, type Practice } from "./support/practice.js";

/**
 * ReadVSD through tenancy, hsm, card-terminal and vsdm as real gRPC services (embedded
 * adapters): a technician's Prüfkarte check (seed 004), every outcome provoked through the
 * simulators, and a Mandant reading another Mandant's terminal.
 */
type Answer = ReadVsdShape & {
  persoenlicheVersichertendaten: Buffer;
  allgemeineVersicherungsdaten: Buffer;
  pruefungsnachweis: Buffer;
  result: number;
  errorCode: number;
};

/** The answer as ReadVSDResponse, its three documents and its Prüfungsnachweis, each valid against its gematik XSD. */
async function assertSchemaValid(r: Answer): Promise<Answer> {
  assert.deepEqual(await schemaErrors("ReadVSDResponse", readVsdResponseXml(r)), [], "ReadVSDResponse");
  for (const d of [r.persoenlicheVersichertendaten, r.allgemeineVersicherungsdaten, r.geschuetzteVersichertendaten])
    assert.deepEqual(await schemaErrors("VSD", gunzipSync(d)), [], "VSD document");
  if (r.result) assert.deepEqual(await schemaErrors("Pruefungsnachweis", gunzipSync(r.pruefungsnachweis)), [], "Prüfungsnachweis");
  return r;
}

/** The refusal as the GERROR Error of a SOAP fault, valid against TelematikError.xsd, with its code. */
async function assertFault(p: Promise<unknown>, code: string): Promise<Awaited<ReturnType<typeof refusal>>> {
  const e = await refusal(p);
  assert.equal(e.code, code);
  const xml = gematikErrorXml(e, { messageId: "test-message", at: new Date() });
  assert.deepEqual(await schemaErrors("Error", xml), [], "GERROR:Error");
  assert.ok(xml.includes(`<GERROR:Code>${code}</GERROR:Code>`));
  return e;
}

describe("ReadVSD across the services (embedded)", () => {
  let practice: Practice;
  let h: HsmServiceClient;
  let c: CardTerminalServiceClient;
  let v: VsdmServiceClient;
  let smcbHandle = "";
  const insert = (slot: number, cardType: string, iccsn: string, certSerial: string, pin = "") => practice.insert(slot, cardType, iccsn, certSerial, pin);
  const read = (ehcHandle: string, ctx = { mandantId: "M1", clientSystemId: "PVS1", workplaceId: "AP1", userId: "" }) =>
    rpc<Answer>(v, "readVsd", {
      unit: "RZK-VSD-0001",
      context: ctx,
      ehcHandle,
      hpcHandle: smcbHandle,
      performOnlineCheck: true,
      readOnlineReceipt: true,
    }).then(assertSchemaValid);

  type Entry = { kvnr: string; mandantId: string; ocsp: string; outcome: string; result: number; code: string; at: string; steps: { name: string }[] };
  /** The unit's protocol, filtered as `over` says (a ts-proto request must name every field). */
  const protocol = (over: object = {}) =>
    rpc<{ entries: Entry[] }>(v, "listProtocol", { unit: "RZK-VSD-0001", outcome: "", mandantId: "", from: "", to: "", limit: 0, ...over }).then(
      (r) => r.entries,
    );

  before(async () => {
    practice = await setUpPractice();
    ({ h, c, v } = practice.clients);
  });
  after(async () => practice.stop());
  // Each test starts from the same card state, whatever ran before: M1's SMC-B freshly inserted, its PIN verified.
  beforeEach(async () => {
    smcbHandle = await practice.reinsertSmcb();
    assert.equal((await rpc<{ result: string }>(c, "verifyPin", { cardHandle: smcbHandle, pin: "123456", fromPinPad: false })).result, "OK");
  });

  it("refuses a read while the SMC-B is locked (3041)", async () => {
    smcbHandle = await practice.reinsertSmcb();
    const egk = await rpc<{ iccsn: string; certSerial: string }>(v, "prepareEgk", { kvnr: "", pruefkarte: 2 });
    const handle = await insert(1, "PRUEFKARTE_EGK", egk.iccsn, egk.certSerial);
    try {
      const e = await assertFault(read(handle), "3041");
      assert.match(
        gematikErrorXml(e, { messageId: "m", at: new Date() }),
        new RegExp(`<GERROR:Detail>${smcbHandle}</GERROR:Detail>`),
        "the detail carries the SMC-B's CardHandle",
      );
    } finally {
      await rpc(c, "removeCard", { ctId: "KT-VSD-1", slot: 1 });
    }
  });

  it("seed 004's technician check: Prüfkarte 0001 reads the fictitious identity with Prüfungsnachweis 3, protocolled with OCSP ok", async () => {
    const egk = await rpc<{ iccsn: string; certSerial: string; kvnr: string }>(v, "prepareEgk", { kvnr: "", pruefkarte: 1 });
    const handle = await insert(1, "PRUEFKARTE_EGK", egk.iccsn, egk.certSerial);
    const r = await read(handle);
    assert.deepEqual([r.result, r.errorCode], [3, 11101]);
    const pd = gunzipSync(r.persoenlicheVersichertendaten).toString("latin1");
    for (const f of [
      "<Nachname>Ort</Nachname>",
      "<Vorname>Dienstleister</Vorname>",
      "<Vorsatzwort>vor</Vorsatzwort>",
      "<Strasse>Friedrichstraße</Strasse>",
      `<Versicherten_ID>${egk.kvnr}</Versicherten_ID>`,
    ])
      assert.ok(pd.includes(f), f);
    assert.match(gunzipSync(r.allgemeineVersicherungsdaten).toString("latin1"), /<Kostentraegerkennung>109500969<\/Kostentraegerkennung>/);
    assert.match(gunzipSync(r.pruefungsnachweis).toString("latin1"), /<E>3<\/E><EC>11101<\/EC>/);
    const entries = await protocol();
    const last = entries.at(-1)!;
    assert.deepEqual([last.kvnr, last.ocsp, last.outcome, last.result], [egk.kvnr, "ok", "warning", 3]);
    assert.ok(last.steps.some((s) => s.name === "online check Fachdienst"));
    await rpc(c, "removeCard", { ctId: "KT-VSD-1", slot: 1 });
  });

  it("a Prüfkarte prepared before a restart of vsdm is still read after it (not 105)", async () => {
    const egk = await rpc<{ iccsn: string; certSerial: string }>(v, "prepareEgk", { kvnr: "", pruefkarte: 7 });
    const handle = await insert(1, "PRUEFKARTE_EGK", egk.iccsn, egk.certSerial);
    try {
      v = await practice.restartVsdm();
      const r = await read(handle);
      assert.deepEqual([r.result, r.errorCode], [3, 11101]);
    } finally {
      await rpc(c, "removeCard", { ctId: "KT-VSD-1", slot: 1 });
    }
  });

  it("an eGK with a blocked health application is refused with 114", async () => {
    const blocked = generatePopulation(2000, 1).find((p) => p.card.healthApplicationBlocked && p.card.generation !== "G1" && p.card.certificate === "valid")!;
    const egk = await rpc<{ iccsn: string; certSerial: string }>(v, "prepareEgk", { kvnr: blocked.kvnr, pruefkarte: 0 });
    const handle = await insert(1, "EGK", egk.iccsn, egk.certSerial);
    try {
      await assertFault(read(handle), "114");
    } finally {
      await rpc(c, "removeCard", { ctId: "KT-VSD-1", slot: 1 });
    }
  });

  const population = generatePopulation(2000, 1);
  const ordinary = population.filter(
    (p) => p.card.generation !== "G1" && p.card.certificate === "valid" && !p.card.healthApplicationBlocked && !p.card.vsdInconsistent,
  );
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
    const g1 = population.find(
      (p) => p.card.generation === "G1" && p.card.certificate === "valid" && !p.card.healthApplicationBlocked && !p.card.vsdInconsistent,
    )!;
    await assertFault(readPerson(g1.kvnr), "113");
    const revoked = population.find(
      (p) => p.card.generation !== "G1" && p.card.certificate === "revoked" && !p.card.healthApplicationBlocked && !p.card.vsdInconsistent,
    )!;
    const e = await assertFault(readPerson(revoked.kvnr), "106");
    assert.equal(e.details["pruefungsnachweis"], "4");
    const entries = await protocol({ outcome: "error" });
    assert.deepEqual(
      entries.filter((x) => x.kvnr === revoked.kvnr).map((x) => [x.ocsp, x.code]),
      [["revoked", "106"]],
    );
  });

  it("12105: the eGK is pulled while the online check runs", async () => {
    const p = ordinary[2]!;
    await fachdienst(p.insurer.ik, "slow");
    try {
      await assertFault(
        readPerson(p.kvnr, async () => {
          await new Promise((r) => setTimeout(r, 300));
          await rpc(c, "removeCard", { ctId: "KT-VSD-1", slot: 1 });
        }),
        "12105",
      );
    } finally {
      await fachdienst(p.insurer.ik, "no-update");
    }
  });

  it("3001: the VSD on the eGK are inconsistent", async () => {
    const p = population.find(
      (x) => x.card.vsdInconsistent && x.card.generation !== "G1" && x.card.certificate === "valid" && !x.card.healthApplicationBlocked,
    )!;
    await assertFault(readPerson(p.kvnr), "3001");
  });

  it("result 5 with OCSP 'unreachable' in the protocol: the OCSP responder of C.CH.AUT cannot be reached", async () => {
    const p = ordinary[4]!;
    await practice.hsm.ocsp.pause();
    try {
      const r = await readPerson(p.kvnr);
      assert.equal(r.result, 5);
      assert.ok(r.persoenlicheVersichertendaten.length > 0, "VSD still returned");
    } finally {
      await practice.hsm.ocsp.resume();
    }
    const entries = await protocol();
    assert.deepEqual(
      entries.filter((x) => x.kvnr === p.kvnr).map((x) => [x.ocsp, x.result]),
      [["unreachable", 5]],
    );
  });

  it("result 6: the Fachdienst is unreachable and the card's last online check (kept across a restart of vsdm) is beyond the maximum offline period", async () => {
    const p = ordinary[3]!;
    assert.equal((await readPerson(p.kvnr)).result, 2);
    v = await practice.restartVsdm();
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
    const e = await assertFault(read(handle, { mandantId: "M2", clientSystemId: "PVS2", workplaceId: "AP9", userId: "" }), "4012");
    assert.ok(!/Dienstleister|Friedrich/.test(`${e.message} ${JSON.stringify(e.details)}`));
    const entries = await protocol({ outcome: "error" });
    assert.ok(!/Dienstleister|Friedrich|Ort"/.test(JSON.stringify(entries)), "no names or addresses in the protocol");
    await rpc(c, "removeCard", { ctId: "KT-VSD-1", slot: 1 });
  });

  it("the protocol read model answers by Mandant, outcome, time range and limit; bad filters are named", async () => {
    // Reads of its own to find, whatever ran before: two of M1 and one refused of M2.
    for (const p of ordinary.slice(5, 7)) assert.equal((await readPerson(p.kvnr)).result, 2);
    const egk = await rpc<{ iccsn: string; certSerial: string }>(v, "prepareEgk", { kvnr: "", pruefkarte: 3 });
    const handle = await insert(1, "PRUEFKARTE_EGK", egk.iccsn, egk.certSerial);
    await assertFault(read(handle, { mandantId: "M2", clientSystemId: "PVS2", workplaceId: "AP9", userId: "" }), "4012");
    await rpc(c, "removeCard", { ctId: "KT-VSD-1", slot: 1 });
    const list = protocol;
    const all = await list({});
    assert.ok(all.length >= 3, `every read is protocolled (${all.length})`);
    const m2 = await list({ mandantId: "M2" });
    assert.ok(m2.length >= 1, "Mandant M2's read is found");
    assert.deepEqual(new Set(m2.map((e) => `${e.mandantId} ${e.outcome} ${e.code}`)), new Set(["M2 error 4012"]), "only Mandant M2's reads");
    assert.ok((await list({ mandantId: "M1", outcome: "error" })).every((e) => e.mandantId === "M1" && e.outcome === "error"));
    const middle = all[Math.floor(all.length / 2)]!.at;
    const before = await list({ to: middle });
    const since = await list({ from: middle });
    assert.equal(before.length + since.length, all.length, "[from, to) ranges split the protocol without overlap");
    assert.ok(before.every((e) => e.at < middle) && since.every((e) => e.at >= middle));
    assert.deepEqual(await list({ limit: 2 }), all.slice(-2), "the newest two, oldest first");
    const bad = await refusal(list({ from: "yesterday" }));
    assert.deepEqual([bad.code, bad.details["field"]], ["INVALID_ARGUMENT", "from"]);
    assert.equal((await refusal(list({ outcome: "fine" }))).details["field"], "outcome");
  });
});
