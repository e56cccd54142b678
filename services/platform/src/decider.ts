/**
 * Decider (after Jérémie Chassaing and Emmett): the pure core of an aggregate.
 * decide() turns a command and the current state into new events or throws a DomainError;
 * evolve() folds an event into the state. No I/O and no clock: time arrives with the command.
 */
export interface Decider<State, Command, Event> {
  decide(command: Command, state: State): Event[];
  evolve(state: State, event: Event): State;
  initialState(): State;
}

/** A domain event as deciders produce it: a type tag plus JSON-serialisable data. */
export interface DomainEvent<Type extends string = string, Data = unknown> {
  type: Type;
  data: Data;
}

export function fold<S, C, E>(decider: Decider<S, C, E>, events: Iterable<E>): S {
  let state = decider.initialState();
  for (const e of events) state = decider.evolve(state, e);
  return state;
}
