import { ValidationError } from "@tigw/platform";

/**
 * The auto-update window (MGM_KSR_AUTO_UPDATE_TIME): a weekday and time ("Mon 01:00", the
 * default) or every day ("daily 01:00"), in German time (Europe/Berlin, so 01:00 stays 01:00
 * across summer time). Release start dates and deadlines are German calendar days as well.
 */
export const DEFAULT_WINDOW = "Mon 01:00";
export const ZONE = "Europe/Berlin";
const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"] as const;

export interface WindowSpec {
  /** 0 = Sunday ... 6 = Saturday; undefined: every day. */
  weekday: number | undefined;
  hour: number;
  minute: number;
}

export function parseWindow(text: string): WindowSpec {
  const m = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun|daily) ([01]\d|2[0-3]):([0-5]\d)$/.exec(text.trim());
  if (!m)
    throw new ValidationError("INVALID_UPDATE_WINDOW", "window", `"${text}" is no update window: use a weekday and time ("Mon 01:00") or "daily 01:00"`, {
      value: text,
    });
  return { weekday: m[1] === "daily" ? undefined : DAYS.indexOf(m[1] as (typeof DAYS)[number]), hour: Number(m[2]), minute: Number(m[3]) };
}

const parts = new Intl.DateTimeFormat("en-US", {
  timeZone: ZONE,
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  hourCycle: "h23",
});

/**
 * How far German time is ahead of UTC at an instant (1 h in winter, 2 h in summer). Europe/Berlin
 * changes its offset only on a full UTC hour, so one answer of Intl per UTC hour serves every
 * instant in it: Intl's formatToParts is slow, and listing 1,000 units' next windows asked it
 * tens of thousands of times.
 */
const offsets = new Map<number, number>();
function offsetAt(ms: number): number {
  const hour = Math.floor(ms / 3_600_000);
  let offset = offsets.get(hour);
  if (offset === undefined) {
    const p = Object.fromEntries(parts.formatToParts(new Date(hour * 3_600_000)).map((x) => [x.type, x.value]));
    offset = Date.UTC(Number(p["year"]), Number(p["month"]) - 1, Number(p["day"]), Number(p["hour"]), Number(p["minute"])) - hour * 3_600_000;
    if (offsets.size >= 100_000) offsets.clear(); // about 11 years of hours; a long simulated walk starts afresh
    offsets.set(hour, offset);
  }
  return offset;
}

/** German wall-clock fields of an instant. */
function local(ms: number): { y: number; m: number; d: number; h: number; min: number } {
  const t = new Date(ms + offsetAt(ms));
  return { y: t.getUTCFullYear(), m: t.getUTCMonth() + 1, d: t.getUTCDate(), h: t.getUTCHours(), min: t.getUTCMinutes() };
}

/** The instant of a German wall-clock time. */
export function germanInstant(y: number, m: number, d: number, h: number, min: number): number {
  const guess = Date.UTC(y, m - 1, d, h, min);
  return guess - offsetAt(guess - offsetAt(guess));
}

/** The German calendar day of an instant, YYYY-MM-DD. */
export function germanDay(iso: string | number): string {
  const l = local(typeof iso === "number" ? iso : Date.parse(iso));
  return `${l.y}-${String(l.m).padStart(2, "0")}-${String(l.d).padStart(2, "0")}`;
}

/** The window occurrences after `from` (exclusive) up to `to` (inclusive), oldest first, at most `limit`. */
export function occurrences(spec: WindowSpec, from: string, to: string, limit = 1000): string[] {
  const start = Date.parse(from);
  const end = Date.parse(to);
  const out: string[] = [];
  if (!(end > start)) return out;
  const first = local(start);
  // Walk German calendar days from the day of `from`; noon UTC of a day never crosses its date.
  for (let day = Date.UTC(first.y, first.m - 1, first.d, 12); out.length < limit; day += 86_400_000) {
    const dt = new Date(day);
    const at = germanInstant(dt.getUTCFullYear(), dt.getUTCMonth() + 1, dt.getUTCDate(), spec.hour, spec.minute);
    if (at > end) break;
    if (at > start && (spec.weekday === undefined || dt.getUTCDay() === spec.weekday)) out.push(new Date(at).toISOString());
  }
  return out;
}
