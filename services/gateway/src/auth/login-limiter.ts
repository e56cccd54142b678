import { DomainError } from "@tigw/platform";

/**
 * Failed logins are counted per user name and per client address in a sliding window; beyond
 * the limit further attempts are refused without checking the password (LOGIN_RATE_LIMITED,
 * with the seconds to wait), which makes guessing slow. A success clears the user's count.
 */
export class LoginLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly maxFailures = 5,
    private readonly windowMs = 15 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  private recent(key: string): number[] {
    const cutoff = this.now() - this.windowMs;
    const list = (this.failures.get(key) ?? []).filter((t) => t > cutoff);
    if (list.length) this.failures.set(key, list);
    else this.failures.delete(key);
    return list;
  }

  check(user: string, client: string): void {
    for (const key of [`u:${user}`, `c:${client}`]) {
      const list = this.recent(key);
      if (list.length >= this.maxFailures) {
        const retryAfter = Math.ceil((list[0]! + this.windowMs - this.now()) / 1000);
        throw new DomainError("LOGIN_RATE_LIMITED", `too many failed logins; try again in ${retryAfter} s`, { retryAfter: String(retryAfter) });
      }
    }
  }

  failed(user: string, client: string): void {
    for (const key of [`u:${user}`, `c:${client}`]) this.failures.set(key, [...this.recent(key), this.now()]);
  }

  succeeded(user: string): void {
    this.failures.delete(`u:${user}`);
  }
}
