import { trace } from "@opentelemetry/api";
import pino, { type Logger } from "pino";

/** Keys whose values never reach a log line, wherever they appear. */
const SECRET_KEYS = ["password", "pin", "secret", "privateKey", "private_key", "token", "totp", "masterKey", "authorization"];

/**
 * JSON lines on stdout with the active trace and span id, so a log line leads to its trace.
 * Secrets are redacted by key name at any depth up to two levels.
 */
export function createLogger(service: string, opts: { level?: string; destination?: pino.DestinationStream } = {}): Logger {
  const paths = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]);
  return pino(
    {
      name: service,
      level: opts.level ?? process.env["TIGW_LOG_LEVEL"] ?? "info",
      base: { service },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths, censor: "[redacted]" },
      formatters: { level: (label) => ({ level: label }) },
      mixin() {
        const ctx = trace.getActiveSpan()?.spanContext();
        return ctx ? { trace_id: ctx.traceId, span_id: ctx.spanId } : {};
      },
    },
    opts.destination,
  );
}
export type { Logger };
