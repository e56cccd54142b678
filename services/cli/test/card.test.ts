import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type FakeGateway, fakeGateway, loggedIn, tigw } from "./support.js";

describe("tigw card", () => {
  let gw: FakeGateway;
  before(async () => {
    gw = await fakeGateway({
      "GET /api/v1/units/RZK-0001/cards": () => ({
        cards: [{ slot: 2, cardHandle: "h-2", cardType: "EGK", iccsn: "80276001", certSerial: "", insertedAt: "2025-03-01T10:00:00.000Z", ctId: "KT-1" }],
      }),
      "GET /api/v1/units/RZK-0002/cards": () => ({ cards: [] }),
      "POST /api/v1/cards/h-1/verify-pin": (r) =>
        (r.body as { pin: string }).pin === "123456" ? { result: "OK", leftTries: 3 } : { result: "REJECTED", leftTries: 2 },
      "GET /api/v1/cards/h-1/pin-status": () => ({ status: "VERIFIABLE", leftTries: 2 }),
    });
    loggedIn(gw.url);
  });
  after(() => gw.close());

  it("list: the unit's inserted cards; none: says so", async () => {
    assert.equal(
      (await tigw(gw.url, "card", "list", "RZK-0001")).out,
      "CT-ID  SLOT  TYPE  ICCSN     HANDLE  INSERTED\nKT-1   2     EGK   80276001  h-2     2025-03-01T10:00:00.000Z",
    );
    assert.equal((await tigw(gw.url, "card", "list", "RZK-0002")).out, "no cards inserted");
  });
  it("pin verify: OK exit 0; REJECTED with tries left, exit 1", async () => {
    const ok = await tigw(gw.url, "card", "pin", "verify", "h-1", "--pin", "123456");
    assert.deepEqual([ok.code, ok.out], [0, "PIN OK"]);
    const bad = await tigw(gw.url, "card", "pin", "verify", "h-1", "--pin", "000000");
    assert.deepEqual([bad.code, bad.out], [1, "PIN REJECTED (2 tries left)"]);
  });
  it("pin status; no HANDLE: usage error", async () => {
    assert.equal((await tigw(gw.url, "card", "pin", "status", "h-1")).out, "PIN VERIFIABLE (2 tries left)");
    assert.equal((await tigw(gw.url, "card", "pin", "status")).code, 2);
  });
});
