import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type FakeGateway, fakeGateway, loggedIn, tigw } from "./support.js";

const ROOT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";

describe("tigw unit soap and tigw pki roots", () => {
  let gw: FakeGateway;
  let dir = "";
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "tigw-pki-"));
    gw = await fakeGateway({
      "GET /api/v1/units/RZK-0001/soap": () => ({
        unitId: "u-1",
        serial: "RZK-0001",
        baseUrl: "https://127.0.0.1:18443",
        connectorSds: "https://127.0.0.1:18443/connector.sds",
        clientAuth: "none",
        tlsMandatory: true,
        certificatePem: ROOT,
      }),
      "GET /api/v1/pki/trust-anchors": () => ({ rootPems: [ROOT, ROOT.replace("MIIB", "MIIC")], subCaPems: [], ocspUrl: "" }),
    });
    loggedIn(gw.url);
  });
  after(async () => {
    await gw.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("unit soap prints the address, connector.sds, the auth mode and where the trust anchor comes from", async () => {
    const r = await tigw(gw.url, "unit", "soap", "RZK-0001");
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /Address: +https:\/\/127\.0\.0\.1:18443\n/);
    assert.match(r.out, /connector\.sds: +https:\/\/127\.0\.0\.1:18443\/connector\.sds/);
    assert.match(r.out, /Client auth: +none/);
    assert.match(r.out, /tigw pki roots --out roots\.pem/);
  });

  it("pki roots --out writes the roots as one PEM file; without --out it is a usage error", async () => {
    const file = join(dir, "roots.pem");
    const r = await tigw(gw.url, "pki", "roots", "--out", file);
    assert.equal(r.code, 0, r.err);
    assert.equal(readFileSync(file, "utf8"), `${ROOT}\n${ROOT.replace("MIIB", "MIIC")}\n`);
    assert.match(r.out, /wrote 2 root certificates/);
    assert.equal((await tigw(gw.url, "pki", "roots")).code, 2);
  });
});
