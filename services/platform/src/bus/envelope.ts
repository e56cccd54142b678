import { Envelope } from "@tigw/contracts/events/v1/envelope";
import type { RecordedEvent } from "../store/event-store.js";
import { HEADER, type BusMessage, type DeliveredMessage } from "./event-bus.js";

/** A stored event as a bus message: protobuf Envelope, JSON payload, key = unit id. */
export function toBusMessage(e: RecordedEvent, traceparent = ""): BusMessage {
  const envelope = Envelope.encode({
    eventId: e.eventId,
    type: e.type,
    context: e.context,
    streamId: e.streamId,
    streamVersion: String(e.streamVersion),
    globalPosition: String(e.globalPosition),
    unitId: e.unitId,
    mandantId: e.mandantId,
    occurredAt: e.occurredAt,
    correlationId: e.correlationId,
    causationId: e.causationId,
    payloadContentType: "application/json",
    payload: Buffer.from(JSON.stringify(e.data)),
  }).finish();
  const headers: Record<string, string> = { [HEADER.eventType]: e.type, [HEADER.eventId]: e.eventId };
  if (traceparent) headers[HEADER.traceparent] = traceparent;
  // Events without a unit (fleet-wide ones) keep their stream's order instead.
  return { key: e.unitId || e.streamId, value: Buffer.from(envelope), headers };
}

/** A received bus message back as an event (without the store-local transaction id). */
export function fromBusMessage(m: DeliveredMessage): RecordedEvent {
  const env = Envelope.decode(m.value);
  return {
    eventId: env.eventId,
    context: env.context,
    streamId: env.streamId,
    streamVersion: Number(env.streamVersion),
    globalPosition: Number(env.globalPosition),
    transactionId: "",
    type: env.type,
    data: JSON.parse(Buffer.from(env.payload).toString("utf8")),
    unitId: env.unitId,
    mandantId: env.mandantId,
    occurredAt: env.occurredAt,
    correlationId: env.correlationId,
    causationId: env.causationId,
  };
}
