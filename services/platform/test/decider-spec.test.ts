import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { spec, type Decider } from "../src/index.js";
import { counterDecider } from "./support/counter.js";

const inc = (amount: number) => ({ type: "Incremented" as const, data: { amount } });

/** A light switch: turning it on when it is on already changes nothing (no events). */
type SwitchEvent = { type: "TurnedOn"; data: Record<string, never> };
const switchDecider: Decider<{ on: boolean }, { type: "TurnOn" }, SwitchEvent> = {
  initialState: () => ({ on: false }),
  evolve: () => ({ on: true }),
  decide: (_c, s) => (s.on ? [] : [{ type: "TurnedOn", data: {} }]),
};
const turnedOn: SwitchEvent = { type: "TurnedOn", data: {} };

describe("given/when/then decider specs (example counter)", () => {
  it("decides an increment within the limit", () => {
    spec(counterDecider)
      .given([inc(3)])
      .when({ type: "Increment", amount: 2, limit: 5 })
      .then([inc(2)]);
  });
  it("refuses one beyond the limit, naming the limit", () => {
    spec(counterDecider)
      .given([inc(3), inc(2)])
      .when({ type: "Increment", amount: 1, limit: 5 })
      .thenThrows("COUNTER_LIMIT_REACHED", { limit: "5", value: "5" });
  });
  it("refuses a non-positive amount", () => {
    spec(counterDecider).given([]).when({ type: "Increment", amount: 0, limit: 5 }).thenThrows("INVALID_AMOUNT", { field: "amount" });
  });
  it("then(callback) hands over the decided events and the state after them", () => {
    let seen: unknown;
    spec(counterDecider)
      .given([inc(3)])
      .when({ type: "Increment", amount: 2, limit: 5 })
      .then((events, after) => {
        seen = { events, after };
      });
    assert.deepEqual(seen, { events: [inc(2)], after: { value: 5 } });
  });
  it("thenNothingHappened holds for a command that changes nothing", () => {
    spec(switchDecider).given([turnedOn]).when({ type: "TurnOn" }).thenNothingHappened();
  });
});

/** The helper's own failure paths: a spec that does not hold fails, saying what happened instead. */
describe("decider specs that do not hold fail with a helpful message", () => {
  const fails = (run: () => void, message: RegExp) => assert.throws(run, (e: Error) => e instanceof assert.AssertionError && message.test(e.message));

  it("then([...]) with other events than decided", () => {
    fails(
      () =>
        spec(counterDecider)
          .given([])
          .when({ type: "Increment", amount: 2, limit: 5 })
          .then([inc(3)]),
      /decided events differ from the expected ones/,
    );
  });
  it("then([...]) when the decider refuses: names the refusal", () => {
    fails(
      () =>
        spec(counterDecider)
          .given([inc(5)])
          .when({ type: "Increment", amount: 1, limit: 5 })
          .then([inc(1)]),
      /expected .*amount: 1.*, but decide threw DomainError COUNTER_LIMIT_REACHED \(counter would exceed its limit 5\)/s,
    );
  });
  it("then(callback) when the decider refuses: the callback is not called", () => {
    let called = false;
    fails(
      () =>
        spec(counterDecider)
          .given([])
          .when({ type: "Increment", amount: -1, limit: 5 })
          .then(() => {
            called = true;
          }),
      /expected events, but decide threw DomainError INVALID_AMOUNT/,
    );
    assert.equal(called, false);
  });
  it("then(callback): the callback's own assertion fails the spec", () => {
    fails(
      () =>
        spec(counterDecider)
          .given([])
          .when({ type: "Increment", amount: 2, limit: 5 })
          .then((_events, after) => assert.equal(after.value, 3, "value after the increment")),
      /value after the increment/,
    );
  });
  it("thenNothingHappened when events were decided: lists them", () => {
    fails(
      () => spec(switchDecider).given([]).when({ type: "TurnOn" }).thenNothingHappened(),
      /expected no events, but decide decided \[ \{ type: 'TurnedOn', data: \{\} \} \]/,
    );
  });
  it("thenNothingHappened when the decider refuses: names the refusal", () => {
    fails(
      () => spec(counterDecider).given([]).when({ type: "Increment", amount: 0, limit: 5 }).thenNothingHappened(),
      /expected no events, but decide threw DomainError INVALID_AMOUNT/,
    );
  });
  it("thenThrows when the command is accepted: lists the decided events", () => {
    fails(
      () => spec(counterDecider).given([]).when({ type: "Increment", amount: 1, limit: 5 }).thenThrows("COUNTER_LIMIT_REACHED"),
      /expected DomainError COUNTER_LIMIT_REACHED, got no error \(decided \[ \{ type: 'Incremented', data: \{ amount: 1 \} \} \]\)/,
    );
  });
  it("thenThrows with another code: names both", () => {
    fails(
      () => spec(counterDecider).given([]).when({ type: "Increment", amount: 0, limit: 5 }).thenThrows("COUNTER_LIMIT_REACHED"),
      /expected DomainError COUNTER_LIMIT_REACHED, got DomainError INVALID_AMOUNT/,
    );
  });
  it("thenThrows with another detail: names the detail", () => {
    fails(
      () =>
        spec(counterDecider)
          .given([inc(5)])
          .when({ type: "Increment", amount: 1, limit: 5 })
          .thenThrows("COUNTER_LIMIT_REACHED", { limit: "6" }),
      /detail limit of COUNTER_LIMIT_REACHED/,
    );
  });
  it("thenThrows when something other than a DomainError is thrown (a bug in the decider)", () => {
    const broken: Decider<object, object, never> = {
      initialState: () => ({}),
      evolve: (s) => s,
      decide: () => {
        throw new TypeError("cannot read x of undefined");
      },
    };
    fails(() => spec(broken).given([]).when({}).thenThrows("ANY"), /expected DomainError ANY, got TypeError: cannot read x of undefined/);
  });
});
