import assert from "node:assert/strict";
import { createPublicKey, randomBytes, verify } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { EmbeddedBus, embeddedSql, type EventBus } from "@tigw/platform";
import { ClockControl, ktConnectMessage, startHsm, type RunningHsm } from "@tigw/hsm";
import { loadProfiles, startTenancy, type RunningTenancy } from "@tigw/tenancy";
import { startGateway, type RunningGateway } from "../src/index.js";

/**
 * The simulator's card routes are no signing oracle (issue 12, defect 10): POST
 * /api/v1/sim/cards/{serial}/sign signs with practice cards (SMC-B, HBA, eGK) only; a gSMC-K or
 * gSMC-KT key gets 403 SIGNING_NOT_PERMITTED; a gSMC-KT proves a connect challenge and nothing else.
 */
describe("gateway simulator card routes: only practice cards sign on request", () => {
  const ADMIN_PW = "correct horse battery staple";
  let bus: EventBus;
  let tenancy: RunningTenancy;
  let hsm: RunningHsm;
  let gw: RunningGateway;
  let token = "";

  const req = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${gw.url}${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { "content-type": "application/json" } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, type: res.headers.get("content-type") ?? "", body: (await res.json()) as Record<string, unknown> };
  };
  const issue = async (cardType: string) => {
    const r = await req("POST", "/api/v1/sim/cards", { cardType, keyType: "ecc", holder: `Sim ${cardType}` });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body as { certSerial: string; pem: string };
  };
  const data = randomBytes(48);
  const sign = (serial: string) => req("POST", `/api/v1/sim/cards/${serial}/sign`, { data: data.toString("base64") });

  before(async () => {
    bus = await EmbeddedBus.open(await embeddedSql());
    const hsmSql = await embeddedSql();
    const clock = await ClockControl.simulated(hsmSql, "hsm_clock", new Date("2026-03-01T00:00:00Z"));
    tenancy = await startTenancy({ sql: await embeddedSql(), bus, clock, profiles: loadProfiles(), vendorKeys: [] });
    hsm = await startHsm({ sql: hsmSql, bus, clock, masterKey: randomBytes(32) });
    // card-terminal and vsdm are not called by these routes.
    gw = await startGateway({
      sql: await embeddedSql(),
      tenancyAddress: tenancy.address,
      hsmAddress: hsm.address,
      cardTerminalAddress: "127.0.0.1:9",
      vsdmAddress: "127.0.0.1:9",
      port: 0,
      adminPassword: ADMIN_PW,
      tokenSecret: "sim-cards-test-secret-long-enough",
    });
    token = String((await req("POST", "/api/v1/auth/login", { username: "admin", password: ADMIN_PW })).body["token"]);
  });
  after(async () => {
    await gw.close();
    await hsm.stop();
    await tenancy.stop();
    await bus.close();
  });

  it("an SMC-B, an HBA and an eGK sign; the signature verifies with the card's certificate", async () => {
    for (const cardType of ["SMCB", "HBA", "EGK"]) {
      const card = await issue(cardType);
      const r = await sign(card.certSerial);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.ok(verify("sha256", data, createPublicKey(card.pem), Buffer.from(String(r.body["signature"]), "base64")), `${cardType} signature verifies`);
    }
  });

  it("a gSMC-KT and every gSMC-K identity of a unit are refused with 403 SIGNING_NOT_PERMITTED", async () => {
    const gsmckt = await issue("GSMC_KT");
    const refused = await sign(gsmckt.certSerial);
    assert.deepEqual([refused.status, refused.type.startsWith("application/problem+json"), refused.body["code"]], [403, true, "SIGNING_NOT_PERMITTED"]);
    assert.match(String(refused.body["detail"]), /only SMC-B, HBA and eGK keys sign on request/);

    assert.equal((await req("POST", "/api/v1/units", { serial: "RZK-SIM-0001", profile: "rz" })).status, 201);
    let certs: { identities?: { name: string; certificate: { certSerial: string } }[] } = {};
    for (let i = 0; i < 600 && !certs.identities; i++) {
      const r = await req("GET", "/api/v1/units/RZK-SIM-0001/certs");
      if (r.status === 200) certs = r.body as typeof certs;
      else await new Promise((res) => setTimeout(res, 100));
    }
    assert.equal(certs.identities?.length, 3, "the unit's gSMC-K is provisioned");
    for (const id of certs.identities!) {
      const r = await sign(id.certificate.certSerial);
      assert.deepEqual([id.name, r.status, r.body["code"]], [id.name, 403, "SIGNING_NOT_PERMITTED"]);
    }
  });

  it("a gSMC-KT proves a connect challenge bound to its terminal; an SMC-B cannot", async () => {
    const gsmckt = await issue("GSMC_KT");
    const challenge = randomBytes(32);
    const r = await req("POST", `/api/v1/sim/cards/${gsmckt.certSerial}/connect-proof`, { ctId: "KT-SIM-1", challenge: challenge.toString("base64") });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const signature = Buffer.from(String(r.body["signature"]), "base64");
    assert.ok(verify("sha256", ktConnectMessage("KT-SIM-1", challenge), createPublicKey(gsmckt.pem), signature));
    assert.equal(verify("sha256", challenge, createPublicKey(gsmckt.pem), signature), false, "no signature over the bare challenge");
    const smcb = await issue("SMCB");
    const refused = await req("POST", `/api/v1/sim/cards/${smcb.certSerial}/connect-proof`, { ctId: "KT-SIM-1", challenge: challenge.toString("base64") });
    assert.deepEqual([refused.status, refused.body["code"]], [403, "SIGNING_NOT_PERMITTED"]);
  });
});
