import assert from "node:assert/strict";
import { fold, type Decider } from "./decider.js";
import { DomainError } from "./errors.js";

/**
 * given/when/then specifications for deciders:
 *   spec(decider).given([...events]).when(command).then([...events])
 *   spec(decider).given([...]).when(command).thenThrows("KT_LIMIT_REACHED")
 */
export function spec<S, C, E>(decider: Decider<S, C, E>) {
  return {
    given(events: E[]) {
      const state = fold(decider, events);
      return {
        when(command: C) {
          return {
            then(expected: E[]): void {
              assert.deepEqual(decider.decide(command, state), expected);
            },
            thenThrows(code: string, details?: Record<string, string>): DomainError {
              let caught: unknown;
              try {
                decider.decide(command, state);
              } catch (e) {
                caught = e;
              }
              assert.ok(caught instanceof DomainError, `expected DomainError ${code}, got ${caught === undefined ? "no error" : String(caught)}`);
              assert.equal(caught.code, code);
              if (details) for (const [k, v] of Object.entries(details)) assert.equal(caught.details[k], v, `detail ${k}`);
              return caught;
            },
          };
        },
      };
    },
  };
}
