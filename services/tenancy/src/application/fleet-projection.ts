import { DocumentProjection } from "@tigw/platform";
import { initialUnitState, unitDecider, type UnitEvent, type UnitState } from "../domain/unit.js";

/**
 * Read model of the fleet: one row per unit holding the unit's state, folded by the decider's
 * own evolve, with serial, profile and state as columns. Rebuildable from position 0.
 */
export const fleetProjection = (schema: string) =>
  new DocumentProjection<UnitState>({
    name: "fleet",
    schema,
    table: "rm_units",
    streamPrefix: "unit",
    initial: initialUnitState,
    evolve: (s, e) => unitDecider.evolve(s, e as UnitEvent),
    columns: { serial: (s) => s.serial, profile: (s) => s.profile, lifecycle: (s) => s.lifecycle },
  });

export type UnitView = UnitState & { version: number };
