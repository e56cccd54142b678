import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type FakeGateway, fakeGateway, loggedIn, tigw } from "./support.js";

const model = {
  unitId: "u-1",
  mandanten: [{ mandantId: "m1", clientSystems: ["cs1"], workplaces: ["wp1", "wp2"], terminals: [], smbs: [] }],
  workplaces: [{ workplaceId: "wp1", clientSystems: ["cs1"], localTerminals: ["KT-1"], remoteTerminals: [] }],
};
const text = [
  "MANDANT  CLIENT SYSTEMS  WORKPLACES  TERMINALS  SM-B",
  "m1       cs1             wp1, wp2    -          -",
  "",
  "WORKPLACE  CLIENT SYSTEMS  LOCAL TERMINALS  REMOTE TERMINALS",
  "wp1        cs1             KT-1             -",
].join("\n");

describe("tigw infomodell", () => {
  let gw: FakeGateway;
  before(async () => {
    gw = await fakeGateway({ "GET /api/v1/units/RZK-0001/infomodell": () => model, "POST /api/v1/units/RZK-0001/infomodell": () => model });
    loggedIn(gw.url);
  });
  after(() => gw.close());

  it("show UNIT: Mandanten and workplaces as tables", async () => {
    assert.equal((await tigw(gw.url, "infomodell", "show", "RZK-0001")).out, text);
  });
  it("UNIT ACTION: the action and its options go to the unit", async () => {
    const r = await tigw(gw.url, "infomodell", "RZK-0001", "workplace-terminal", "--workplace", "wp1", "--ct-id", "KT-1", "--kind", "local");
    assert.deepEqual(gw.last.body, { action: "workplace-terminal", workplaceId: "wp1", ctId: "KT-1", kind: "local" });
    assert.equal(r.out, text);
  });
  it("UNIT without ACTION: usage error", async () => {
    const r = await tigw(gw.url, "infomodell", "RZK-0001");
    assert.equal(r.code, 2);
    assert.match(r.err, /missing ACTION/);
  });
});
