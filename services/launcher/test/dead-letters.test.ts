import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { EmbeddedBus, embeddedSql, toBusMessage, topicOf } from "@tigw/platform";
import { startGateway, type RunningGateway } from "@tigw/gateway";
import { ClockControl, startHsm, type RunningHsm } from "@tigw/hsm";
import { loadProfiles, startTenancy, type RunningTenancy } from "@tigw/tenancy";
import { ok, tigw } from "./support.js";
import { tempDir } from "@tigw/platform/testing";

/**
 * Dead letters as an operator meets them: tenancy publishes an event hsm cannot handle (here a
 * UnitCreated of a newer schema version than hsm knows), hsm gives up after its attempts, and the
 * operator lists it (`tigw events dead-letters`, REST) and replays it once hsm can handle it.
 */
describe("dead letters through the REST API and tigw events", () => {
  let bus: EmbeddedBus;
  let tenancy: RunningTenancy;
  let hsm: RunningHsm;
  let gw: RunningGateway;
  let env: Record<string, string>;
  const ADMIN_PW = "dead-letter-admin-pw";

  before(async () => {
    bus = await EmbeddedBus.open(await embeddedSql());
    const hsmSql = await embeddedSql();
    const clock = await ClockControl.simulated(hsmSql, "hsm_clock", new Date());
    tenancy = await startTenancy({ sql: await embeddedSql(), bus, clock, profiles: loadProfiles(), vendorKeys: [] });
    hsm = await startHsm({ sql: hsmSql, bus, clock, masterKey: randomBytes(32) });
    gw = await startGateway({
      sql: await embeddedSql(),
      tenancyAddress: tenancy.address,
      hsmAddress: hsm.address,
      cardTerminalAddress: "127.0.0.1:1",
      vsdmAddress: "127.0.0.1:1",
      vpnAddress: "127.0.0.1:1",
      port: 0,
      adminPassword: ADMIN_PW,
    });
    env = { TIGW_URL: gw.url, TIGW_CONFIG_DIR: tempDir("tigw-dl-") };
    ok(await tigw(env, "login", "--user", "admin", "--password", ADMIN_PW), "login");
  });
  after(async () => {
    await gw?.close();
    await hsm?.stop();
    await tenancy?.stop();
    await bus?.close();
  });

  it("an event hsm cannot handle is listed with its error and place, and a replay delivers it again", async () => {
    assert.equal(ok(await tigw(env, "events", "dead-letters"), "empty listing").trim(), "no dead letters");
    const eventId = randomUUID();
    await bus.publish(topicOf("tenancy"), [
      toBusMessage({
        eventId,
        context: "tenancy",
        streamId: "unit-dl",
        streamVersion: 1,
        globalPosition: 1,
        transactionId: "1",
        type: "UnitCreated",
        schemaVersion: 99,
        data: { unitId: "unit-dl", serial: "RZK-DL-0001", profile: "rz" },
        unitId: "unit-dl",
        mandantId: "",
        occurredAt: new Date().toISOString(),
        correlationId: "",
        causationId: "",
      }),
    ]);

    type Letter = { id: string; groupId: string; eventType: string; eventId: string; topic: string; attempts: number; error: string; replayedAt: string };
    let letters: Letter[] = [];
    for (let i = 0; i < 300 && letters.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 200));
      letters = (JSON.parse(ok(await tigw(env, "events", "dead-letters", "-o", "json"), "listing")) as { deadLetters: Letter[] }).deadLetters;
    }
    assert.equal(letters.length, 1, "hsm gave the event up");
    const dl = letters[0]!;
    assert.deepEqual(
      [dl.groupId, dl.eventType, dl.eventId, dl.topic, dl.attempts, dl.replayedAt],
      ["hsm-tenancy-events", "UnitCreated", eventId, "tigw.tenancy.events.v1", 5, ""],
    );
    assert.match(dl.error, /schema version 99/);
    const table = ok(await tigw(env, "events", "dead-letters"), "table");
    assert.match(table, new RegExp(`${dl.id}\\s+hsm-tenancy-events\\s+UnitCreated\\s+tigw\\.tenancy\\.events\\.v1/\\d+@\\d+\\s+5`));

    const replayed = ok(await tigw(env, "events", "replay", dl.id), "replay");
    assert.match(replayed, new RegExp(`replayed ${dl.id} to hsm-tenancy-events`));
    // hsm still cannot handle it: after its attempts the replayed delivery is a dead letter again, and the first shows the replay.
    for (let i = 0; i < 300 && letters.length < 2; i++) {
      await new Promise((r) => setTimeout(r, 200));
      letters = (JSON.parse(ok(await tigw(env, "events", "dead-letters", "-o", "json"), "listing")) as { deadLetters: Letter[] }).deadLetters;
    }
    assert.equal(letters.length, 2, "the replay reached hsm, which gave it up again");
    assert.notEqual(letters.find((l) => l.id === dl.id)!.replayedAt, "");
    assert.equal(letters.find((l) => l.id !== dl.id)!.eventId, eventId);

    const unknown = await tigw(env, "events", "replay", "00000000-0000-0000-0000-000000000000");
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /DEAD_LETTER_NOT_FOUND|no dead letter/);
    const r = await fetch(`${gw.url}/api/v1/events/dead-letters`);
    assert.equal(r.status, 401, "the listing needs a login");
  });
});
