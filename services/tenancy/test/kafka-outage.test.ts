import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { createServer, connect, type Server, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { createLogger, embeddedSql, KafkaBus, postgresSql, SystemClock, topicOf, type EventBus } from "@tigw/platform";
import { eventually, freshContext } from "@tigw/platform/testing";
import { loadProfiles, startTenancy, type RunningTenancy } from "../src/index.js";

/**
 * A TCP proxy to the broker that the test switches on and off: "down" accepts and drops every
 * connection, as a broker that is not there yet. (The shared broker itself is never stopped.)
 * It only gates the first contact: the broker then advertises its own address.
 */
async function brokerProxy(target: { host: string; port: number }): Promise<{ port: number; up: boolean; refused: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const state = { port: 0, up: false, refused: 0, close: async () => undefined as void };
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    if (!state.up) {
      state.refused++;
      client.destroy();
      return;
    }
    const upstream = connect(target.port, target.host);
    sockets.add(upstream);
    upstream.on("close", () => sockets.delete(upstream));
    client.pipe(upstream).pipe(client);
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  state.port = (server.address() as { port: number }).port;
  state.close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  };
  return state;
}

const brokers = process.env["KAFKA_BROKERS"];

describe("defect 3: a service whose first Kafka contact failed publishes once the broker is there", { skip: !brokers && "needs KAFKA_BROKERS" }, () => {
  const context = freshContext("tenancy");
  const lines: { level: string; msg: string }[] = [];
  let proxy: Awaited<ReturnType<typeof brokerProxy>>;
  let bus: EventBus;
  let probeBus: EventBus;
  let svc: RunningTenancy;

  before(async () => {
    const [host, port] = brokers!.split(",")[0]!.split(":");
    proxy = await brokerProxy({ host: host!, port: Number(port) });
    bus = new KafkaBus({ brokers: [`127.0.0.1:${proxy.port}`], clientId: "tigw-outage-test" });
    probeBus = new KafkaBus({ brokers: brokers!.split(","), clientId: "tigw-outage-probe" });
    const logger = createLogger("tenancy", { destination: { write: (s: string) => void lines.push(JSON.parse(s) as { level: string; msg: string }) } });
    const url = process.env["DATABASE_URL"];
    const sql = url ? await postgresSql(url) : await embeddedSql();
    svc = await startTenancy({
      sql,
      bus,
      clock: new SystemClock(),
      profiles: loadProfiles(),
      vendorKeys: [generateKeyPairSync("ed25519").publicKey],
      context,
      logger,
    });
  });
  after(async () => {
    await svc.stop();
    await bus.close();
    await probeBus.close();
    await proxy.close();
  });

  it("creates a unit while the broker is unreachable; the UnitCreated event reaches its consumer after it comes up; one warning, one recovery line", async () => {
    const unit = await svc.tenancy.createUnit({ serial: "RZK-3000", profile: "rz" });
    await eventually(() => lines.some((l) => l.msg.includes("publish failed")), 120_000, "the relay's first failure");
    // Stay down a while longer: the relay keeps failing (and must not log every attempt).
    const firstFailures = proxy.refused;
    await eventually(() => proxy.refused > firstFailures, 120_000, "another attempt while down");
    proxy.up = true;
    const seen: string[] = [];
    const sub = await probeBus.subscribe({
      groupId: `${context}-probe`,
      topics: [topicOf(context)],
      handler: async (m) => void (m.key === unit.unitId && seen.push(m.headers["event-type"] ?? "")),
    });
    try {
      await eventually(() => seen.includes("UnitCreated"), 120_000, "UnitCreated at the consumer");
    } finally {
      await sub.stop();
    }
    await eventually(() => lines.some((l) => l.msg.includes("publishing again")), 10_000, "the recovery line");
    const warnings = lines.filter((l) => l.msg.includes("publish failed"));
    assert.equal(warnings.length, 1, `one warning per failure streak, got ${warnings.length}`);
    assert.ok(!JSON.stringify(warnings[0]).includes("    at "), "no stack trace");
    // Tenancy started although its consumer (of ksr's events) could not subscribe yet: it says so once.
    assert.ok(lines.filter((l) => l.msg.includes("the bus cannot be reached")).length <= 1, "one consumer warning per outage");
  });
});
