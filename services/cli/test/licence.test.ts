import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type FakeGateway, fakeGateway, loggedIn, tigw, unitFixture } from "./support.js";
import { tempDir } from "@tigw/platform/testing";

describe("tigw licence", () => {
  const dir = tempDir("tigw-licence-");
  let gw: FakeGateway;
  before(async () => {
    gw = await fakeGateway({
      "POST /api/v1/units/RZK-0001/licence": () =>
        unitFixture({ licence: { licenceId: "l1", ktPerComputeUnit: 80, features: ["LZV"], issuedAt: "", source: "file", keyId: "k" } }),
    });
    loggedIn(gw.url);
  });
  after(() => gw.close());

  it("issue: signs a licence file offline with the vendor key; import sends it as it is", async () => {
    const key = join(dir, "vendor.pem");
    writeFileSync(key, generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }));
    const file = join(dir, "licence.json");
    const issued = await tigw(
      undefined,
      "licence",
      "issue",
      "--serial",
      "RZK-0001",
      "--kt-per-compute-unit",
      "80",
      "--feature",
      "PTV5",
      "--feature",
      "LZV",
      "--key",
      key,
      "--out",
      file,
    );
    assert.equal(issued.code, 0, issued.err);
    const written = JSON.parse(readFileSync(file, "utf8")) as {
      licence: { licenceId: string; serial: string; ktPerComputeUnit: number; features: string[] };
      signature: { keyId: string };
    };
    assert.deepEqual(
      [written.licence.serial, written.licence.ktPerComputeUnit, written.licence.features],
      ["RZK-0001", 80, ["LZV", "PTV5"]],
      "features sorted",
    );
    assert.equal(
      issued.out,
      `licence ${written.licence.licenceId} for RZK-0001: 80 KTs per compute unit, LZV, PTV5; signed with key ${written.signature.keyId}; written to ${file}`,
    );

    const imported = await tigw(gw.url, "licence", "import", "RZK-0001", file);
    assert.deepEqual(gw.last.body, written);
    assert.equal(imported.out, "licence imported: RZK-0001 now has 80 KTs per compute unit (160 in total), features LZV");
  });

  it("import of a file that is not JSON: LICENCE_INVALID, nothing sent", async () => {
    const file = join(dir, "not-json.txt");
    writeFileSync(file, "hello");
    const sent = gw.requests.length;
    const r = await tigw(gw.url, "licence", "import", "RZK-0001", file);
    assert.deepEqual([r.code, r.err], [1, `error LICENCE_INVALID: ${file} is not a licence file (not JSON)`]);
    assert.equal(gw.requests.length, sent);
  });

  it("issue without --key: usage error", async () => {
    const r = await tigw(undefined, "licence", "issue", "--serial", "S", "--kt-per-compute-unit", "5");
    assert.equal(r.code, 2);
    assert.match(r.err, /missing --key/);
  });
});
