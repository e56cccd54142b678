import assert from "node:assert/strict";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type FakeGateway, fakeGateway, loggedIn, tigw } from "./support.js";
import { tempDir } from "@tigw/platform/testing";

const ROOT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";

describe("tigw unit soap, unit client-auth, client-system credentials and pki roots", () => {
  let gw: FakeGateway;
  let dir = "";
  before(async () => {
    dir = tempDir("tigw-pki-");
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
      "POST /api/v1/units/RZK-0001/client-auth": (r) => ({ unitId: "u-1", mandanten: [], workplaces: [], clientAuth: (r.body as { mode: string }).mode }),
      "POST /api/v1/units/RZK-0001/infomodell": () => ({ unitId: "u-1", mandanten: [], workplaces: [], clientAuth: "basic" }),
      "PUT /api/v1/units/RZK-0001/infomodell/client-systems/PVS1/credential": () => ({
        unitId: "u-1",
        mandanten: [],
        workplaces: [],
        clientAuth: "basic",
        clientSystemCredentials: [{ clientSystemId: "PVS1", hasPassword: true }],
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

  it("unit client-auth sends the mode; infomodell client-system with --password also stores the credential", async () => {
    const r = await tigw(gw.url, "unit", "client-auth", "RZK-0001", "--mode", "basic");
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(gw.last.body, { mode: "basic" });
    assert.match(r.out, /authenticate at the SOAP interface with: basic/);
    assert.equal((await tigw(gw.url, "unit", "client-auth", "RZK-0001")).code, 2, "--mode is required");
    const c = await tigw(gw.url, "infomodell", "RZK-0001", "client-system", "--mandant", "M1", "--client-system", "PVS1", "--password", "praxis-software-1");
    assert.equal(c.code, 0, c.err);
    assert.deepEqual(
      [gw.last.method, gw.last.path, gw.last.body],
      ["PUT", "/api/v1/units/RZK-0001/infomodell/client-systems/PVS1/credential", { password: "praxis-software-1" }],
    );
  });
});
