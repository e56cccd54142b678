import type { Counter } from "@opentelemetry/api";
import { meter } from "./metrics.js";

// Made on first use: a meter taken before the telemetry SDK registers would stay a no-op.
let deadLetters: Counter | undefined;

const counter = (): Counter =>
  (deadLetters ??= meter("bus").createCounter("tigw_bus_dead_letters_total", {
    description: "Messages a consumer group gave up after its attempts and put in the dead-letter store, by topic and group",
  }));

/** Counts a dead-lettered message (the alert TigwBusDeadLetters fires on its increase). */
export function countDeadLetter(topic: string, group: string): void {
  counter().add(1, { topic, group });
}

/** A subscription's series from its start, at 0: a dashboard shows "none" instead of no data. */
export function declareDeadLetters(topics: string[], group: string): void {
  for (const topic of topics) counter().add(0, { topic, group });
}
