import { DomainError, type Decider } from "../../src/index.js";

/** The platform's tiny example aggregate: a counter with a limit. */
export type CounterEvent = { type: "Incremented"; data: { amount: number } };
export type CounterCommand = { type: "Increment"; amount: number; limit: number };
export interface CounterState {
  value: number;
}

export const counterDecider: Decider<CounterState, CounterCommand, CounterEvent> = {
  initialState: () => ({ value: 0 }),
  evolve: (s, e) => ({ value: s.value + e.data.amount }),
  decide(c, s) {
    if (c.amount <= 0) throw new DomainError("INVALID_AMOUNT", `amount must be positive, got ${c.amount}`, { field: "amount" });
    if (s.value + c.amount > c.limit)
      throw new DomainError("COUNTER_LIMIT_REACHED", `counter would exceed its limit ${c.limit}`, { limit: String(c.limit), value: String(s.value) });
    return [{ type: "Incremented", data: { amount: c.amount } }];
  },
};
