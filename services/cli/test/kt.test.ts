import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type FakeGateway, fakeGateway, loggedIn, tigw } from "./support.js";

const card = {
  slot: 1,
  cardHandle: "h-1",
  cardType: "SMC-B",
  iccsn: "80276883110000000001",
  certSerial: "",
  insertedAt: "2025-03-01T10:00:00.000Z",
  ctId: "KT-1",
};
const terminal = (over: Record<string, unknown> = {}) => ({
  ctId: "KT-1",
  mac: "00:11:22:33:44:55",
  address: "",
  vendor: "Ingenico",
  model: "ORGA 6141",
  firmware: "3.9.0",
  unitId: "",
  computeUnit: 0,
  correlation: "bekannt",
  connected: false,
  certSerial: "",
  cards: [],
  refusedConnects: 0,
  version: "1",
  ...over,
});

describe("tigw kt", () => {
  let gw: FakeGateway;
  before(async () => {
    gw = await fakeGateway({
      "POST /api/v1/terminals": (r) => terminal(r.body as Record<string, unknown>),
      "POST /api/v1/terminals/KT-1/pair": () => ({ terminal: terminal({ unitId: "u-1", computeUnit: 2, correlation: "gepairt" }), pairingSecret: "ps-123" }),
      "POST /api/v1/terminals/KT-1/unpair": () => terminal(),
      "GET /api/v1/terminals?unit=RZK-0001&mandant=m1": () => ({
        terminals: [terminal({ unitId: "u-1", computeUnit: 1, correlation: "aktiv", connected: true, cards: [card] }), terminal({ ctId: "KT-2" })],
      }),
      "GET /api/v1/terminals": () => ({ terminals: [] }),
      "GET /api/v1/terminals/KT-1": () =>
        terminal({ unitId: "u-1", correlation: "aktiv", connected: true, certSerial: "0F0F", refusedConnects: 2, cards: [card] }),
    });
    loggedIn(gw.url);
  });
  after(() => gw.close());

  it("add: CT-ID, MAC and device facts", async () => {
    const r = await tigw(gw.url, "kt", "add", "--ct-id", "KT-1", "--mac", "00:11:22:33:44:55", "--vendor", "Ingenico");
    assert.deepEqual(gw.last.body, { ctId: "KT-1", mac: "00:11:22:33:44:55", vendor: "Ingenico" });
    assert.equal(r.out, "registered terminal KT-1 (00:11:22:33:44:55), state bekannt");
    const noMac = await tigw(gw.url, "kt", "add", "--ct-id", "KT-1");
    assert.deepEqual([noMac.code, /missing --mac/.test(noMac.err)], [2, true]);
  });
  it("pair: prints the pairing secret once; unpair", async () => {
    const r = await tigw(gw.url, "kt", "pair", "KT-1", "--unit", "RZK-0001", "--cert", "0F0F");
    assert.deepEqual(gw.last.body, { unit: "RZK-0001", certSerial: "0F0F" });
    assert.equal(r.out, "paired KT-1 with unit RZK-0001 (compute unit 2); pairing secret for the terminal (shown once): ps-123");
    assert.equal((await tigw(gw.url, "kt", "unpair", "KT-1", "--reason", "stolen")).out, "unpaired KT-1: it can no longer connect; its slot is free");
    assert.deepEqual(gw.last.body, { reason: "stolen" });
  });
  it("list: filters as query; a table; none: says so", async () => {
    const r = await tigw(gw.url, "kt", "list", "--unit", "RZK-0001", "--mandant", "m1");
    assert.equal(
      r.out,
      [
        "CT-ID  STATE    CONNECTED  UNIT  CU  MAC                CARDS",
        "KT-1   aktiv    yes        u-1   1   00:11:22:33:44:55  1",
        "KT-2   bekannt  no         -     -   00:11:22:33:44:55  0",
      ].join("\n"),
    );
    assert.equal((await tigw(gw.url, "kt", "list")).out, "no terminals");
  });
  it("show: the terminal and its cards", async () => {
    const r = await tigw(gw.url, "kt", "show", "KT-1");
    assert.equal(
      r.out,
      [
        "Terminal:         KT-1",
        "MAC:              00:11:22:33:44:55",
        "Device:           Ingenico ORGA 6141 3.9.0",
        "Unit:             u-1",
        "State:            aktiv, connected",
        "gSMC-KT:          0F0F",
        "Refused connects: 2",
        "",
        "CT-ID  SLOT  TYPE   ICCSN                 HANDLE  INSERTED",
        "KT-1   1     SMC-B  80276883110000000001  h-1     2025-03-01T10:00:00.000Z",
      ].join("\n"),
    );
  });
});
