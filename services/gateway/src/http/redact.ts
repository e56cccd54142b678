/**
 * Fields a viewer (read-only operator) does not see: who was insured (KVNR) and the handles that
 * address a patient's card. The fleet view stays; the patients leave it.
 */
const HIDDEN = new Set(["kvnr", "cardHandle", "ehcHandle", "hpcHandle", "handle"]);
export const REDACTED = "(hidden)";

/** A copy of an answer without the fields viewers do not see, at any depth. */
export function redactForViewer(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactForViewer);
  if (value && typeof value === "object" && !(value instanceof Uint8Array)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = HIDDEN.has(k) && typeof v === "string" && v !== "" ? REDACTED : redactForViewer(v);
    return out;
  }
  return value;
}
