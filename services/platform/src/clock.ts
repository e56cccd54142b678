/** Where time comes from. Services read it in the command handler and pass it into commands. */
export interface Clock {
  now(): Date;
  readonly simulated: boolean;
}

export class SystemClock implements Clock {
  readonly simulated = false;
  now(): Date {
    return new Date();
  }
}

/**
 * A clock an operator can move forward (to watch certificates expire, say). It starts at the
 * given instant and advances only when told; it never goes backwards.
 */
export class SimulatedClock implements Clock {
  readonly simulated = true;
  private current: number;
  constructor(start: Date = new Date()) {
    this.current = start.getTime();
  }
  now(): Date {
    return new Date(this.current);
  }
  advance(ms: number): Date {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`advance needs a non-negative duration, got ${ms}`);
    this.current += ms;
    return this.now();
  }
  set(to: Date): Date {
    if (to.getTime() < this.current) throw new RangeError(`a simulated clock does not go backwards (to ${to.toISOString()})`);
    this.current = to.getTime();
    return this.now();
  }
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses durations such as "30d", "12h", "90s" or "250ms". */
export function parseDuration(text: string): number {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(text.trim());
  if (!m) throw new RangeError(`not a duration: "${text}" (use e.g. 30d, 12h, 90s, 250ms)`);
  return Number(m[1]) * UNIT_MS[m[2]!]!;
}
