import assert from "node:assert/strict";
import { inspect } from "node:util";
import { fold, type Decider } from "./decider.js";
import { DomainError } from "./errors.js";

/**
 * given/when/then specifications for deciders:
 *   spec(decider).given([...events]).when(command).then([...events])
 *   spec(decider).given([...events]).when(command).then((events, state) => { ...asserts })
 *   spec(decider).given([...events]).when(command).thenNothingHappened()
 *   spec(decider).given([...]).when(command).thenThrows("KT_LIMIT_REACHED")
 * A spec that does not hold fails with an AssertionError saying what was expected and what the
 * decider did instead (the events it decided, or the error it threw).
 */
export function spec<S, C, E>(decider: Decider<S, C, E>) {
  return {
    given(events: E[]) {
      const state = fold(decider, events);
      return {
        when(command: C) {
          /** The decided events; a refusal where events were expected fails the spec, naming the refusal. */
          const decided = (expected: string): E[] => {
            try {
              return decider.decide(command, state);
            } catch (e) {
              const what = e instanceof DomainError ? `DomainError ${e.code} (${e.message})` : inspect(e);
              assert.fail(`expected ${expected}, but decide threw ${what}`);
            }
          };
          return {
            /** The decided events equal `expected`, or `check(events, stateAfter)` passes. */
            then(expected: E[] | ((events: E[], stateAfter: S) => void)): void {
              if (typeof expected === "function") {
                const events = decided("events");
                expected(
                  events,
                  events.reduce((s, e) => decider.evolve(s, e), state),
                );
                return;
              }
              assert.deepEqual(decided(inspect(expected, { depth: 6 })), expected, "the decided events differ from the expected ones");
            },
            /** The command is accepted and changes nothing (an idempotent repeat, say). */
            thenNothingHappened(): void {
              const events = decided("no events");
              assert.ok(events.length === 0, `expected no events, but decide decided ${inspect(events, { depth: 6 })}`);
            },
            thenThrows(code: string, details?: Record<string, string>): DomainError {
              let caught: unknown;
              let events: E[] | undefined;
              try {
                events = decider.decide(command, state);
              } catch (e) {
                caught = e;
              }
              const got =
                caught === undefined
                  ? `no error (decided ${inspect(events, { depth: 6 })})`
                  : caught instanceof DomainError
                    ? `DomainError ${caught.code} (${caught.message})`
                    : inspect(caught);
              assert.ok(caught instanceof DomainError, `expected DomainError ${code}, got ${got}`);
              assert.equal(caught.code, code, `expected DomainError ${code}, got ${got}`);
              if (details) for (const [k, v] of Object.entries(details)) assert.equal(caught.details[k], v, `detail ${k} of ${code}`);
              return caught;
            },
          };
        },
      };
    },
  };
}
