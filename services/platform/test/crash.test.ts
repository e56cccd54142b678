import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { describe, it } from "node:test";
import { busProjectionHandler, START, topicOf } from "../src/index.js";
import { eventually, freshContext } from "./support/adapters.js";
import { openCrashSetup } from "./support/crash-setup.js";
import { tallyProjection } from "./support/tally.js";

const KILLS = 4;
const child = join(__dirname, "support", "crash-child.js");

/** Runs the child until it has acknowledged some appends, then SIGKILLs it at a random point. */
function runAndKill(env: NodeJS.ProcessEnv, acked: Set<string>): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [child], { env, stdio: ["ignore", "pipe", "inherit"] });
    let killTimer: NodeJS.Timeout | undefined;
    createInterface({ input: p.stdout }).on("line", (line) => {
      if (line.startsWith("ACK ")) acked.add(line.slice(4));
      if (!killTimer && line.startsWith("ACK ")) killTimer = setTimeout(() => p.kill("SIGKILL"), 100 + Math.random() * 900);
    });
    p.on("exit", (code, signal) => (signal === "SIGKILL" ? resolve() : reject(new Error(`child exited by itself: ${code}`))));
    setTimeout(() => p.kill("SIGKILL"), 60_000).unref();
  });
}

const kinds = [
  { name: "embedded", real: false },
  ...(process.env["DATABASE_URL"] && process.env["KAFKA_BROKERS"] ? [{ name: "postgres + kafka", real: true }] : []),
];

for (const kind of kinds) {
  describe(`crash test [${kind.name}]`, () => {
    it(`after ${KILLS} SIGKILLs under load, every acknowledged append is stored and on the bus, and projected once`, async () => {
      const dir = mkdtempSync(join(tmpdir(), "tigw-crash-"));
      const env = { ...process.env, CRASH_KIND: kind.real ? "real" : "embedded", CRASH_DIR: dir, CRASH_CONTEXT: freshContext("crash") };
      const acked = new Set<string>();
      try {
        for (let i = 0; i < KILLS; i++) await runAndKill(env, acked);
        assert.ok(acked.size > 0, "the child acknowledged appends");

        Object.assign(process.env, env);
        const { store, bus, relay } = await openCrashSetup();
        try {
          const stored = await store.readAll(START, 1_000_000);
          const storedIds = new Set(stored.map((e) => e.eventId));
          for (const id of acked) assert.ok(storedIds.has(id), `acknowledged event ${id} is in the store`);
          // No stream has a gap or a repeated version.
          const byStream = new Map<string, number[]>();
          for (const e of stored) byStream.set(e.streamId, [...(byStream.get(e.streamId) ?? []), e.streamVersion]);
          for (const [s, versions] of byStream)
            assert.deepEqual(
              versions,
              versions.map((_, i) => i + 1),
              `stream ${s} versions`,
            );

          await relay.drain();
          const projection = tallyProjection(`${store.schema}.tally_crash`);
          await projection.setup(store.sql);
          const onBus = new Set<string>();
          const project = busProjectionHandler(store.sql, store.schema, projection);
          const sub = await bus.subscribe({
            groupId: freshContext("g"),
            topics: [topicOf(store.context)],
            handler: async (m) => {
              await project(m);
              onBus.add(m.headers["event-id"]!);
            },
          });
          await eventually(() => [...storedIds].every((id) => onBus.has(id)), 60_000, "every stored event on the bus");
          await sub.stop();
          const [dups] = await store.sql.query<{ n: string }>(`SELECT count(*) - count(DISTINCT event_id) AS n FROM ${store.schema}.tally_crash_applied`);
          assert.equal(Number(dups!.n), 0, "no event projected twice");
          const tally = await store.sql.query<{ stream_id: string; events: number }>(`SELECT stream_id, events FROM ${store.schema}.tally_crash`);
          for (const t of tally) assert.equal(Number(t.events), byStream.get(t.stream_id)!.length, `stream ${t.stream_id} counted once per event`);
        } finally {
          await bus.close();
          await store.sql.close();
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
