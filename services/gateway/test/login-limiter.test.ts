import assert from "node:assert/strict";
import { request } from "node:http";
import { after, before, describe, it } from "node:test";
import { DomainError, embeddedSql } from "@tigw/platform";
import { DEFAULT_LOGIN_LIMITS, LoginLimiter } from "../src/auth/login-limiter.js";
import { OperatorStore } from "../src/auth/operators.js";
import { base32Decode, totpAt } from "../src/auth/totp.js";
import { startGateway, type RunningGateway } from "../src/index.js";

/**
 * A limiter on a clock the test moves. tryFail and tryPass make a whole attempt (failed or
 * succeeded) and return 0, or return the seconds the refusal names (a refusal changes nothing).
 */
function limiter() {
  let now = Date.parse("2026-11-30T02:00:00Z");
  const l = new LoginLimiter({}, () => now);
  const attempt = (account: string, address: string, ok: boolean): number => {
    let a;
    try {
      a = l.begin(account, address);
    } catch (e) {
      assert.ok(e instanceof DomainError && e.code === "LOGIN_RATE_LIMITED", String(e));
      assert.match(e.message, new RegExp(`try again in ${e.details["retryAfter"]} s`));
      return Number(e.details["retryAfter"]);
    }
    if (ok) a.succeeded();
    a.end();
    return 0;
  };
  return {
    l,
    tryFail: (account: string, address: string) => attempt(account, address, false),
    tryPass: (account: string, address: string) => attempt(account, address, true),
    advance: (ms: number) => void (now += ms),
  };
}

describe("login limiter", () => {
  it("reserves each attempt before its password is evaluated: with five in flight the sixth is refused", () => {
    const { l } = limiter();
    const inFlight = Array.from({ length: 5 }, () => l.begin("admin", "10.0.0.1"));
    assert.throws(() => l.begin("admin", "10.0.0.1"), { code: "LOGIN_RATE_LIMITED" });
    for (const a of inFlight) a.end();
    assert.throws(() => l.begin("admin", "10.0.0.1"), { code: "LOGIN_RATE_LIMITED" }, "ended without success they count as failures");
  });

  it("after five failures of an account from one address the waits double from 2 s up to 15 minutes", () => {
    const t = limiter();
    for (let i = 0; i < 5; i++) assert.equal(t.tryFail("admin", "10.0.0.1"), 0);
    const waits: number[] = [];
    for (let i = 0; i < 12; i++) {
      const wait = t.tryFail("admin", "10.0.0.1");
      waits.push(wait);
      t.advance(wait * 1000 - 1);
      assert.ok(t.tryFail("admin", "10.0.0.1") > 0, "not a millisecond early");
      t.advance(1);
      assert.equal(t.tryFail("admin", "10.0.0.1"), 0);
    }
    assert.deepEqual(waits, [2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900]);
  });

  it("a lockout from one address does not hold the account back from another; a success clears only its own address", () => {
    const t = limiter();
    for (let i = 0; i < 5; i++) t.tryFail("admin", "10.0.0.1");
    assert.ok(t.tryPass("admin", "10.0.0.1") > 0);
    assert.equal(t.tryPass("admin", "192.0.2.8"), 0, "the operator logs in from elsewhere");
    assert.ok(t.tryPass("admin", "10.0.0.1") > 0, "the success elsewhere does not free the guessing address");
    for (let i = 0; i < 4; i++) assert.equal(t.tryFail("admin", "192.0.2.7"), 0);
    assert.equal(t.tryPass("admin", "192.0.2.7"), 0);
    for (let i = 0; i < 5; i++) assert.equal(t.tryFail("admin", "192.0.2.7"), 0, "the success cleared this address's failures");
    assert.equal(t.tryFail("admin", "192.0.2.7"), 2);
  });

  it("many addresses guessing one account slow every address that failed on it, never one that did not", () => {
    const t = limiter();
    for (let i = 1; i <= 25; i++) t.tryFail("admin", `198.51.100.${i}`);
    assert.equal(t.tryPass("admin", "198.51.100.1"), 64, "25 failures, 5 over the account's 20: 2 s doubled five times");
    assert.equal(t.tryPass("admin", "203.0.113.9"), 0, "an address without failures logs in at once");
    t.advance(64_000);
    assert.equal(t.tryPass("admin", "198.51.100.1"), 0, "slowed, never locked: after the wait the address may try again");
  });

  it("one address trying many accounts (spraying) waits after 20 failures, other addresses do not", () => {
    const t = limiter();
    for (let i = 0; i < 20; i++) t.tryFail(`user${i}`, "10.0.0.66");
    assert.equal(t.tryPass("admin", "10.0.0.66"), 2);
    assert.equal(t.tryPass("admin", "10.0.0.67"), 0);
  });

  it("a missing second factor is neither a success nor a failure", () => {
    const t = limiter();
    for (let i = 0; i < 10; i++) {
      const a = t.l.begin("carol", "10.0.0.1");
      a.secondFactorMissing();
      a.end();
    }
    assert.equal(t.tryFail("carol", "10.0.0.1"), 0);
  });

  it("forgets failures an hour after the last attempt", () => {
    const t = limiter();
    for (let i = 0; i < 5; i++) t.tryFail("admin", "10.0.0.1");
    assert.ok(t.tryPass("admin", "10.0.0.1") > 0);
    t.advance(DEFAULT_LOGIN_LIMITS.forgetAfterMs + 1);
    for (let i = 0; i < 5; i++) assert.equal(t.tryFail("admin", "10.0.0.1"), 0);
    assert.equal(t.tryFail("admin", "10.0.0.1"), 2, "five fresh failures: the first wait again");
  });
});

