import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Envelope } from "@tigw/contracts/events/v1/envelope";
import { toBusMessage, topicOf, type BusMessage, type EventBus, type Sql } from "@tigw/platform";
import { eventually, serviceSetups } from "@tigw/platform/testing";
import { ClockControl, startHsm, type RunningHsm } from "@tigw/hsm";
import { startGateway, type RunningGateway } from "@tigw/gateway";
import { tigw } from "./support.js";

/**
 * Defect 6 end to end: a tenancy event hsm cannot handle no longer stalls hsm's consumer. It is
 * dead-lettered after its attempts, the next event of the same unit is handled, and an admin sees
 * and replays it over REST (GET /api/v1/events/dead-letters) and with `tigw events`.
 */
const ADMIN_PW = "dead-letter-admin-password";

/** A tenancy event as the relay would publish it; `payload` overrides its JSON (to break it). */
function tenancyEvent(type: string, unitId: string, data: unknown, version: number, payload?: Buffer): BusMessage {
  const m = toBusMessage({ eventId: randomUUID(), context: "tenancy", streamId: `unit-${unitId}`, streamVersion: version, globalPosition: version, transactionId: "", type, schemaVersion: 1, data, unitId, mandantId: "", occurredAt: new Date().toISOString(), correlationId: "", causationId: "" });
  if (!payload) return m;
  return { ...m, value: Buffer.from(Envelope.encode({ ...Envelope.decode(m.value), payload }).finish()) };
}

for (const setup of serviceSetups()) {
  describe(`dead letters of hsm's tenancy consumer, over REST and tigw (${setup.bus.name} bus)`, () => {
    let bus: EventBus;
    let hsm: RunningHsm;
    let gw: RunningGateway;
    let sql: Sql;
    const topic = topicOf(`tenancy_dl_${randomBytes(4).toString("hex")}`);
    const unitId = randomUUID();
    let env: Record<string, string>;
    let token = "";
    const get = async (path: string) => {
      const res = await fetch(`${gw.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };

    before(async () => {
      bus = await setup.bus.bus();
      const hsmSql = await setup.store.sql();
      const clock = await ClockControl.simulated(hsmSql, "hsm_clock", new Date("2026-03-01T00:00:00Z"));
      hsm = await startHsm({ sql: hsmSql, bus, clock, masterKey: randomBytes(32), tenancyTopic: topic, context: `hsm_dl_${randomBytes(4).toString("hex")}` });
      sql = await setup.store.sql();
      const nowhere = "127.0.0.1:1";
      gw = await startGateway({ sql, tenancyAddress: nowhere, hsmAddress: hsm.address, cardTerminalAddress: nowhere, vsdmAddress: nowhere, port: 0, adminPassword: ADMIN_PW, tokenSecret: "dead-letter-test-secret-long-enough" });
      const login = await fetch(`${gw.url}/api/v1/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "admin", password: ADMIN_PW }) });
      token = String(((await login.json()) as { token: string }).token);
      env = { TIGW_URL: gw.url, TIGW_CONFIG_DIR: mkdtempSync(join(tmpdir(), "tigw-cfg-")) };
    });
    after(async () => {
      await gw.close();
      await hsm.stop();
      await bus.close();
    });

    it("a broken UnitCreated is dead-lettered, the unit's next event still handled; listed and replayed over REST and tigw", async () => {
      // The first event's payload is not JSON; the second one, for the same unit, is fine.
      await bus.publish(topic, [
        tenancyEvent("UnitCreated", unitId, {}, 1, Buffer.from("{broken")),
        tenancyEvent("UnitCreated", unitId, { unitId, serial: "RZK-DL-1", profile: "rz", producedOn: "2026-01-15" }, 2),
      ]);
      await eventually(async () => (await hsm.hsm.module(unitId).then((m) => m.exists, () => false)), 120_000, "hsm provisioned the unit behind the broken event");

      let letters: { id: string; groupId: string; eventType: string; error: string; attempts: number; topic: string; replayedAt: string }[] = [];
      await eventually(async () => {
        letters = (await get("/api/v1/events/dead-letters")).body["deadLetters"] as typeof letters;
        return letters.length === 1;
      }, 120_000, "the dead letter over REST");
      const dl = letters[0]!;
      assert.deepEqual([dl.eventType, dl.topic, dl.attempts, dl.replayedAt], ["UnitCreated", topic, 5, ""]);
      assert.match(dl.groupId, /-tenancy-events$/);
      assert.match(dl.error, /JSON/);

      assert.equal((await tigw(env, "login", "--user", "admin", "--password", ADMIN_PW)).code, 0);
      const listed = await tigw(env, "events", "dead-letters");
      assert.equal(listed.code, 0, listed.stderr);
      assert.match(listed.stdout, /^ID\s+GROUP\s+EVENT/);
      assert.ok(listed.stdout.includes(dl.id) && listed.stdout.includes("UnitCreated"), listed.stdout);

      const replayed = await tigw(env, "events", "replay", dl.id, "-o", "json");
      assert.equal(replayed.code, 0, replayed.stderr);
      assert.notEqual((JSON.parse(replayed.stdout) as { replayedAt: string }).replayedAt, "");
      // Still broken: the replay fails its attempts again and comes back as a new dead letter.
      await eventually(async () => ((await get("/api/v1/events/dead-letters")).body["deadLetters"] as unknown[]).length === 2, 120_000, "the replay dead-lettered again");
      const after = (await get("/api/v1/events/dead-letters")).body["deadLetters"] as typeof letters;
      assert.notEqual(after.find((d) => d.id === dl.id)!.replayedAt, "");

      const unknown = await tigw(env, "events", "replay", randomUUID());
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /DEAD_LETTER_NOT_FOUND/);
      assert.equal((await tigw(env, "events", "replay")).code, 2, "a missing ID is a usage error");
    });
  });
}
