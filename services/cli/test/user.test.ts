import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type FakeGateway, fakeGateway, loggedIn, tigw } from "./support.js";

describe("tigw user", () => {
  let gw: FakeGateway;
  before(async () => {
    gw = await fakeGateway({
      "GET /api/v1/users": () => ({
        users: [
          { username: "admin", role: "admin", createdAt: "2025-01-01T00:00:00.000Z", totpEnabled: true },
          { username: "eva", role: "viewer", createdAt: "2025-02-01T00:00:00.000Z", totpEnabled: false },
        ],
      }),
      "POST /api/v1/users": (r) => r.body,
      "DELETE /api/v1/users/eva%2Fx": () => ({ username: "eva/x" }),
      "POST /api/v1/users/eva/role": (r) => ({ username: "eva", ...(r.body as object) }),
      "POST /api/v1/users/eva/password": () => ({ username: "eva" }),
      "POST /api/v1/users/eva/totp/reset": () => ({ username: "eva" }),
    });
    loggedIn(gw.url);
  });
  after(() => gw.close());

  it("list: a table", async () => {
    assert.equal(
      (await tigw(gw.url, "user", "list")).out,
      ["USER   ROLE    TOTP  CREATED", "admin  admin   yes   2025-01-01T00:00:00.000Z", "eva    viewer  no    2025-02-01T00:00:00.000Z"].join("\n"),
    );
  });
  it("add: user, role and password; each is required", async () => {
    const r = await tigw(gw.url, "user", "add", "--user", "eva", "--role", "viewer", "--password", "s3cret-s3cret");
    assert.deepEqual(gw.last.body, { username: "eva", role: "viewer", password: "s3cret-s3cret" });
    assert.equal(r.out, "created user eva (viewer)");
    const missing = await tigw(gw.url, "user", "add", "--user", "eva", "--role", "viewer");
    assert.equal(missing.code, 2);
    assert.match(missing.err, /missing --password/);
  });
  it("remove (DELETE, the name URL-encoded), role, reset-password, reset-totp", async () => {
    assert.equal((await tigw(gw.url, "user", "remove", "eva/x")).out, "removed user eva/x; its tokens no longer work");
    assert.deepEqual([gw.last.method, gw.last.path], ["DELETE", "/api/v1/users/eva%2Fx"]);
    assert.equal((await tigw(gw.url, "user", "role", "eva", "--role", "operator")).out, "eva is now operator; it logs in again");
    assert.equal((await tigw(gw.url, "user", "reset-password", "eva", "--password", "n3w-passw0rd")).out, "password of eva reset; its tokens no longer work");
    assert.deepEqual(gw.last.body, { password: "n3w-passw0rd" });
    assert.equal((await tigw(gw.url, "user", "reset-totp", "eva")).out, "TOTP of eva turned off; it may enrol again");
    const noName = await tigw(gw.url, "user", "role", "--role", "admin");
    assert.equal(noName.code, 2);
    assert.match(noName.err, /missing USER/);
  });
});
