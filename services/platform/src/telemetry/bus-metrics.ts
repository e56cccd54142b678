import type { Counter } from "@opentelemetry/api";
import { meter } from "./metrics.js";

// Made on first use: a meter taken before the telemetry SDK registers would stay a no-op.
let deadLetters: Counter | undefined;

/** Counts a dead-lettered message (the alert TigwBusDeadLetters fires on its increase). */
export function countDeadLetter(topic: string, group: string): void {
  deadLetters ??= meter("bus").createCounter("tigw_bus_dead_letters_total", {
    description: "Messages a consumer group gave up after its attempts and put in the dead-letter store, by topic and group",
  });
  deadLetters.add(1, { topic, group });
}
