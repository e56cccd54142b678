import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import {
  address,
  ConfigError,
  ConfigErrors,
  date,
  directory,
  FollowedClock,
  host,
  hostPorts,
  int,
  loadConfig,
  oneOf,
  parseDuration,
  parsed,
  secretKey,
  SimulatedClock,
  str,
  SystemClock,
  url,
} from "../src/index.js";

describe("config from environment variables", () => {
  it("reads a 32-byte master key as hex or base64 and refuses another length, naming the variable", () => {
    const key = Buffer.alloc(32, 7);
    assert.ok(loadConfig({ K: secretKey() }, { K: key.toString("hex") }).K.equals(key));
    assert.ok(loadConfig({ K: secretKey() }, { K: key.toString("base64") }).K.equals(key));
    assert.throws(
      () => loadConfig({ K: secretKey() }, { K: Buffer.alloc(16).toString("base64") }),
      (e: unknown) => e instanceof ConfigError && e.variable === "K" && /32 bytes/.test(e.message),
    );
  });

  const spec = {
    TIGW_MODE: oneOf(["embedded", "cluster"] as const, { default: "embedded" }),
    TIGW_GRPC_PORT: int({ default: 50051, min: 0, max: 65535 }),
    DATABASE_URL: url(["postgres", "postgresql"], { optional: true }),
    KAFKA_BROKERS: hostPorts({ optional: true }),
    TIGW_NAME: str(),
  };

  it("applies defaults and parses values", () => {
    const c = loadConfig(spec, { TIGW_NAME: "x", KAFKA_BROKERS: "127.0.0.1:9092, localhost:9093" });
    assert.deepEqual(c, {
      TIGW_MODE: "embedded",
      TIGW_GRPC_PORT: 50051,
      DATABASE_URL: undefined,
      KAFKA_BROKERS: ["127.0.0.1:9092", "localhost:9093"],
      TIGW_NAME: "x",
    });
  });

  for (const [env, variable, words] of [
    [{ TIGW_NAME: "x", TIGW_GRPC_PORT: "80a" }, "TIGW_GRPC_PORT", "integer"],
    [{ TIGW_NAME: "x", TIGW_GRPC_PORT: "70000" }, "TIGW_GRPC_PORT", "at most 65535"],
    [{ TIGW_NAME: "x", TIGW_MODE: "cloud" }, "TIGW_MODE", "one of embedded, cluster"],
    [{ TIGW_NAME: "x", DATABASE_URL: "mysql://h/db" }, "DATABASE_URL", "scheme"],
    [{ TIGW_NAME: "x", KAFKA_BROKERS: "127.0.0.1" }, "KAFKA_BROKERS", "host:port"],
    [{}, "TIGW_NAME", "required"],
  ] as const) {
    it(`refuses a bad ${variable} with a message naming it`, () => {
      assert.throws(
        () => loadConfig(spec, env),
        (e: unknown) => e instanceof ConfigError && e.variable === variable && e.message.startsWith(variable) && e.message.includes(words),
      );
    });
  }

  it("reports every bad variable at once, each by name", () => {
    assert.throws(
      () => loadConfig(spec, { TIGW_GRPC_PORT: "x", TIGW_MODE: "cloud" }),
      (e: unknown) => e instanceof ConfigErrors && e.errors.map((x) => x.variable).join() === "TIGW_MODE,TIGW_GRPC_PORT,TIGW_NAME",
    );
  });

  it("checks dates, hosts, addresses, directories and parsed values", () => {
    const s = {
      D: date({ optional: true }),
      H: host({ default: "127.0.0.1" }),
      A: address({ default: "127.0.0.1:1" }),
      DIR: directory({ default: "." }),
      P: parsed((raw) => JSON.parse(raw) as unknown, { optional: true }),
    };
    assert.deepEqual(loadConfig(s, { D: "2025-03-01", H: "tigw-hsm.svc", A: "[::1]:50051", DIR: "/tmp/tigw-new/sub", P: "[1]" }), {
      D: new Date("2025-03-01T00:00:00Z"),
      H: "tigw-hsm.svc",
      A: "[::1]:50051",
      DIR: "/tmp/tigw-new/sub",
      P: [1],
    });
    for (const [variable, value] of [
      ["D", "2025-02-30x"],
      ["D", "tomorrow"],
      ["H", "a b"],
      ["A", "host"],
      ["A", "host:99999"],
      ["DIR", "/dev/null/x"],
      ["P", "{"],
    ]) {
      assert.throws(
        () => loadConfig(s, { [variable!]: value }),
        (e: unknown) => e instanceof ConfigError && e.variable === variable,
        `${variable}=${value}`,
      );
    }
  });

  it("stops a process at start with exit code 2 and the variable's name", () => {
    const r = spawnSync(process.execPath, [`${__dirname}/../src/telemetry/register.js`], {
      env: { ...process.env, TIGW_METRICS_PORT: "nine" },
      encoding: "utf8",
    });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /configuration error: TIGW_METRICS_PORT: expected an integer/);
  });
});

