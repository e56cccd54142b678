import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { randomBytes } from "node:crypto";
import { EmbeddedBus, embeddedSql, type Sql } from "@tigw/platform";
import { ClockControl, startHsm, type RunningHsm } from "@tigw/hsm";
import { startCardTerminal, type RunningCardTerminal } from "@tigw/card-terminal";
import { startVsdm, type RunningVsdm } from "@tigw/vsdm";
import { loadProfiles, startTenancy, type RunningTenancy } from "@tigw/tenancy";
import { startGateway, TokenIssuer, type RunningGateway } from "../src/index.js";
import { base32Decode, hotp, totpAt } from "../src/auth/totp.js";

const SECRET = "test-secret-of-at-least-some-length";
const ADMIN_PW = "correct horse battery";

interface Route {
  method: string;
  path: string;
  role: string;
}

describe("gateway authentication and authorisation (every route of the OpenAPI document)", () => {
  let tenancy: RunningTenancy;
  let hsm: RunningHsm;
  let kt: RunningCardTerminal;
  let vsdm: RunningVsdm;
  let gw: RunningGateway;
  let gatewaySql: Sql;
  const tokens: Record<string, string> = {};
  let routes: Route[] = [];

  const reqAt = async (base: string, method: string, path: string, token?: string, body?: unknown) => {
    const res = await fetch(`${base}${path}`, {
      method: method.toUpperCase(),
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { "content-type": "application/json" } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return {
      status: res.status,
      type: res.headers.get("content-type") ?? "",
      headers: res.headers,
      body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
    };
  };
  const req = (method: string, path: string, token?: string, body?: unknown) => reqAt(gw.url, method, path, token, body);
  const login = async (username: string, password: string) => req("post", "/api/v1/auth/login", undefined, { username, password });
  // Concrete paths for the templates; bodies that pass validation where a role may call the route.
  const concrete = (p: string) =>
    p
      .replace("{unit}", "AUTH-0001")
      .replace("{ctId}", "KT-AUTH")
      .replace("{slot}", "1")
      .replace("{serial}", "00")
      .replace("{handle}", "no-such-handle")
      .replace("{username}", "nobody")
      .replace("{account}", "nobody")
      .replace("{grantId}", "dvo-none");
  const passwords: Record<string, string> = { admin: ADMIN_PW, viewer: "viewer-password-123", operator: "operator-password-123" };
  /** The role's token; a fresh one for logout, which ends the token it is called with. */
  const tokenFor = async (role: string, path: string) =>
    path.endsWith("/auth/logout") ? String((await login(role, passwords[role]!)).body["token"]) : tokens[role];

  before(async () => {
    const bus = await EmbeddedBus.open(await embeddedSql());
    const hsmSql = await embeddedSql();
    const clock = await ClockControl.simulated(hsmSql, "hsm_clock", new Date("2025-03-01T00:00:00Z"));
    tenancy = await startTenancy({ sql: await embeddedSql(), bus, clock, profiles: loadProfiles(), vendorKeys: [] });
    hsm = await startHsm({ sql: hsmSql, bus, clock, masterKey: randomBytes(32) });
    kt = await startCardTerminal({
      sql: await embeddedSql(),
      bus,
      clock,
      masterKey: randomBytes(32),
      tenancyAddress: tenancy.address,
      hsmAddress: hsm.address,
    });
    vsdm = await startVsdm({
      sql: await embeddedSql(),
      bus,
      clock,
      tenancyAddress: tenancy.address,
      hsmAddress: hsm.address,
      cardTerminalAddress: kt.address,
      population: { size: 10, seed: 1 },
    });
    gatewaySql = await embeddedSql();
    gw = await startGateway({
      sql: gatewaySql,
      tenancyAddress: tenancy.address,
      hsmAddress: hsm.address,
      cardTerminalAddress: kt.address,
      vsdmAddress: vsdm.address,
      port: 0,
      adminPassword: ADMIN_PW,
      tokenSecret: SECRET,
      loginLimit: { freeFailures: 5 },
    });
    tokens["admin"] = String((await login("admin", ADMIN_PW)).body["token"]);
    for (const role of ["viewer", "operator"]) {
      const created = await req("post", "/api/v1/users", tokens["admin"], { username: role, password: `${role}-password-123`, role });
      assert.equal(created.status, 201);
      assert.equal(created.body["password"], undefined, "no password in the answer");
      tokens[role] = String((await login(role, `${role}-password-123`)).body["token"]);
    }
    await req("post", "/api/v1/units", tokens["operator"], { serial: "AUTH-0001", profile: "rz" });
    const doc = await req("get", "/api/docs", tokens["viewer"]);
    assert.equal(doc.status, 200);
    const paths = doc.body["paths"] as Record<string, Record<string, { "x-tigw-role": string }>>;
    routes = Object.entries(paths).flatMap(([path, ms]) => Object.entries(ms).map(([method, op]) => ({ method, path, role: op["x-tigw-role"] })));
  });
  after(async () => {
    await gw.close();
    await vsdm.stop();
    await kt.stop();
    await hsm.stop();
    await tenancy.stop();
  });

  it("the document lists the admin API: health and login public, every other route protected", () => {
    const publicRoutes = routes.filter((r) => r.role === "public").map((r) => `${r.method} ${r.path}`);
    // The Zugangsmodul's address and trust anchor: what a VPN box needs before anyone logs in.
    assert.deepEqual(publicRoutes.sort(), [
      "get /api/v1/health",
      "get /api/v1/portal/boxes/zugangsmodul",
      "post /api/v1/auth/login",
      "post /api/v1/portal/login",
      "post /api/v1/portal/register",
    ]);
    assert.ok(routes.length >= 14, `only ${routes.length} routes`);
    for (const must of [
      "post /api/v1/units",
      "get /api/v1/fleet",
      "post /api/v1/units/{unit}/mandanten",
      "post /api/v1/units/{unit}/licence",
      "get /api/docs",
    ]) {
      assert.ok(
        routes.some((r) => `${r.method} ${r.path}` === must),
        `missing ${must}`,
      );
    }
  });

  it("refuses every protected route without a token, with a forged token and with an expired token (401 problem+json)", async () => {
    const forged = new TokenIssuer(Buffer.from("another secret"), 900).issue("admin", "admin").token;
    const expired = new TokenIssuer(Buffer.from(SECRET), 60, () => Date.now() - 3_600_000).issue("admin", "admin").token;
    for (const r of routes.filter((x) => x.role !== "public")) {
      for (const [what, token] of [
        ["no token", undefined],
        ["forged", forged],
        ["expired", expired],
      ] as const) {
        const res = await req(r.method, concrete(r.path), token, r.method === "post" ? {} : undefined);
        assert.equal(res.status, 401, `${r.method} ${r.path} with ${what}`);
        assert.match(res.type, /^application\/problem\+json/);
        assert.equal(res.body["code"], "UNAUTHENTICATED");
      }
    }
  });

  it("refuses every route to a role below the one it needs (403), and lets that role through", async () => {
    const below: Record<string, string[]> = { viewer: [], operator: ["viewer"], admin: ["viewer", "operator"] };
    for (const r of routes.filter((x) => x.role !== "public")) {
      if (r.role.startsWith("practice")) {
        // The portal's routes take a practice's session only (services/launcher/test/portal.test.ts logs practices in).
        for (const role of ["viewer", "operator", "admin"]) {
          const res = await req(r.method, concrete(r.path), tokens[role], r.method === "post" ? {} : undefined);
          assert.deepEqual([res.status, res.body["code"]], [401, "UNAUTHENTICATED"], `${role} on ${r.method} ${r.path}`);
        }
        continue;
      }
      for (const role of below[r.role]!) {
        const res = await req(r.method, concrete(r.path), await tokenFor(role, r.path), r.method === "post" ? {} : undefined);
        assert.equal(res.status, 403, `${role} on ${r.method} ${r.path}`);
        assert.equal(res.body["code"], "PERMISSION_DENIED");
      }
      const res = await req(r.method, concrete(r.path), await tokenFor(r.role, r.path), r.method === "post" ? {} : undefined);
      assert.ok(![401, 403].includes(res.status), `${r.role} on ${r.method} ${r.path} got ${res.status}`);
    }
  });

  it("answers public routes without a token", async () => {
    assert.equal((await req("get", "/api/v1/health")).status, 200);
  });

  it("bad input comes back as problem+json with the domain code naming the field", async () => {
    const res = await req("post", "/api/v1/units/AUTH-0001/mandanten", tokens["operator"], { mandantId: "p1", name: "Praxis", bsnr: "12ab" });
    assert.equal(res.status, 400);
    assert.equal(res.body["code"], "INVALID_BSNR");
    assert.equal((res.body["details"] as Record<string, string>)["field"], "bsnr");
    const missing = await req("post", "/api/v1/units", tokens["operator"], { profile: "rz" });
    assert.deepEqual([missing.status, missing.body["code"], (missing.body["details"] as Record<string, string>)["field"]], [400, "INVALID_REQUEST", "serial"]);
    const unknown = await req("get", "/api/v1/units/NOPE-0000", tokens["viewer"]);
    assert.deepEqual([unknown.status, unknown.body["code"]], [404, "UNIT_NOT_FOUND"]);
  });

  it("rate-limits failed logins: after 5 failures even the right password has to wait (429, Retry-After)", async () => {
    for (let i = 0; i < 5; i++) assert.equal((await login("operator", "wrong-password-x")).status, 401);
    const limited = await login("operator", "operator-password-123");
    assert.equal(limited.status, 429);
    assert.equal(limited.body["code"], "LOGIN_RATE_LIMITED");
    assert.ok(Number(limited.headers.get("retry-after")) > 0);
  });

  it("creates admin with a generated password on the first start only, and shows it once", async () => {
    const sql = await embeddedSql();
    const first = await startGateway({
      sql,
      tenancyAddress: tenancy.address,
      hsmAddress: hsm.address,
      cardTerminalAddress: kt.address,
      vsdmAddress: vsdm.address,
      port: 0,
    });
    try {
      assert.ok(first.generatedAdminPassword && first.generatedAdminPassword.length >= 20);
      const res = await fetch(`${first.url}/api/v1/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username: "admin", password: first.generatedAdminPassword }),
      });
      assert.equal(res.status, 200);
    } finally {
      await first.close();
    }
    const second = await startGateway({
      sql,
      tenancyAddress: tenancy.address,
      hsmAddress: hsm.address,
      cardTerminalAddress: kt.address,
      vsdmAddress: vsdm.address,
      port: 0,
    });
    assert.equal(second.generatedAdminPassword, undefined);
    await second.close();
    const [row] = await sql.query<{ password_hash: string }>("SELECT password_hash FROM gateway.operators WHERE username = 'admin'");
    assert.match(row!.password_hash, /^scrypt\$/);
    assert.ok(!row!.password_hash.includes(first.generatedAdminPassword!));
  });

  describe("account security (a gateway of its own: its tests log in wrongly on purpose)", () => {
    let gw2: RunningGateway;
    let sql2: Sql;
    const admin: Record<string, string> = {};
    const req = (method: string, path: string, token?: string, body?: unknown) => reqAt(gw2.url, method, path, token, body);
    const login = (username: string, password: string) => req("post", "/api/v1/auth/login", undefined, { username, password });
    const tokens = admin;
    before(async () => {
      sql2 = await embeddedSql();
      gw2 = await startGateway({
        sql: sql2,
        tenancyAddress: tenancy.address,
        hsmAddress: hsm.address,
        cardTerminalAddress: kt.address,
        vsdmAddress: vsdm.address,
        port: 0,
        adminPassword: ADMIN_PW,
        loginLimit: { freeFailures: 100 },
      });
      admin["admin"] = String((await login("admin", ADMIN_PW)).body["token"]);
    });
    after(async () => gw2.close());
    const make = async (username: string, role: string) => {
      assert.equal((await req("post", "/api/v1/users", tokens["admin"], { username, password: `${username}-password-1`, role })).status, 201);
      const r = await login(username, `${username}-password-1`);
      assert.equal(r.status, 200);
      return String(r.body["token"]);
    };
    const me = (token: string) => req("get", "/api/v1/auth/me", token);

    it("logout ends that token only; a password change ends every older token and hands out a new one", async () => {
      const first = await make("alice", "operator");
      const second = String((await login("alice", "alice-password-1")).body["token"]);
      assert.equal((await req("post", "/api/v1/auth/logout", first)).status, 200);
      assert.deepEqual([(await me(first)).status, (await me(first)).body["code"]], [401, "UNAUTHENTICATED"]);
      assert.equal((await me(second)).status, 200, "the other session stays");
      const wrong = await req("post", "/api/v1/auth/password", second, { currentPassword: "not-the-password", newPassword: "alice-new-password" });
      assert.deepEqual([wrong.status, wrong.body["code"]], [401, "INVALID_CREDENTIALS"]);
      const weak = await req("post", "/api/v1/auth/password", second, { currentPassword: "alice-password-1", newPassword: "short" });
      assert.deepEqual([weak.status, weak.body["code"]], [400, "WEAK_PASSWORD"]);
      const changed = await req("post", "/api/v1/auth/password", second, { currentPassword: "alice-password-1", newPassword: "alice-new-password" });
      assert.equal(changed.status, 200);
      assert.equal((await me(second)).status, 401, "older tokens end");
      assert.equal((await me(String(changed.body["token"]))).status, 200, "the answer's token works");
      assert.equal((await login("alice", "alice-password-1")).status, 401);
      assert.equal((await login("alice", "alice-new-password")).status, 200);
    });

    it("an admin changes roles and removes accounts (their tokens end at once), never the last admin", async () => {
      const bob = await make("bob", "operator");
      const demoted = await req("post", "/api/v1/users/bob/role", tokens["admin"], { role: "viewer" });
      assert.deepEqual([demoted.status, demoted.body["role"]], [200, "viewer"]);
      assert.equal((await me(bob)).status, 401, "the operator token ends with the role");
      const asViewer = String((await login("bob", "bob-password-1")).body["token"]);
      assert.equal((await req("post", "/api/v1/units", asViewer, { serial: "BOB-0001", profile: "rz" })).status, 403);
      assert.equal((await req("delete", "/api/v1/users/bob", tokens["admin"])).status, 200);
      assert.equal((await me(asViewer)).status, 401, "a removed account's tokens end");
      assert.equal((await login("bob", "bob-password-1")).status, 401);
      assert.deepEqual([(await req("delete", "/api/v1/users/bob", tokens["admin"])).body["code"]], ["USER_NOT_FOUND"]);
      const lastAdmin = await req("delete", "/api/v1/users/admin", tokens["admin"]);
      assert.deepEqual([lastAdmin.status, lastAdmin.body["code"]], [409, "LAST_ADMIN"]);
      assert.equal((await req("post", "/api/v1/users/admin/role", tokens["admin"], { role: "operator" })).body["code"], "LAST_ADMIN");
      assert.equal((await me(tokens["admin"]!)).status, 200, "a refused change ends no token");
    });

    it("TOTP (RFC 6238): enrol, confirm, login needs the current code once, admin reset for a lost phone", async () => {
      // RFC 6238 appendix B, SHA-1: T = 59 s gives 94287082 (8 digits).
      assert.equal(totpAt(Buffer.from("12345678901234567890"), 59_000, 8), "94287082");
      assert.equal(hotp(Buffer.from("12345678901234567890"), 0), "755224", "RFC 4226 appendix D");
      const carol = await make("carol", "viewer");
      const enrol = await req("post", "/api/v1/auth/totp", carol);
      assert.equal(enrol.status, 201);
      assert.match(String(enrol.body["otpauthUri"]), /^otpauth:\/\/totp\/ti-gateway%3Acarol\?secret=[A-Z2-7]+&issuer=ti-gateway/);
      const secret = base32Decode(String(enrol.body["secret"]));
      assert.equal(
        (await req("post", "/api/v1/auth/totp/confirm", carol, { code: "000000" === totpAt(secret, Date.now()) ? "111111" : "000000" })).body["code"],
        "INVALID_TOTP",
      );
      assert.equal((await login("carol", "carol-password-1")).status, 200, "not active before confirmation");
      assert.equal((await req("post", "/api/v1/auth/totp/confirm", carol, { code: totpAt(secret, Date.now()) })).status, 200);
      const without = await login("carol", "carol-password-1");
      assert.deepEqual([without.status, without.body["code"]], [401, "TOTP_REQUIRED"]);
      // The confirmation used this step's code: the next login takes the next step's (within the drift window).
      const code = totpAt(secret, Date.now() + 30_000);
      const withCode = await req("post", "/api/v1/auth/login", undefined, { username: "carol", password: "carol-password-1", totp: code });
      assert.equal(withCode.status, 200);
      const replay = await req("post", "/api/v1/auth/login", undefined, { username: "carol", password: "carol-password-1", totp: code });
      assert.deepEqual([replay.status, replay.body["code"]], [401, "INVALID_CREDENTIALS"], "a code works once");
      const listed = (await req("get", "/api/v1/users", tokens["admin"])).body["users"] as { username: string; totpEnabled: boolean }[];
      assert.equal(listed.find((u) => u.username === "carol")?.totpEnabled, true);
      assert.equal((await req("post", "/api/v1/users/carol/totp/reset", tokens["admin"])).status, 200);
      assert.equal((await login("carol", "carol-password-1")).status, 200, "after the reset the password alone logs in");
      const [row] = await sql2.query<{ totp_secret: string | null }>("SELECT totp_secret FROM gateway.operators WHERE username = 'carol'");
      assert.equal(row!.totp_secret, null);
    });
  });
});
