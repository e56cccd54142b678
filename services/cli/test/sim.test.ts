import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type FakeGateway, fakeGateway, loggedIn, tigw } from "./support.js";

describe("tigw sim", () => {
  let gw: FakeGateway;
  const inserted = (body: unknown) => ({ ...(body as object), cardHandle: "h-9", insertedAt: "", ctId: "KT-1" });
  before(async () => {
    gw = await fakeGateway({
      "POST /api/v1/sim/cards": () => ({ iccsn: "80276883110000000042", certSerial: "0ABC" }),
      "POST /api/v1/terminals/KT-1/cards": (r) => inserted(r.body),
      "POST /api/v1/terminals/KT-1/cards/3/remove": () => ({ removed: true }),
      "POST /api/v1/terminals/KT-1/cards/4/remove": () => ({ removed: false }),
      "POST /api/v1/sim/egk": () => ({ iccsn: "80276001010000000007", certSerial: "0EGK", kvnr: "X110411675", name: "Erika Mustermann" }),
      "POST /api/v1/sim/fachdienst": () => ({}),
    });
    loggedIn(gw.url);
  });
  after(() => gw.close());

  it("card insert SMC-B: the card comes from the test PKI, then goes into the slot", async () => {
    const r = await tigw(gw.url, "sim", "card", "insert", "KT-1", "--type", "SMC-B", "--slot", "2", "--pin", "123456");
    const [pki, slot] = gw.requests.slice(-2);
    assert.deepEqual(pki!.body, { cardType: "SMCB", keyType: "ecc" });
    assert.deepEqual(slot!.body, { slot: 2, cardType: "SMC-B", iccsn: "80276883110000000042", certSerial: "0ABC", pin: "123456" });
    assert.equal(r.out, "inserted SMC-B 80276883110000000042 into KT-1 slot 2; card handle h-9");
  });
  it("card insert EGK with --iccsn: no PKI card, slot 1 by default", async () => {
    const sent = gw.requests.length;
    await tigw(gw.url, "sim", "card", "insert", "KT-1", "--type", "EGK", "--iccsn", "80276001010000000001");
    assert.equal(gw.requests.length, sent + 1);
    assert.deepEqual(gw.last.body, { slot: 1, cardType: "EGK", iccsn: "80276001010000000001" });
  });
  it("card remove: says whether the slot held a card; another verb is a usage error", async () => {
    assert.equal((await tigw(gw.url, "sim", "card", "remove", "KT-1", "--slot", "3")).out, "removed the card from KT-1 slot 3");
    assert.equal((await tigw(gw.url, "sim", "card", "remove", "KT-1", "--slot", "4")).out, "slot 4 of KT-1 was empty");
    const bad = await tigw(gw.url, "sim", "card", "eject", "KT-1");
    assert.equal(bad.code, 2);
    assert.match(bad.err, /tigw sim card insert\|remove KT/);
  });
  it("egk insert: an insured person's eGK (or a Prüfkarte) into the slot", async () => {
    const r = await tigw(gw.url, "sim", "egk", "insert", "KT-1", "--slot", "2", "--kvnr", "X110411675");
    assert.deepEqual(gw.requests.at(-2)!.body, { kvnr: "X110411675", pruefkarte: 0 });
    assert.deepEqual(gw.last.body, { slot: 2, cardType: "EGK", iccsn: "80276001010000000007", certSerial: "0EGK" });
    assert.equal(r.out, "inserted the eGK of Erika Mustermann (KVNR X110411675) into KT-1 slot 2; card handle h-9");
    const p = await tigw(gw.url, "sim", "egk", "insert", "KT-1", "--pruefkarte", "3");
    assert.deepEqual(gw.requests.at(-2)!.body, { pruefkarte: 3 });
    assert.match(p.out, /^inserted the Prüfkarte eGK of Erika Mustermann/);
    assert.deepEqual(JSON.parse((await tigw(gw.url, "sim", "egk", "insert", "KT-1", "-o", "json")).out).kvnr, "X110411675");
  });
  it("fachdienst IK BEHAVIOUR", async () => {
    assert.equal((await tigw(gw.url, "sim", "fachdienst", "109500969", "update-pending")).out, "Fachdienst of IK 109500969: update-pending");
    assert.deepEqual(gw.last.body, { ik: "109500969", behaviour: "update-pending" });
    assert.equal((await tigw(gw.url, "sim", "fachdienst", "109500969")).code, 2);
  });
  it("kt: --count must be 1-2000 (checked before any terminal is made)", async () => {
    const sent = gw.requests.length;
    for (const count of ["0", "2001", "many"]) {
      const r = await tigw(gw.url, "sim", "kt", "--unit", "RZK-0001", "--count", count);
      assert.equal(r.code, 2);
      assert.match(r.err, /^usage error: --count must be 1-2000/);
    }
    assert.equal(gw.requests.length, sent);
  });
});
