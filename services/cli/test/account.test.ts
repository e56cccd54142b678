import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Credentials } from "../src/credentials.js";
import { answer, type FakeGateway, fakeGateway, loggedIn, tigw } from "./support.js";

describe("tigw login, logout, whoami, passwd, totp", () => {
  let gw: FakeGateway;
  before(async () => {
    gw = await fakeGateway({
      "POST /api/v1/auth/login": (r) => {
        const b = r.body as { username: string; password: string; totp?: string };
        return b.password === "right"
          ? { token: `token-of-${b.username}`, expiresAt: "2030-01-01T00:00:00.000Z", role: "operator" }
          : answer(401, { code: "UNAUTHENTICATED", detail: "wrong user or password" });
      },
      "POST /api/v1/auth/logout": () => ({}),
      "GET /api/v1/auth/me": (r) => ({
        username: r.authorization === "Bearer token-of-anna" ? "anna" : "?",
        role: "operator",
        expiresAt: "2030-01-01T00:00:00.000Z",
      }),
      "POST /api/v1/auth/password": () => ({ token: "token-after-passwd", expiresAt: "2031-01-01T00:00:00.000Z", role: "operator" }),
      "POST /api/v1/auth/totp": () => ({ secret: "JBSWY3DP", otpauthUri: "otpauth://totp/tigw:anna?secret=JBSWY3DP" }),
      "POST /api/v1/auth/totp/confirm": () => ({ totpEnabled: true }),
      "POST /api/v1/auth/totp/disable": () => ({ totpEnabled: false }),
    });
  });
  after(() => gw.close());

  it("login stores the token per user; whoami uses it", async () => {
    const r = await tigw(gw.url, "login", "--user", "anna", "--password", "right", "--totp", "123456");
    assert.equal(r.code, 0);
    assert.deepEqual(gw.last.body, { username: "anna", password: "right", totp: "123456" });
    assert.equal(r.out, `logged in to ${gw.url} as anna (operator); token valid until 2030-01-01T00:00:00.000Z`);
    assert.equal(new Credentials().get(gw.url, "anna")?.token, "token-of-anna");
    const me = await tigw(gw.url, "whoami", "--as", "anna");
    assert.equal(me.out, `anna (operator) at ${gw.url}; token valid until 2030-01-01T00:00:00.000Z`);
  });

  it("login: the password from TIGW_PASSWORD; none at all is a usage error; a wrong one is refused (exit 1)", async () => {
    process.env["TIGW_PASSWORD"] = "right";
    try {
      assert.equal((await tigw(gw.url, "login", "--user", "bert")).code, 0);
    } finally {
      delete process.env["TIGW_PASSWORD"];
    }
    const none = await tigw(gw.url, "login", "--user", "bert");
    assert.equal(none.code, 2);
    assert.match(none.err, /missing --password \(or TIGW_PASSWORD\)/);
    const wrong = await tigw(gw.url, "login", "--user", "bert", "--password", "wrong");
    assert.deepEqual([wrong.code, wrong.err.split("\n")[0]], [1, "error UNAUTHENTICATED: wrong user or password"]);
  });

  it("logout ends the token at the gateway and forgets it here", async () => {
    loggedIn(gw.url, "carl", "token-of-carl");
    const r = await tigw(gw.url, "logout", "--as", "carl");
    assert.equal(r.out, "logged out carl");
    assert.deepEqual([gw.last.path, gw.last.authorization], ["/api/v1/auth/logout", "Bearer token-of-carl"]);
    assert.equal(new Credentials().get(gw.url, "carl"), undefined);
    assert.equal((await tigw(gw.url, "logout", "--as", "carl")).out, "not logged in");
  });

  it("passwd stores the new token; totp enroll, confirm, disable", async () => {
    loggedIn(gw.url, "dora", "token-of-dora");
    const p = await tigw(gw.url, "passwd", "--as", "dora", "--password", "old", "--new-password", "new");
    assert.deepEqual(gw.last.body, { currentPassword: "old", newPassword: "new" });
    assert.equal(p.out, "password of dora changed; other sessions have ended");
    assert.equal(new Credentials().get(gw.url, "dora")?.token, "token-after-passwd");
    const enroll = await tigw(gw.url, "totp", "enroll", "--as", "dora");
    assert.equal(
      enroll.out,
      "add this to an authenticator app, then run tigw totp confirm CODE:\n  secret JBSWY3DP\n  otpauth://totp/tigw:anna?secret=JBSWY3DP",
    );
    assert.equal((await tigw(gw.url, "totp", "confirm", "123456", "--as", "dora")).out, "TOTP on: tigw login now needs --totp CODE");
    assert.deepEqual(gw.last.body, { code: "123456" });
    assert.equal((await tigw(gw.url, "totp", "disable", "654321", "--as", "dora")).out, "TOTP off");
    const bad = await tigw(gw.url, "totp", "reset", "--as", "dora");
    assert.equal(bad.code, 2);
    assert.match(bad.err, /tigw totp enroll \| confirm CODE \| disable CODE/);
  });
});
