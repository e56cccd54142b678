import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  busProjectionHandler,
  fromBusMessage,
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
    async function collect(topic: string, groupId: string, onMessage?: (m: DeliveredMessage) => Promise<void>) {
      const got: DeliveredMessage[] = [];
      const sub = await bus.subscribe({
        groupId,
        topics: [topic],
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
      const r = await store.append("s", 0, [1, 2, 3, 4].map((i) => ({ type: "Tick", data: { i }, unitId: "u" })));
      await bus.publish(topic, r.events.map((e) => toBusMessage(e)));
      const group = freshContext("g");
      // The first consumer handles #1 and #2, then "crashes" while handling #3 (no commit).
      const first = await collect(topic, group, async (m) => {
        if (fromBusMessage(m).streamVersion === 3) throw new Error("crash before commit");
      });
      await eventually(() => first.got.length >= 2, 30_000, "first two handled");
      await first.sub.stop();
      const second = await collect(topic, group);
      await eventually(() => second.got.length >= 2, 30_000, "redelivery");
      await second.sub.stop();
      assert.deepEqual(first.got.map((m) => fromBusMessage(m).streamVersion), [1, 2]);
      assert.deepEqual(second.got.map((m) => fromBusMessage(m).streamVersion), [3, 4]);
    });

    it("deduplication by event id makes a redelivered event's effect happen once", async () => {
      const store = await fresh();
      const topic = topicOf(store.context);
      const projection = tallyProjection(`${store.schema}.tally_bus`);
      await projection.setup(store.sql);
      const r = await store.append("acct", 0, [5, 7, 11].map((amount) => ({ type: "Incremented", data: { amount }, unitId: "u" })));
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
      const sub = await bus.subscribe({ groupId: freshContext("g"), topics: [topicOf(store.context)], handler: async (m) => (await handle(m), void handled++) });
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
  });
}
