import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { answer, type FakeGateway, fakeGateway, loggedIn, tigw } from "./support.js";

describe("tigw clock", () => {
  let gw: FakeGateway;
  before(async () => {
    gw = await fakeGateway({
      "GET /api/v1/clock": () => ({ now: "2025-03-01T00:00:00.000Z", simulated: false }),
      "POST /api/v1/clock/advance": (r) =>
        (r.body as { duration: string }).duration === "30d"
          ? { now: "2025-03-31T00:00:00.000Z" }
          : answer(400, { code: "INVALID_REQUEST", detail: "not a duration" }),
    });
    loggedIn(gw.url);
  });
  after(() => gw.close());

  it("show: the time and which clock", async () => {
    assert.equal((await tigw(gw.url, "clock", "show")).out, "2025-03-01T00:00:00.000Z (system clock)");
  });
  it("advance DURATION: sent as given", async () => {
    const r = await tigw(gw.url, "clock", "advance", "30d");
    assert.deepEqual(gw.last.body, { duration: "30d" });
    assert.equal(r.out, "simulated clock now 2025-03-31T00:00:00.000Z; expiry checks ran");
  });
  it("advance without a duration: usage error", async () => {
    const r = await tigw(gw.url, "clock", "advance");
    assert.equal(r.code, 2);
    assert.match(r.err, /missing DURATION \(e\.g\. 30d\)/);
  });
});
