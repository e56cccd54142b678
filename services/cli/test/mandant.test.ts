import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type FakeGateway, fakeGateway, loggedIn, tigw } from "./support.js";

describe("tigw mandant", () => {
  let gw: FakeGateway;
  before(async () => {
    gw = await fakeGateway({
      "POST /api/v1/units/RZK-0001/mandanten": (r) => ({ ...(r.body as object), addedAt: "2025-01-01T00:00:00.000Z" }),
      "GET /api/v1/units/RZK-0001/mandanten": () => ({
        mandanten: [{ mandantId: "m1", name: "Praxis Eins", bsnr: "", smcbIccsn: "80276883110000000001", addedAt: "" }],
      }),
      "GET /api/v1/units/RZK-0002/mandanten": () => ({ mandanten: [] }),
    });
    loggedIn(gw.url);
  });
  after(() => gw.close());

  it("add: id, name, BSNR and SMC-B ICCSN go to the unit", async () => {
    const r = await tigw(gw.url, "mandant", "add", "RZK-0001", "--id", "m1", "--name", "Praxis Eins", "--bsnr", "123456789", "--iccsn", "80276883110000000001");
    assert.deepEqual(gw.last.body, { mandantId: "m1", name: "Praxis Eins", bsnr: "123456789", smcbIccsn: "80276883110000000001" });
    assert.equal(r.out, "added Mandant m1 (Praxis Eins) to RZK-0001");
  });

  it("add without --name: usage error", async () => {
    const r = await tigw(gw.url, "mandant", "add", "RZK-0001", "--id", "m1");
    assert.equal(r.code, 2);
    assert.match(r.err, /^usage error: missing --name/);
  });

  it("list: a table, '-' for what is not given; none: says so", async () => {
    assert.equal((await tigw(gw.url, "mandant", "list", "RZK-0001")).out, "ID  NAME         BSNR  SMC-B ICCSN\nm1  Praxis Eins  -     80276883110000000001");
    assert.equal((await tigw(gw.url, "mandant", "list", "RZK-0002")).out, "no Mandanten on this unit");
  });
});
