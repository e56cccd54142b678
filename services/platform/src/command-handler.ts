import type { Decider, DomainEvent } from "./decider.js";
import { VersionConflictError } from "./errors.js";
import type { AppendResult, EventStore, NewEvent, RecordedEvent } from "./store/event-store.js";

export interface HandleOptions {
  /** Routing facts written with every event of this command. */
  unitId?: string;
  mandantId?: string;
  correlationId?: string;
  causationId?: string;
  /** When the decision is taken (the command's time); defaults to now. */
  occurredAt?: Date;
}

/** How a stream's events are versioned: the current schema version per type and an upcaster. */
export interface EventVersions {
  /** The schema version new events of a type are written with (default 1). */
  current?: Record<string, number>;
  /** Brings a stored event of an older schema version to the shape evolve() expects. */
  upcast?: (event: { type: string; data: unknown; schemaVersion: number }) => DomainEvent;
}

export interface HandleResult<S> extends AppendResult {
  state: S;
}

/**
 * Runs one command against one stream: load, decide, append with the version read. When another
 * writer got there first, reload and decide again (the rule is re-checked on the new state), at
 * most `maxAttempts` times; then the conflict reaches the caller.
 */
export class CommandHandler<S, C, E extends DomainEvent> {
  /**
   * Folded states by stream (when enabled): a load then reads only the events appended since,
   * instead of the whole stream. Safe because streams only grow and states are never mutated
   * (evolve returns a new state); bounded, the oldest entry goes first.
   */
  private readonly states = new Map<string, { state: S; version: number }>();

  constructor(
    private readonly store: EventStore,
    private readonly decider: Decider<S, C, E>,
    private readonly maxAttempts = 5,
    private readonly cacheSize = 0,
    private readonly versions: EventVersions = {},
  ) {}

  /** A stored event as evolve() takes it: upcast when written with an older schema version. */
  private upcast(e: RecordedEvent): E {
    const current = this.versions.current?.[e.type] ?? 1;
    if (e.schemaVersion < current && this.versions.upcast) return this.versions.upcast(e) as E;
    return { type: e.type, data: e.data } as E;
  }

  async load(streamId: string): Promise<{ state: S; version: number }> {
    const cached = this.states.get(streamId);
    const { version, events } = await this.store.readStream(streamId, cached?.version ?? 0);
    let state = cached?.state ?? this.decider.initialState();
    for (const e of events) state = this.decider.evolve(state, this.upcast(e));
    this.remember(streamId, state, version);
    return { state, version };
  }

  private remember(streamId: string, state: S, version: number): void {
    if (this.cacheSize <= 0 || version === 0) return;
    this.states.delete(streamId);
    this.states.set(streamId, { state, version });
    if (this.states.size > this.cacheSize) this.states.delete(this.states.keys().next().value!);
  }

  async handle(streamId: string, command: C, opts: HandleOptions = {}): Promise<HandleResult<S>> {
    for (let attempt = 1; ; attempt++) {
      const { state, version } = await this.load(streamId);
      const decided = this.decider.decide(command, state);
      const events: NewEvent[] = decided.map((e) => ({
        type: e.type,
        data: e.data,
        schemaVersion: this.versions.current?.[e.type],
        unitId: opts.unitId,
        mandantId: opts.mandantId,
        correlationId: opts.correlationId,
        causationId: opts.causationId,
      }));
      try {
        const result = await this.store.append(streamId, version, events, opts.occurredAt);
        const next = decided.reduce(this.decider.evolve, state);
        this.remember(streamId, next, result.nextExpectedVersion);
        return { ...result, state: next };
      } catch (e) {
        if (!(e instanceof VersionConflictError) || attempt >= this.maxAttempts) throw e;
        // Back off a little, with jitter, so racing writers do not collide in lockstep.
        await new Promise((r) => setTimeout(r, Math.random() * 5 * attempt));
      }
    }
  }
}
