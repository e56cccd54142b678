import type { Logger } from "../telemetry/logger.js";
import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import type { Sql } from "../sql/sql.js";
import type { RecordedEvent } from "../store/event-store.js";
import { extractHeaders } from "../telemetry/propagation.js";
import { fromBusMessage } from "./envelope.js";
import type { DeliveredMessage, EventBus, Subscription } from "./event-bus.js";

const tracer = trace.getTracer("tigw.bus");

/** A generated (ts-proto) event message: decodes the proto3 JSON mapping into its type. */
export interface EventMessage<T> {
  fromJSON(json: unknown): T;
}

/** How a consumer handles one event type of another service. */
export interface EventHandler<T> {
  /** The event's protobuf message (proto/tigw/<context>/v1/events.proto), current version. */
  message: EventMessage<T>;
  /** The schema version `message` describes (default 1). */
  version?: number;
  /** Brings the JSON of an older schema version to `version`'s shape (upcaster). */
  upcast?: (data: unknown, fromVersion: number) => unknown;
  handle(event: T, meta: RecordedEvent): Promise<void>;
}

/** Handlers by event type; the helper infers each one's message type. */
export type EventHandlers = Record<string, EventHandler<never>>;

export const on = <T>(h: EventHandler<T>): EventHandler<never> => h as unknown as EventHandler<never>;

export interface ConsumeOptions {
  bus: EventBus;
  groupId: string;
  topics: string[];
  /** The consumer's store: its inbox remembers handled event ids per group. */
  inbox: { sql: Sql; schema: string };
  /** Events of other types on the topics are passed over. */
  handlers: EventHandlers;
  fromBeginning?: boolean;
  maxAttempts?: number;
  retryBackoffMs?: number;
  /**
   * Subscribe in the background: return at once and, while the bus cannot be reached, try again
   * with capped backoff (one warning per outage, one line when subscribed). For a service that
   * must serve its own commands when the broker is away (tenancy); without it, a failed first
   * subscribe fails the start.
   */
  background?: { logger?: Pick<Logger, "warn" | "info">; maxBackoffMs?: number };
}

/** Decodes a delivered event typed: upcast to the handler's version, then the message's JSON mapping. */
export function decodeEvent<T>(handler: EventHandler<T>, event: RecordedEvent): T {
  const current = handler.version ?? 1;
  if (event.schemaVersion > current) throw new Error(`${event.type} has schema version ${event.schemaVersion}; this consumer knows up to ${current}`);
  let data = event.data;
  if (event.schemaVersion < current) {
    if (!handler.upcast) throw new Error(`${event.type} has schema version ${event.schemaVersion} and no upcaster to ${current}`);
    data = handler.upcast(data, event.schemaVersion);
  }
  return handler.message.fromJSON(data);
}

/**
 * The one way a service consumes another's events: subscribes by topic and group, continues the
 * producer's trace (W3C traceparent header) in a consumer span, decodes each event typed, and
 * applies it once per group (inbox by event id). A handler that throws is retried with backoff
 * and the message dead-lettered after the attempts (see EventBus.subscribe).
 *
 * The effect runs before its inbox row is written (it has its own store and transactions), so a
 * crash between the two repeats it: handlers must be idempotent on the state they change, as
 * commands decided on a stream's state are.
 */
export function consume(o: ConsumeOptions): Promise<Subscription> {
  const handle = async (m: DeliveredMessage): Promise<void> => {
    const event = fromBusMessage(m);
    const handler = o.handlers[event.type];
    if (!handler) return;
    const parent = extractHeaders(m.headers);
    await tracer.startActiveSpan(
      `consume ${event.type}`,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          "messaging.system": o.bus.kind === "kafka" ? "kafka" : "tigw-embedded",
          "messaging.destination.name": m.topic,
          "messaging.consumer.group.name": o.groupId,
          "messaging.message.id": event.eventId,
        },
      },
      parent,
      async (span) => {
        try {
          const [seen] = await o.inbox.sql.query(`SELECT 1 FROM ${o.inbox.schema}.inbox WHERE consumer = $1 AND event_id = $2::uuid`, [
            o.groupId,
            event.eventId,
          ]);
          if (seen) {
            span.setAttribute("tigw.inbox.duplicate", true);
            return;
          }
          await handler.handle(decodeEvent(handler, event), event);
          await o.inbox.sql.query(`INSERT INTO ${o.inbox.schema}.inbox (consumer, event_id) VALUES ($1, $2::uuid) ON CONFLICT DO NOTHING`, [
            o.groupId,
            event.eventId,
          ]);
        } catch (e) {
          span.recordException(e as Error);
          span.setStatus({ code: SpanStatusCode.ERROR, message: e instanceof Error ? e.message : String(e) });
          throw e;
        } finally {
          span.end();
        }
      },
    );
  };
  const subscribe = () =>
    o.bus.subscribe({
      groupId: o.groupId,
      topics: o.topics,
      fromBeginning: o.fromBeginning ?? true,
      maxAttempts: o.maxAttempts,
      retryBackoffMs: o.retryBackoffMs,
      handler: handle,
    });
  return o.background ? Promise.resolve(subscribeInBackground(subscribe, o.groupId, o.background)) : subscribe();
}

function subscribeInBackground(subscribe: () => Promise<Subscription>, groupId: string, o: NonNullable<ConsumeOptions["background"]>): Subscription {
  let stopped = false;
  let sub: Subscription | undefined;
  let wake: (() => void) | undefined;
  const running = (async () => {
    for (let failures = 0; !stopped; failures++) {
      try {
        sub = await subscribe();
        if (failures > 0) o.logger?.info({ groupId, failures }, "consumer subscribed after the bus came back");
        if (stopped) await sub.stop();
        return;
      } catch (e) {
        if (failures === 0)
          o.logger?.warn({ groupId, error: e instanceof Error ? e.message : String(e) }, "consumer: the bus cannot be reached, retrying with backoff");
        const wait = Math.min(o.maxBackoffMs ?? 30_000, 500 * 2 ** Math.min(failures, 10));
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, wait).unref();
        });
      }
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      wake?.();
      await running;
      await sub?.stop();
    },
  };
}
