import { describe, it } from "node:test";
import { spec } from "../src/index.js";
import { counterDecider } from "./support/counter.js";

describe("given/when/then decider specs (example counter)", () => {
  const inc = (amount: number) => ({ type: "Incremented" as const, data: { amount } });
  it("decides an increment within the limit", () => {
    spec(counterDecider).given([inc(3)]).when({ type: "Increment", amount: 2, limit: 5 }).then([inc(2)]);
  });
  it("refuses one beyond the limit, naming the limit", () => {
    spec(counterDecider).given([inc(3), inc(2)]).when({ type: "Increment", amount: 1, limit: 5 }).thenThrows("COUNTER_LIMIT_REACHED", { limit: "5", value: "5" });
  });
  it("refuses a non-positive amount", () => {
    spec(counterDecider).given([]).when({ type: "Increment", amount: 0, limit: 5 }).thenThrows("INVALID_AMOUNT", { field: "amount" });
  });
});
