import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type FakeGateway, fakeGateway, loggedIn, tigw } from "./support.js";

describe("tigw profile", () => {
  let gw: FakeGateway;
  before(async () => {
    gw = await fakeGateway({
      "GET /api/v1/profiles": () => ({
        profiles: [
          { name: "rz", description: "Rechenzentrumskonnektor", computeUnits: 2, ktPerComputeUnit: 50, recommendedKts: 80, maxMandanten: 200 },
          { name: "einbox", description: "Einboxkonnektor", computeUnits: 1, ktPerComputeUnit: 10, recommendedKts: 10, maxMandanten: 5 },
        ],
      }),
    });
    loggedIn(gw.url);
  });
  after(() => gw.close());

  it("list: the profiles as a table", async () => {
    const r = await tigw(gw.url, "profile", "list");
    assert.equal(
      r.out,
      [
        "NAME    COMPUTE UNITS  KTS PER CU  RECOMMENDED  MANDANTEN  DESCRIPTION",
        "rz      2              50          80           200        Rechenzentrumskonnektor",
        "einbox  1              10          10           5          Einboxkonnektor",
      ].join("\n"),
    );
  });
  it("another verb: usage error", async () => {
    assert.equal((await tigw(gw.url, "profile", "show")).code, 2);
  });
});
