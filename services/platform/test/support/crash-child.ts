/**
 * The victim of the crash test: appends increments under load with the outbox relay running,
 * and prints "ACK <eventId>" for every append the store acknowledged, until it is killed.
 * Env: CRASH_KIND (embedded|real), CRASH_DIR (embedded data), CRASH_CONTEXT, DATABASE_URL, KAFKA_BROKERS.
 */
import { CommandHandler } from "../../src/index.js";
import { counterDecider } from "./counter.js";
import { openCrashSetup } from "./crash-setup.js";

async function main(): Promise<void> {
  const { store, relay } = await openCrashSetup();
  relay.start();
  const handler = new CommandHandler(store, counterDecider, 50);
  process.stdout.write("READY\n");
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (;;) {
        const stream = `acct-${Math.floor(Math.random() * 8)}`;
        try {
          const r = await handler.handle(stream, { type: "Increment", amount: 1, limit: Number.MAX_SAFE_INTEGER });
          for (const e of r.events) process.stdout.write(`ACK ${e.eventId}\n`);
        } catch {
          // a conflict beyond the retries: not acknowledged, try another
        }
      }
    }),
  );
}
void main();
