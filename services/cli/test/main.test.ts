import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { GROUPS, USAGE } from "../src/main.js";
import { answer, fakeGateway, loggedIn, tigw } from "./support.js";

describe("tigw: the command table and what every command shares", () => {
  it("no arguments: the usage text, exit 2; --help: exit 0", async () => {
    const none = await tigw(undefined);
    assert.equal(none.code, 2);
    assert.equal(none.out, USAGE);
    const help = await tigw(undefined, "unit", "--help");
    assert.equal(help.code, 0);
    assert.match(help.out, /^tigw: operate a ti-gateway fleet/);
  });

  it("the usage text has every group's lines, and every group answers to its own words only", () => {
    for (const g of GROUPS) assert.ok(USAGE.includes(g.usage), `usage of ${g.names.join("/")}`);
    const words = GROUPS.flatMap((g) => g.names);
    assert.equal(new Set(words).size, words.length, "no word belongs to two groups");
    const today = [
      "login",
      "logout",
      "whoami",
      "passwd",
      "totp",
      "fleet",
      "unit",
      "mandant",
      "licence",
      "clock",
      "kt",
      "infomodell",
      "card",
      "sim",
      "vsd",
      "profile",
      "user",
    ];
    for (const word of today) assert.ok(words.includes(word), `tigw ${word} has its group`);
  });

  it("an unknown command or option is a usage error (exit 2) naming it", async () => {
    const word = await tigw(undefined, "units", "list");
    assert.equal(word.code, 2);
    assert.match(word.err, /^usage error: unknown command: tigw units list\n\ntigw: operate/);
    const verb = await tigw("http://127.0.0.1:9", "mandant", "remove", "U");
    assert.equal(verb.code, 2);
    assert.match(verb.err, /unknown command: tigw mandant remove U/);
    const option = await tigw(undefined, "unit", "list", "--colour");
    assert.equal(option.code, 2);
    assert.match(option.err, /usage error: Unknown option '--colour'/);
  });

  it("-o: table or json everywhere, xml only for vsd read", async () => {
    const r = await tigw(undefined, "unit", "list", "-o", "xml");
    assert.equal(r.code, 2);
    assert.match(r.err, /-o must be table or json \(xml for vsd read\), not xml/);
  });

  it("without a stored token: UNAUTHENTICATED with the login hint (exit 1), no request sent", async () => {
    const gw = await fakeGateway({});
    try {
      const r = await tigw(gw.url, "unit", "list");
      assert.equal(r.code, 1);
      assert.equal(r.err, `error UNAUTHENTICATED: not logged in to ${gw.url}: run tigw login --user U --password P\nhint: tigw login --user U --password P`);
      assert.equal(gw.requests.length, 0);
    } finally {
      await gw.close();
    }
  });

  it("a refusal prints the problem's code, text and details (exit 1); an unreachable gateway says so", async () => {
    const gw = await fakeGateway({
      "GET /api/v1/units/X": () => answer(404, { code: "UNIT_NOT_FOUND", detail: "no unit X", details: { unit: "X" } }, "application/problem+json"),
    });
    try {
      loggedIn(gw.url);
      const r = await tigw(gw.url, "unit", "show", "X");
      assert.equal(r.code, 1);
      assert.equal(r.err, "error UNIT_NOT_FOUND: no unit X (unit=X)");
      assert.equal(gw.last.authorization, "Bearer token-of-op");
    } finally {
      await gw.close();
    }
    loggedIn("http://127.0.0.1:9");
    const down = await tigw("http://127.0.0.1:9", "unit", "list");
    assert.equal(down.code, 1);
    assert.match(down.err, /^error UNREACHABLE: cannot reach http:\/\/127.0.0.1:9 .*is ti-gateway running\?/);
  });

  it("--url falls back to $TIGW_URL, trailing slashes dropped", async () => {
    const gw = await fakeGateway({ "GET /api/v1/clock": () => ({ now: "2025-03-01T00:00:00.000Z", simulated: true }) });
    try {
      loggedIn(gw.url);
      process.env["TIGW_URL"] = `${gw.url}//`;
      const r = await tigw(undefined, "clock", "show");
      assert.equal(r.out, "2025-03-01T00:00:00.000Z (simulated clock)");
    } finally {
      delete process.env["TIGW_URL"];
      await gw.close();
    }
  });
});
