import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  busProjectionHandler,
  consume,
  DomainError,
  fromBusMessage,
  on,
  HEADER,
  OutboxRelay,
  StoreProjectionRunner,
  topicOf,
  toBusMessage,
  type DeliveredMessage,
  type EventBus,
  type SqlEventStore,
} from "../src/index.js";
import { busAdapters, eventually, freshContext, openStore, storeAdapters } from "./support/adapters.js";
import { readTally, tallyProjection } from "./support/tally.js";

// The bus runs with the store it is deployed with: embedded with embedded, Kafka with PostgreSQL.
const stores = storeAdapters();
for (const busAdapter of busAdapters()) {
  const storeAdapter = stores.find((s) => s.name === (busAdapter.name === "kafka" ? "postgres" : "embedded")) ?? stores[0]!;

  describe(`EventBus contract [${busAdapter.name} bus, ${storeAdapter.name} store]`, () => {
    let bus: EventBus;
    const opened: SqlEventStore[] = [];
    const fresh = async () => {
      const s = await openStore(storeAdapter, freshContext("bus"));
      opened.push(s);
      return s;
    };
    before(async () => {
      bus = await busAdapter.bus();
    });
    after(async () => {
      await bus.close();
      for (const s of opened) await s.sql.close();
    });

    /** Collects what a subscription receives. */
    async function collect(topic: string, groupId: string, onMessage?: (m: DeliveredMessage) => Promise<void>, maxAttempts = 3) {
      const got: DeliveredMessage[] = [];
      const sub = await bus.subscribe({
        groupId,
        topics: [topic],
        maxAttempts,
        retryBackoffMs: 10,
        handler: async (m) => {
          await onMessage?.(m);
          got.push(m);
        },
      });
      return { got, sub };
    }

    it("the outbox relay delivers every appended event, keyed by unit, with type and id headers, in stream order", async () => {
      const store = await fresh();
      const relay = new OutboxRelay(store, bus);
      const appended: string[] = [];
      for (let u = 0; u < 3; u++) {
        let v = 0;
        for (let i = 0; i < 5; i++) {
          const r = await store.append(`unit-${u}`, v, [{ type: "Tick", data: { i }, unitId: `unit-${u}` }]);
          v = r.nextExpectedVersion;
          appended.push(...r.events.map((e) => e.eventId));
        }
      }
      relay.start();
      const { got, sub } = await collect(topicOf(store.context), freshContext("g"));
      await eventually(() => got.length >= appended.length, 30_000, "all events on the bus");
      await relay.stop();
      await sub.stop();
      assert.deepEqual(new Set(got.map((m) => m.headers[HEADER.eventId])), new Set(appended));
      for (const m of got) {
        const e = fromBusMessage(m);
        assert.equal(m.key, e.unitId);
        assert.equal(m.headers[HEADER.eventType], "Tick");
        assert.equal(e.context, store.context);
      }
      for (let u = 0; u < 3; u++) {
        const versions = got.filter((m) => m.key === `unit-${u}`).map((m) => fromBusMessage(m).streamVersion);
        assert.deepEqual(versions, [1, 2, 3, 4, 5], `unit-${u} in order`);
      }
      const [left] = await store.sql.query<{ n: string }>(`SELECT count(*) AS n FROM ${store.schema}.outbox`);
      assert.equal(Number(left!.n), 0, "the outbox is empty once published");
    });

    it("a consumer that dies before committing gets the event again; committed ones are not redelivered", async () => {
      const store = await fresh();
      const topic = topicOf(store.context);
      const r = await store.append(
        "s",
        0,
        [1, 2, 3, 4].map((i) => ({ type: "Tick", data: { i }, unitId: "u" })),
      );
      await bus.publish(
        topic,
        r.events.map((e) => toBusMessage(e)),
      );
      const group = freshContext("g");
      // The first consumer handles #1 and #2, then "crashes" while handling #3 (it keeps
      // failing until it stops, so it never gives the message up and never commits it).
      const first = await collect(
        topic,
        group,
        async (m) => {
          if (fromBusMessage(m).streamVersion === 3) throw new Error("crash before commit");
        },
        Number.MAX_SAFE_INTEGER,
      );
      await eventually(() => first.got.length >= 2, 30_000, "first two handled");
      await first.sub.stop();
      const second = await collect(topic, group);
      await eventually(() => second.got.length >= 2, 30_000, "redelivery");
      await second.sub.stop();
      assert.deepEqual(
        first.got.map((m) => fromBusMessage(m).streamVersion),
        [1, 2],
      );
      assert.deepEqual(
        second.got.map((m) => fromBusMessage(m).streamVersion),
        [3, 4],
      );
    });

    it("a group that starts behind a long backlog of one key gets every message once, in order", async () => {
      // 450 messages in one partition: offsets of one, two and three digits, more than one poll's batch.
      const store = await fresh();
      const topic = topicOf(store.context);
      const r = await store.append(
        "s",
        0,
        Array.from({ length: 450 }, (_, i) => ({ type: "Tick", data: { i }, unitId: "u" })),
      );
      await bus.publish(
        topic,
        r.events.map((e) => toBusMessage(e)),
      );
      const { got, sub } = await collect(topic, freshContext("g"));
      await eventually(() => got.length >= 450, 60_000, "the backlog consumed");
      await new Promise((res) => setTimeout(res, 500)); // a duplicate would arrive meanwhile
      await sub.stop();
      assert.deepEqual(
        got.map((m) => fromBusMessage(m).streamVersion),
        Array.from({ length: 450 }, (_, i) => i + 1),
      );
    });

    it("deduplication by event id makes a redelivered event's effect happen once", async () => {
      const store = await fresh();
      const topic = topicOf(store.context);
      const projection = tallyProjection(`${store.schema}.tally_bus`);
      await projection.setup(store.sql);
      const r = await store.append(
        "acct",
        0,
        [5, 7, 11].map((amount) => ({ type: "Incremented", data: { amount }, unitId: "u" })),
      );
      const messages = r.events.map((e) => toBusMessage(e));
      // The same events twice, as a relay that crashed after publishing but before deleting
      // its outbox rows would send them.
      await bus.publish(topic, messages);
      await bus.publish(topic, messages);
      let seen = 0;
      const handle = busProjectionHandler(store.sql, store.schema, projection);
      const sub = await bus.subscribe({ groupId: freshContext("g"), topics: [topic], handler: async (m) => (await handle(m), void seen++) });
      await eventually(() => seen >= 6, 30_000, "six deliveries");
      await sub.stop();
      assert.deepEqual(await readTally(store.sql, `${store.schema}.tally_bus`), [{ stream_id: "acct", events: 3, total: 23 }]);
    });

    it("a projection rebuilt from the store equals the live one fed by the bus", async () => {
      const store = await fresh();
      const relay = new OutboxRelay(store, bus);
      const live = tallyProjection(`${store.schema}.tally_live`);
      await live.setup(store.sql);
      let handled = 0;
      const handle = busProjectionHandler(store.sql, store.schema, live);
      const sub = await bus.subscribe({
        groupId: freshContext("g"),
        topics: [topicOf(store.context)],
        handler: async (m) => (await handle(m), void handled++),
      });
      relay.start();
      const versions = new Map<string, number>();
      for (let i = 0; i < 30; i++) {
        const stream = `acct-${i % 5}`;
        const r = await store.append(stream, versions.get(stream) ?? 0, [{ type: "Incremented", data: { amount: i }, unitId: `u${i % 3}` }]);
        versions.set(stream, r.nextExpectedVersion);
      }
      await eventually(() => handled >= 30, 30_000, "live projection caught up");
      await relay.stop();
      await sub.stop();
      const rebuilt = new StoreProjectionRunner(store, tallyProjection(`${store.schema}.tally_rebuilt`));
      await rebuilt.setup();
      await rebuilt.rebuild();
      const a = await readTally(store.sql, `${store.schema}.tally_live`);
      assert.equal(a.length, 5);
      assert.deepEqual(await readTally(store.sql, `${store.schema}.tally_rebuilt`), a);
    });
    it("a message whose handler keeps failing is dead-lettered after its attempts; the partition moves on; a replay reaches only the group that gave it up", async () => {
      const store = await fresh();
      const topic = topicOf(store.context);
      // Three events of one unit: one partition, in order; the second one is poison.
      const r = await store.append(
        "u",
        0,
        [1, 2, 3].map((i) => ({ type: "Tick", data: { i }, unitId: "u" })),
      );
      await bus.publish(
        topic,
        r.events.map((e) => toBusMessage(e)),
      );
      let poisonAttempts = 0;
      let healed = false;
      const failing = freshContext("g");
      const got = await collect(topic, failing, async (m) => {
        if (fromBusMessage(m).streamVersion === 2 && !healed) {
          poisonAttempts++;
          throw new Error("poison: cannot handle Tick 2");
        }
      });
      await eventually(() => got.got.length >= 2, 60_000, "the events after the poison one");
      assert.deepEqual(
        got.got.map((m) => fromBusMessage(m).streamVersion),
        [1, 3],
      );
      assert.equal(poisonAttempts, 3, "maxAttempts attempts, then given up");
      const other = await collect(topic, freshContext("g"));
      await eventually(() => other.got.length >= 3, 60_000, "another group gets all three");

      const letters = await bus.listDeadLetters([topic]);
      assert.equal(letters.length, 1);
      const dl = letters[0]!;
      const poison = other.got.find((m) => fromBusMessage(m).streamVersion === 2)!;
      assert.deepEqual(
        [dl.groupId, dl.topic, dl.partition, dl.offset, dl.attempts, dl.replayedAt, dl.headers[HEADER.eventId]],
        [failing, topic, poison.partition, poison.offset, 3, "", r.events[1]!.eventId],
      );
      assert.match(dl.error, /poison: cannot handle Tick 2/);
      assert.equal(fromBusMessage({ ...poison, value: dl.value }).streamVersion, 2, "the original message is kept");

      healed = true;
      const replayed = await bus.replayDeadLetter([topic], dl.id);
      assert.notEqual(replayed.replayedAt, "");
      await eventually(() => got.got.length >= 3, 60_000, "the replayed message at the failing group");
      assert.deepEqual(
        got.got.map((m) => fromBusMessage(m).streamVersion),
        [1, 3, 2],
      );
      // A later message of the same unit (same partition) reaches the other group; the replay
      // before it did not.
      const next = await store.append("u", 3, [{ type: "Tick", data: { i: 4 }, unitId: "u" }]);
      await bus.publish(
        topic,
        next.events.map((e) => toBusMessage(e)),
      );
      await eventually(() => other.got.length >= 4, 60_000, "the next message at the other group");
      assert.deepEqual(
        other.got.map((m) => fromBusMessage(m).streamVersion),
        [1, 2, 3, 4],
      );
      await got.sub.stop();
      await other.sub.stop();
      assert.notEqual((await bus.listDeadLetters([topic]))[0]!.replayedAt, "", "the listing shows the replay");
      await assert.rejects(
        bus.replayDeadLetter([topic], "00000000-0000-0000-0000-000000000000"),
        (e: unknown) => e instanceof DomainError && e.code === "DEAD_LETTER_NOT_FOUND",
      );
    });

    it("the consumer helper decodes typed, upcasts older schema versions, and has each event's effect once", async () => {
      const store = await fresh();
      const inbox = await fresh();
      const topic = topicOf(store.context);
      // Version 1 called the field "amt"; version 2 calls it "amount".
      const v1 = await store.append("acct", 0, [{ type: "Incremented", data: { amt: 5 }, unitId: "u" }]);
      const v2 = await store.append("acct", 1, [{ type: "Incremented", schemaVersion: 2, data: { amount: 7 }, unitId: "u" }]);
      const messages = [...v1.events, ...v2.events].map((e) => toBusMessage(e));
      assert.deepEqual(
        [...v1.events, ...v2.events].map((e) => e.schemaVersion),
        [1, 2],
        "the store keeps the schema version",
      );
      await bus.publish(topic, messages);
      await bus.publish(topic, messages); // redelivered, as after a relay crash
      const Incremented = { fromJSON: (j: unknown) => ({ amount: Number((j as { amount?: unknown }).amount) }) };
      const applied: number[] = [];
      const sub = await consume({
        bus,
        groupId: freshContext("g"),
        topics: [topic],
        inbox: { sql: inbox.sql, schema: inbox.schema },
        handlers: {
          Incremented: on({
            message: Incremented,
            version: 2,
            upcast: (data, from) => (from === 1 ? { amount: (data as { amt: number }).amt } : data),
            handle: async (e) => void applied.push(e.amount),
          }),
        },
      });
      const seen = await collect(topic, freshContext("g"));
      await eventually(() => seen.got.length >= 4, 60_000, "all four deliveries");
      await eventually(() => applied.length >= 2, 60_000, "both events applied");
      await seen.sub.stop();
      await sub.stop();
      assert.deepEqual(applied, [5, 7]);
    });
  });
}
