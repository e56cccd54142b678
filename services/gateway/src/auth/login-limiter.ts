import { DomainError } from "@tigw/platform";

export interface LoginLimits {
  /** Failures of one account from one client address before that pair has to wait. */
  freeFailures: number;
  /** The first wait; each further failure doubles it, up to maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Failures of one account from all addresses before every address that failed on it waits longer. */
  accountFreeFailures: number;
  /** Failures of one address over all accounts (password spraying) before that address waits. */
  addressFreeFailures: number;
  /** A count is forgotten this long after its last attempt. */
  forgetAfterMs: number;
}

export const DEFAULT_LOGIN_LIMITS: LoginLimits = {
  freeFailures: 5,
  baseDelayMs: 2_000,
  maxDelayMs: 15 * 60_000,
  accountFreeFailures: 20,
  addressFreeFailures: 20,
  forgetAfterMs: 60 * 60_000,
};

/** Attempts of one key: failed ones, ones whose password is being evaluated, and when the last began or failed. */
interface Tally {
  failures: number;
  inFlight: number;
  last: number;
}

/** One reserved login attempt: report how it went, then always end() it (in finally). */
export interface LoginAttempt {
  succeeded(): void;
  /** The password was right but the second factor was missing: neither a success nor a failure. */
  secondFactorMissing(): void;
  /** Settles the attempt: a failure unless reported otherwise. */
  end(): void;
}

/**
 * Login throttling. An attempt is reserved before its password is evaluated, in one synchronous
 * step with the check, so parallel guesses cannot all pass the check before any is counted; an
 * attempt that does not succeed counts as a failure.
 *
 * The wait grows with failures (baseDelay doubled per failure, capped) and is measured from the
 * previous attempt of the same account and client address:
 * - per account and address: after `freeFailures` failures of that pair;
 * - per account: once the account has `accountFreeFailures` failures from all addresses, every
 *   address that failed on it waits as if those were its own (a distributed guess slows down);
 * - per address (password spraying): after `addressFreeFailures` failures over all accounts, measured
 *   from that address's previous attempt.
 * A stranger therefore never locks an operator out: an address without failures (and nothing in
 * flight) on the account is never held back by the account's count, and every wait is capped.
 * The refusal (LOGIN_RATE_LIMITED, retryAfter in seconds) does not depend on whether the account
 * exists. A success clears the failures of its pair only: the account's and the address's counts
 * are the attacker's, and stay.
 */
export class LoginLimiter {
  private readonly limits: LoginLimits;
  private readonly tallies = new Map<string, Tally>();

  constructor(
    limits: Partial<LoginLimits> = {},
    private readonly now: () => number = Date.now,
  ) {
    this.limits = { ...DEFAULT_LOGIN_LIMITS, ...limits };
  }

  /** Reserves an attempt, or refuses it with LOGIN_RATE_LIMITED naming the seconds to wait. */
  begin(account: string, address: string): LoginAttempt {
    const now = this.now();
    this.forgetOld(now);
    const keys = [`p:${account}\u0000${address}`, `u:${account}`, `a:${address}`] as const;
    const [pair, acct, addr] = keys.map((k) => this.current(k, now));
    const { freeFailures, accountFreeFailures, addressFreeFailures } = this.limits;
    // A pair without failures has no previous attempt to wait from: the account's count alone holds nothing back.
    const pairWait = pair ? this.waitFrom(pair.last, Math.max(count(pair) - freeFailures, count(acct) - accountFreeFailures), now) : 0;
    const wait = Math.max(pairWait, addr ? this.waitFrom(addr.last, count(addr) - addressFreeFailures, now) : 0);
    if (wait > 0) {
      const retryAfter = Math.ceil(wait / 1000);
      throw new DomainError("LOGIN_RATE_LIMITED", `too many failed logins; try again in ${retryAfter} s`, { retryAfter: String(retryAfter) });
    }
    const tallies = keys.map((k) => this.tally(k));
    for (const t of tallies) {
      t.inFlight++;
      t.last = now;
    }
    let outcome: "failed" | "succeeded" | "neutral" | "ended" = "failed";
    return {
      succeeded: () => {
        if (outcome !== "ended") outcome = "succeeded";
      },
      secondFactorMissing: () => {
        if (outcome !== "ended") outcome = "neutral";
      },
      end: () => {
        if (outcome === "ended") return;
        const was = outcome;
        outcome = "ended";
        const at = this.now();
        for (const t of tallies) {
          t.inFlight--;
          if (was === "failed") {
            t.failures++;
            t.last = at;
          }
        }
        if (was === "succeeded") tallies[0]!.failures = 0;
      },
    };
  }

  /** Milliseconds still to wait after an attempt at `last` when `excess` failures are over the free ones. */
  private waitFrom(last: number, excess: number, now: number): number {
    if (excess < 0) return 0;
    const delay = Math.min(this.limits.baseDelayMs * 2 ** Math.min(excess, 40), this.limits.maxDelayMs);
    return Math.max(0, last + delay - now);
  }

  /** The key's tally if it has attempts to remember (none is created: refused attempts add nothing). */
  private current(key: string, now: number): Tally | undefined {
    const t = this.tallies.get(key);
    if (t && t.inFlight === 0 && (t.failures === 0 || now - t.last > this.limits.forgetAfterMs)) {
      this.tallies.delete(key);
      return undefined;
    }
    return t;
  }

  private tally(key: string): Tally {
    let t = this.tallies.get(key);
    if (!t) {
      t = { failures: 0, inFlight: 0, last: 0 };
      this.tallies.set(key, t);
    }
    return t;
  }

  /** Once a minute drops the counts nobody added to for forgetAfterMs, so guessed names and addresses do not pile up. */
  private forgetOld(now: number): void {
    if (now - this.lastSweep < 60_000) return;
    this.lastSweep = now;
    for (const key of [...this.tallies.keys()]) this.current(key, now);
  }

  private lastSweep = 0;
}

const count = (t: Tally | undefined): number => (t ? t.failures + t.inFlight : 0);
