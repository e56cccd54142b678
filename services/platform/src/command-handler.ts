import { fold, type Decider, type DomainEvent } from "./decider.js";
import { VersionConflictError } from "./errors.js";
import type { AppendResult, EventStore, NewEvent } from "./store/event-store.js";

export interface HandleOptions {
  /** Routing facts written with every event of this command. */
  unitId?: string;
  mandantId?: string;
  correlationId?: string;
  causationId?: string;
  /** When the decision is taken (the command's time); defaults to now. */
  occurredAt?: Date;
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
  constructor(
    private readonly store: EventStore,
    private readonly decider: Decider<S, C, E>,
    private readonly maxAttempts = 5,
  ) {}

  async load(streamId: string): Promise<{ state: S; version: number }> {
    const { version, events } = await this.store.readStream(streamId);
    return { state: fold(this.decider, events.map((e) => ({ type: e.type, data: e.data }) as E)), version };
  }

  async handle(streamId: string, command: C, opts: HandleOptions = {}): Promise<HandleResult<S>> {
    for (let attempt = 1; ; attempt++) {
      const { state, version } = await this.load(streamId);
      const decided = this.decider.decide(command, state);
      const events: NewEvent[] = decided.map((e) => ({
        type: e.type,
        data: e.data,
        unitId: opts.unitId,
        mandantId: opts.mandantId,
        correlationId: opts.correlationId,
        causationId: opts.causationId,
      }));
      try {
        const result = await this.store.append(streamId, version, events, opts.occurredAt);
        return { ...result, state: decided.reduce(this.decider.evolve, state) };
      } catch (e) {
        if (!(e instanceof VersionConflictError) || attempt >= this.maxAttempts) throw e;
        // Back off a little, with jitter, so racing writers do not collide in lockstep.
        await new Promise((r) => setTimeout(r, Math.random() * 5 * attempt));
      }
    }
  }
}
