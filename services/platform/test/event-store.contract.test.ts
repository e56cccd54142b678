import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ANY, CommandHandler, DomainError, START, StoreProjectionRunner, VersionConflictError, type SqlEventStore } from "../src/index.js";
import { openStore, storeAdapters } from "./support/adapters.js";
import { counterDecider } from "./support/counter.js";
import { readTally, tallyProjection } from "./support/tally.js";

for (const adapter of storeAdapters()) {
  describe(`EventStore contract [${adapter.name}]`, () => {
    let store: SqlEventStore;
    before(async () => {
      store = await openStore(adapter);
    });
    after(async () => {
      await store.sql.close();
    });

    it("reads its own writes, with versions 1..n in order", async () => {
      const r1 = await store.append("unit-1", 0, [{ type: "A", data: { n: 1 }, unitId: "unit-1" }]);
      const r2 = await store.append("unit-1", r1.nextExpectedVersion, [
        { type: "B", data: { n: 2 } },
        { type: "C", data: { n: 3 }, mandantId: "m1" },
      ]);
      assert.equal(r2.nextExpectedVersion, 3);
      const { version, events } = await store.readStream("unit-1");
      assert.equal(version, 3);
      assert.deepEqual(
        events.map((e) => [e.type, e.streamVersion, e.data]),
        [
          ["A", 1, { n: 1 }],
          ["B", 2, { n: 2 }],
          ["C", 3, { n: 3 }],
        ],
      );
      assert.equal(events[0]!.unitId, "unit-1");
      assert.equal(events[2]!.mandantId, "m1");
      assert.deepEqual(await store.readStream("no-such-stream"), { version: 0, events: [] });
      const tail = await store.readStream("unit-1", 1);
      assert.deepEqual([tail.version, tail.events.map((e) => e.type)], [3, ["B", "C"]]);
      assert.deepEqual(await store.readStream("unit-1", 3), { version: 3, events: [] });
    });

    it("rejects a stale expected version and leaves the stream as it was", async () => {
      await store.append("stale", 0, [{ type: "A", data: {} }]);
      await assert.rejects(store.append("stale", 0, [{ type: "X", data: {} }]), (e: unknown) => {
        assert.ok(e instanceof VersionConflictError);
        assert.equal(e.code, "VERSION_CONFLICT");
        assert.equal(e.actualVersion, 1);
        return true;
      });
      // An expected version beyond the stream's end is as wrong as one behind it.
      await assert.rejects(store.append("stale", 5, [{ type: "X", data: {} }]), VersionConflictError);
      await assert.rejects(store.append("fresh-stream", 2, [{ type: "X", data: {} }]), VersionConflictError);
      const { events } = await store.readStream("stale");
      assert.deepEqual(
        events.map((e) => e.type),
        ["A"],
      );
      assert.equal((await store.readStream("fresh-stream")).version, 0);
    });

    it("lets exactly one of N racing writers with the same expected version win", async () => {
      const N = 12;
      await store.append("race", 0, [{ type: "Opened", data: {} }]);
      const results = await Promise.allSettled(Array.from({ length: N }, (_, i) => store.append("race", 1, [{ type: "Raced", data: { writer: i } }])));
      const won = results.filter((r) => r.status === "fulfilled");
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
      assert.equal(won.length, 1);
      assert.equal(lost.length, N - 1);
      for (const l of lost) assert.ok(l.reason instanceof VersionConflictError, String(l.reason));
      assert.equal((await store.readStream("race")).version, 2);
      // Racing creators of a new stream: one wins as well.
      const creators = await Promise.allSettled(Array.from({ length: N }, () => store.append("race-new", 0, [{ type: "Opened", data: {} }])));
      assert.equal(creators.filter((r) => r.status === "fulfilled").length, 1);
    });

    it("appends with ANY at the stream's end: concurrent appenders get distinct consecutive versions, nothing lost", async () => {
      const first = await store.append("log-1", ANY, [
        { type: "Logged", data: { n: 0 } },
        { type: "Logged", data: { n: 1 } },
      ]);
      assert.deepEqual([first.nextExpectedVersion, first.events.map((e) => e.streamVersion)], [2, [1, 2]]);
      const checked = await store.append("log-1", 2, [{ type: "Logged", data: { n: 2 } }]);
      assert.equal(checked.nextExpectedVersion, 3);
      const N = 24;
      const results = await Promise.all(
        Array.from({ length: N }, (_, w) =>
          store.append(
            "log-1",
            ANY,
            Array.from({ length: 1 + (w % 3) }, (_, k) => ({ type: "Logged", data: { w, k } })),
          ),
        ),
      );
      const { version, events } = await store.readStream("log-1");
      const appended = results.reduce((n, r) => n + r.events.length, 0);
      assert.equal(version, 3 + appended);
      assert.deepEqual(
        events.map((e) => e.streamVersion),
        Array.from({ length: version }, (_, i) => i + 1),
        "versions 1..n, no gap, none twice",
      );
      assert.equal(new Set(events.map((e) => e.eventId)).size, events.length);
      for (const [w, r] of results.entries()) {
        // Each append's events stay together and in order, and it learns where they went.
        const versions = r.events.map((e) => e.streamVersion);
        assert.deepEqual(
          versions,
          versions.map((_, k) => versions[0]! + k),
        );
        assert.deepEqual(
          r.events.map((e) => e.data),
          versions.map((_, k) => ({ w, k })),
        );
        assert.equal(r.nextExpectedVersion, versions.at(-1));
      }
      // Racing creators of a new stream with ANY: all succeed, one after another.
      const created = await Promise.all(Array.from({ length: 8 }, (_, i) => store.append("log-new", ANY, [{ type: "Logged", data: { i } }])));
      assert.deepEqual(
        created.map((r) => r.nextExpectedVersion).sort((a, b) => a - b),
        [1, 2, 3, 4, 5, 6, 7, 8],
      );
      // A checked append still sees the version ANY moved.
      await assert.rejects(store.append("log-1", 3, [{ type: "Late", data: {} }]), VersionConflictError);
      await assert.rejects(store.append("log-1", -1 as number, [{ type: "Bad", data: {} }]), RangeError);
    });

    it("appends with the given occurredAt (the service's clock), not the wall clock", async () => {
      const at = new Date("2031-07-01T12:00:00.000Z");
      const r1 = await store.append("clocked", 0, [{ type: "A", data: {} }], at);
      const r2 = await store.append("clocked", ANY, [{ type: "B", data: {} }], at);
      const { events } = await store.readStream("clocked");
      assert.deepEqual([r1.events[0]!.occurredAt, r2.events[0]!.occurredAt, ...events.map((e) => e.occurredAt)], Array(4).fill(at.toISOString()));
    });

    it("command handler retries a conflict and re-checks the rule on the new state", async () => {
      const handler = new CommandHandler(store, counterDecider, 50);
      const results = await Promise.allSettled(Array.from({ length: 8 }, () => handler.handle("counter-1", { type: "Increment", amount: 1, limit: 5 })));
      const ok = results.filter((r) => r.status === "fulfilled").length;
      const refused = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
      assert.equal(ok, 5, "exactly the 5 increments within the limit succeed");
      for (const r of refused) assert.equal((r.reason as DomainError).code, "COUNTER_LIMIT_REACHED");
      const { state, version } = await handler.load("counter-1");
      assert.deepEqual([state.value, version], [5, 5]);
    });

    it("readAll returns every event once, in a global order consistent with each stream", async () => {
      const before = (await store.readAll(START, 100_000)).length;
      await Promise.all(
        Array.from({ length: 6 }, async (_, s) => {
          let v = 0;
          for (let i = 0; i < 10; i++) v = (await store.append(`order-${s}`, v, [{ type: "Tick", data: { i } }])).nextExpectedVersion;
        }),
      );
      const all = await store.readAll(START, 100_000);
      assert.equal(all.length, before + 60);
      assert.equal(new Set(all.map((e) => e.eventId)).size, all.length, "no event twice");
      const lastVersion = new Map<string, number>();
      for (const e of all) {
        assert.ok(e.streamVersion > (lastVersion.get(e.streamId) ?? 0), `stream ${e.streamId} in order`);
        lastVersion.set(e.streamId, e.streamVersion);
      }
      // Paging with the cursor gives the same sequence.
      const paged = [];
      for (let cursor = START; ;) {
        const page = await store.readAll(cursor, 7);
        if (page.length === 0) break;
        paged.push(...page);
        cursor = { transactionId: page.at(-1)!.transactionId, globalPosition: page.at(-1)!.globalPosition };
      }
      assert.deepEqual(
        paged.map((e) => e.eventId),
        all.map((e) => e.eventId),
      );
    });

    it("writes the outbox in the same transaction as the events", async () => {
      const count = async () => Number((await store.sql.query<{ n: string }>(`SELECT count(*) AS n FROM ${store.schema}.outbox`))[0]!.n);
      const before = await count();
      await store.append("outboxed", 0, [
        { type: "A", data: {} },
        { type: "B", data: {} },
      ]);
      assert.equal(await count(), before + 2);
      await store.append("outboxed", ANY, [{ type: "C", data: {} }]);
      assert.equal(await count(), before + 3);
      await assert.rejects(store.append("outboxed", 0, [{ type: "C", data: {} }]), VersionConflictError);
      assert.equal(await count(), before + 3, "a refused append leaves no outbox row");
    });

    it("rebuilds a projection from position 0 with the same result as the live one", async () => {
      const runner = new StoreProjectionRunner(store, tallyProjection(`${store.schema}.tally`));
      await runner.setup();
      const handler = new CommandHandler(store, counterDecider);
      for (let i = 0; i < 20; i++) {
        await handler.handle(`acct-${i % 4}`, { type: "Increment", amount: i + 1, limit: 1000 });
        if (i % 5 === 0) await runner.catchUp(); // live: follows the store as it grows
      }
      await runner.catchUp();
      const live = await readTally(store.sql, `${store.schema}.tally`);
      assert.ok(live.length >= 4, "its own four accounts at least");
      assert.equal(await runner.catchUp(), 0, "a caught-up projection applies nothing again");
      const applied = await runner.rebuild();
      assert.ok(applied >= 20, "its own 20 events at least");
      assert.deepEqual(await readTally(store.sql, `${store.schema}.tally`), live);
    });
  });
}