describe("clocks", () => {
  it("a simulated clock moves only when advanced, never backwards", () => {
    const c = new SimulatedClock(new Date("2025-01-01T00:00:00Z"));
    assert.equal(c.now().toISOString(), "2025-01-01T00:00:00.000Z");
    c.advance(parseDuration("30d"));
    assert.equal(c.now().toISOString(), "2025-01-31T00:00:00.000Z");
    assert.throws(() => c.set(new Date("2024-12-31T00:00:00Z")), /does not go backwards/);
    assert.throws(() => c.advance(-1), RangeError);
  });
  it("the system clock follows real time", () => {
    const d = new SystemClock().now().getTime() - Date.now();
    assert.ok(Math.abs(d) < 1000);
  });
  it("parses durations and refuses nonsense", () => {
    assert.equal(parseDuration("12h"), 43_200_000);
    assert.equal(parseDuration("250ms"), 250);
    assert.throws(() => parseDuration("3 weeks"), /not a duration/);
  });

  it("a followed clock: the system's while the other is, the other's simulated time while it is; never back; waits for a first answer", async () => {
    const sim = new SimulatedClock(new Date("2025-03-01T00:00:00Z"));
    let mode: "down" | "system" | "simulated" | "stale" = "down";
    const ask = async () => {
      if (mode === "down") throw new Error("hsm is starting");
      if (mode === "system") return { now: new Date().toISOString(), simulated: false };
      if (mode === "stale") return { now: "2025-01-01T00:00:00.000Z", simulated: true };
      return { now: sim.now().toISOString(), simulated: true };
    };
    setTimeout(() => (mode = "system"), 1500);
    const t0 = Date.now();
    const c = await FollowedClock.start(ask, { everyMs: 3_600_000, waitMs: 10_000 });
    try {
      assert.ok(Date.now() - t0 >= 1000, "it waited for the first answer");
      assert.equal(c.simulated, false);
      assert.ok(Math.abs(c.now().getTime() - Date.now()) < 1000);
      mode = "simulated";
      await c.refresh();
      assert.equal(c.simulated, true);
      assert.equal(c.now().toISOString(), "2025-03-01T00:00:00.000Z");
      sim.advance(30 * 86_400_000);
      assert.equal(c.now().toISOString(), "2025-03-01T00:00:00.000Z", "not before it asks again");
      await c.refresh();
      assert.equal(c.now().toISOString(), "2025-03-31T00:00:00.000Z");
      mode = "stale";
      await c.refresh();
      assert.equal(c.now().toISOString(), "2025-03-31T00:00:00.000Z", "an older simulated answer does not turn it back");
      mode = "down";
      await assert.rejects(c.refresh());
      assert.equal(c.now().toISOString(), "2025-03-31T00:00:00.000Z", "a failed ask keeps the last answer");
    } finally {
      c.stop();
    }
    await assert.rejects(FollowedClock.start(ask, { waitMs: 1_500 }), /did not answer within 1.5 s: hsm is starting/);
  });
});
