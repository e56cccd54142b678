import { context, propagation, type Context } from "@opentelemetry/api";

/** The W3C traceparent of the active span, or "" when no trace is active. */
export function currentTraceparent(): string {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier["traceparent"] ?? "";
}

/** Writes the active trace context into message headers (Kafka, the embedded bus). */
export function injectHeaders(headers: Record<string, string>): Record<string, string> {
  propagation.inject(context.active(), headers);
  return headers;
}

/** The trace context a message carried, to continue the trace on the consumer side. */
export function extractHeaders(headers: Record<string, string>): Context {
  return propagation.extract(context.active(), headers);
}