const ADMIN_PW = "correct horse battery";

describe("login throttling over HTTP (clients from different loopback addresses)", () => {
  let gw3: RunningGateway;
  let store: OperatorStore;
  const api = async (method: string, path: string, token: string, body?: unknown) => {
    const res = await fetch(`${gw3.url}${path}`, {
      method: method.toUpperCase(),
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  type Answer = { status: number; retryAfter: string | undefined; body: Record<string, unknown> };
  /** A login from one address of 127.0.0.0/8 (all of it is loopback on Linux): the gateway sees that client address. */
  const loginFrom = (address: string, body: Record<string, string>) =>
    new Promise<Answer>((resolve, reject) => {
      const url = new URL("/api/v1/auth/login", gw3.url);
      const data = JSON.stringify(body);
      const r = request(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: "POST",
          localAddress: address,
          agent: false,
          headers: { "content-type": "application/json", "content-length": Buffer.byteLength(data) },
        },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (c: string) => (text += c));
          res.on("end", () =>
            resolve({ status: res.statusCode ?? 0, retryAfter: res.headers["retry-after"], body: JSON.parse(text) as Record<string, unknown> }),
          );
        },
      );
      r.on("error", reject);
      r.end(data);
    });
  const burst = (address: string, username: string) =>
    Promise.all(Array.from({ length: 100 }, () => loginFrom(address, { username, password: "wrong-password-guess" })));
  const tally = (answers: Answer[]) =>
    answers.reduce<Record<string, number>>(
      (n, a) => ({ ...n, [`${a.status} ${String(a.body["code"])}`]: (n[`${a.status} ${String(a.body["code"])}`] ?? 0) + 1 }),
      {},
    );

  before(async () => {
    // Login needs no backend service: the gateway alone. A first wait of a minute: a burst that
    // takes long to arrive on a busy machine still falls within it.
    const nowhere = "127.0.0.1:9";
    gw3 = await startGateway({
      sql: await embeddedSql(),
      tenancyAddress: nowhere,
      hsmAddress: nowhere,
      cardTerminalAddress: nowhere,
      vsdmAddress: nowhere,
      port: 0,
      adminPassword: ADMIN_PW,
      loginLimit: { baseDelayMs: 60_000 },
    });
    store = gw3.app.get(OperatorStore);
  });
  after(async () => gw3.close());

  it("100 parallel wrong guesses evaluate at most 5 passwords; the rest get 429 with Retry-After, and admin still logs in from another address", async () => {
    const evaluatedBefore = store.passwordsEvaluated;
    const answers = await burst("127.0.0.2", "admin");
    const evaluated = store.passwordsEvaluated - evaluatedBefore;
    assert.ok(evaluated <= 5, `${evaluated} passwords evaluated`);
    assert.deepEqual(tally(answers), { "401 INVALID_CREDENTIALS": evaluated, "429 LOGIN_RATE_LIMITED": 100 - evaluated });
    for (const a of answers.filter((x) => x.status === 429)) {
      assert.ok(Number(a.retryAfter) > 0 && Number(a.retryAfter) <= 60, `Retry-After ${a.retryAfter}`);
      assert.equal(a.body["detail"], `too many failed logins; try again in ${a.retryAfter} s`);
    }
    const sameAddress = await loginFrom("127.0.0.2", { username: "admin", password: ADMIN_PW });
    assert.deepEqual([sameAddress.status, sameAddress.body["code"]], [429, "LOGIN_RATE_LIMITED"], "the guessing address waits, even with the right password");
    const elsewhere = await loginFrom("127.0.0.3", { username: "admin", password: ADMIN_PW });
    assert.equal(elsewhere.status, 200, "the operator is not locked out from another address");
  });

  it("answers a guess at an account that does not exist exactly like one at an existing account", async () => {
    const admin = await burst("127.0.0.4", "admin");
    const nobody = await burst("127.0.0.5", "nobody-here");
    assert.deepEqual(tally(nobody), tally(admin));
    // The same answers but for the seconds to wait, which depend on the moment.
    const shape = (answers: Answer[]) =>
      answers
        .map((a) =>
          JSON.stringify({
            ...a.body,
            detail: String(a.body["detail"]).replace(/\d+ s$/, "N s"),
            details: Object.keys((a.body["details"] as object | undefined) ?? {}),
          }),
        )
        .sort();
    assert.deepEqual(shape(nobody), shape(admin));
  });

  it("many addresses guessing one account slow those addresses down, never an operator at a clean address with password and TOTP", async () => {
    const admin = String((await loginFrom("127.0.0.3", { username: "admin", password: ADMIN_PW })).body["token"]);
    assert.equal((await api("post", "/api/v1/users", admin, { username: "dora", password: "dora-password-1", role: "operator" })).status, 201);
    const dora = String((await loginFrom("127.0.0.3", { username: "dora", password: "dora-password-1" })).body["token"]);
    const secret = base32Decode(String((await api("post", "/api/v1/auth/totp", dora)).body["secret"]));
    assert.equal((await api("post", "/api/v1/auth/totp/confirm", dora, { code: totpAt(secret, Date.now()) })).status, 200);
    // 30 addresses guess once each: more than the account's 20 free failures.
    const guesses = await Promise.all(
      Array.from({ length: 30 }, (_, i) => loginFrom(`127.0.1.${i + 1}`, { username: "dora", password: "wrong-password-guess", totp: "123456" })),
    );
    assert.deepEqual(tally(guesses), { "401 INVALID_CREDENTIALS": 30 });
    const again = await loginFrom("127.0.1.1", { username: "dora", password: "dora-password-1", totp: totpAt(secret, Date.now() + 30_000) });
    assert.deepEqual([again.status, again.body["code"]], [429, "LOGIN_RATE_LIMITED"], "an address that failed on the account waits");
    // The admin UI's way: the password first, then the code it asks for.
    const first = await loginFrom("127.0.0.9", { username: "dora", password: "dora-password-1" });
    assert.deepEqual([first.status, first.body["code"]], [401, "TOTP_REQUIRED"]);
    const withCode = await loginFrom("127.0.0.9", { username: "dora", password: "dora-password-1", totp: totpAt(secret, Date.now() + 30_000) });
    assert.equal(withCode.status, 200, "a clean address logs in with password and code");
  });
});
