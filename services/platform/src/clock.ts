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

/** What a followed clock answers: its time (ISO 8601) and whether it is simulated. */
export interface ClockReading {
  now: string;
  simulated: boolean;
}

/**
 * The clock of another process, asked every `everyMs`. In cluster mode hsm keeps the fleet's
 * clock, which an operator may run simulated to rehearse expiries; the services that judge
 * validity (vpn's TI-access rule, vsdm, card-terminal, ksr's windows) follow it with
 * TIGW_CLOCK=hsm. While the followed clock is the system's, this one is too; while it is
 * simulated (it stands still until advanced), this one shows its last answer, so it never runs
 * ahead of it and never goes back: an older simulated answer than the last is ignored.
 */
export class FollowedClock implements Clock {
  private last?: { now: Date; simulated: boolean };
  private timer?: NodeJS.Timeout;
  private constructor(
    private readonly ask: () => Promise<ClockReading>,
    private readonly close?: () => void,
  ) {}

  get simulated(): boolean {
    return this.last?.simulated ?? false;
  }

  now(): Date {
    return this.last?.simulated ? new Date(this.last.now) : new Date();
  }

  /**
   * Follows `ask` from its first answer on (asked every second for up to `waitMs`, as the other
   * process may still be starting), then every `everyMs`; a failed ask keeps the last answer and
   * goes to `onError`. `close` is called by stop().
   */
  static async start(
    ask: () => Promise<ClockReading>,
    opts: { everyMs?: number; waitMs?: number; onError?: (e: unknown) => void; close?: () => void } = {},
  ): Promise<FollowedClock> {
    const c = new FollowedClock(ask, opts.close);
    const end = Date.now() + (opts.waitMs ?? 120_000);
    for (;;) {
      try {
        await c.refresh();
        break;
      } catch (e) {
        if (Date.now() > end) throw new Error(`the clock to follow did not answer within ${(opts.waitMs ?? 120_000) / 1000} s: ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    c.timer = setInterval(() => void c.refresh().catch((e: unknown) => opts.onError?.(e)), opts.everyMs ?? 5_000);
    c.timer.unref();
    return c;
  }

  /** Asks once now (also what the timer does). */
  async refresh(): Promise<void> {
    const r = await this.ask();
    const now = new Date(r.now);
    if (Number.isNaN(now.getTime())) throw new Error(`the followed clock answered no time: "${r.now}"`);
    if (this.last?.simulated && r.simulated && now < this.last.now) return;
    this.last = { now, simulated: r.simulated };
  }

  stop(): void {
    clearInterval(this.timer);
    this.close?.();
  }
}
