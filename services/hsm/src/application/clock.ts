import { DomainError, migrate, parseDuration, SimulatedClock, type Clock, type Sql } from "@tigw/platform";

/**
 * The clock operators can move: the system clock, or a simulated one whose time is kept in the
 * hsm's database (so a restart does not rewind it). Advancing is refused on the system clock.
 */
export class ClockControl implements Clock {
  private constructor(
    private readonly inner: Clock,
    private readonly sql: Sql | undefined,
    private readonly schema: string,
  ) {}

  get simulated(): boolean {
    return this.inner.simulated;
  }

  now(): Date {
    return this.inner.now();
  }

  static system(clock: Clock): ClockControl {
    return new ClockControl(clock, undefined, "");
  }

  /** A simulated clock starting at the stored time, else at `start`. */
  static async simulated(sql: Sql, schema: string, start: Date): Promise<ClockControl> {
    await migrate(sql, schema, [{ id: "clock-001", sql: "CREATE TABLE {schema}.clock (id int PRIMARY KEY, now timestamptz NOT NULL)" }]);
    const [row] = await sql.query<{ now: string | Date }>(`SELECT now FROM ${schema}.clock WHERE id = 1`);
    const clock = new SimulatedClock(row ? new Date(row.now) : start);
    const c = new ClockControl(clock, sql, schema);
    await c.persist();
    return c;
  }

  private async persist(): Promise<void> {
    await this.sql!.query(`INSERT INTO ${this.schema}.clock (id, now) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET now = EXCLUDED.now`, [
      this.now().toISOString(),
    ]);
  }

  async advance(duration: string): Promise<Date> {
    if (!(this.inner instanceof SimulatedClock)) {
      throw new DomainError(
        "CLOCK_NOT_SIMULATED",
        "ti-gateway runs on the system clock; start it with TIGW_CLOCK=simulated (and TIGW_CLOCK_START=2025-03-01) to move time",
      );
    }
    let ms: number;
    try {
      ms = parseDuration(duration);
    } catch (e) {
      throw new DomainError("INVALID_DURATION", (e as Error).message, { field: "duration" });
    }
    this.inner.advance(ms);
    await this.persist();
    return this.now();
  }
}
