import { countDeadLetter } from "../telemetry/bus-metrics.js";
import { HEADER, type DeliveredMessage, type SubscribeOptions } from "./event-bus.js";

/** What a bus adapter keeps of a message that failed every attempt. */
export interface FailedDelivery {
  message: DeliveredMessage;
  groupId: string;
  error: string;
  attempts: number;
}

const errorText = (e: unknown): string => (e instanceof Error ? `${e.name}: ${e.message}` : String(e)).slice(0, 2000);

/**
 * Runs a subscription's handler on one message the same way in every adapter: skips a replayed
 * dead letter meant for another group, retries a failing handler with doubling pauses, and after
 * `maxAttempts` hands the message to `deadLetter` (then the partition moves on). Throws only when
 * the subscription stops while retrying, so the message stays uncommitted.
 */
export async function deliver(
  o: SubscribeOptions,
  m: DeliveredMessage,
  running: () => boolean,
  deadLetter: (f: FailedDelivery) => Promise<void>,
): Promise<void> {
  const replayFor = m.headers[HEADER.replayForGroup];
  if (replayFor && replayFor !== o.groupId) return;
  const maxAttempts = Math.max(1, o.maxAttempts ?? 5);
  for (let attempt = 1; ; attempt++) {
    try {
      await o.handler(m);
      return;
    } catch (e) {
      if (attempt >= maxAttempts) {
        await deadLetter({ message: m, groupId: o.groupId, error: errorText(e), attempts: attempt });
        countDeadLetter(m.topic, o.groupId);
        return;
      }
      if (!running()) throw e;
      await new Promise((r) => setTimeout(r, Math.min(5_000, (o.retryBackoffMs ?? 100) * 2 ** (attempt - 1))));
    }
  }
}

/** Headers of a replayed dead letter: the original ones, addressed to the group that gave it up. */
export function replayHeaders(headers: Record<string, string>, groupId: string): Record<string, string> {
  return { ...headers, [HEADER.replayForGroup]: groupId };
}
