import { DomainError, ValidationError, type Decider } from "@tigw/platform";

/**
 * InstanceBindings: which practice account each Mandant of one unit (Konnektor instance) belongs
 * to, the fixed Mandant-to-instance mapping of the TI-Gateway seen from the practices. One
 * aggregate per unit owns the rule "a Mandant belongs to at most one account", so it holds when
 * two operators bind at once (the second append meets a version conflict and is decided again).
 */
export interface Binding {
  mandantId: string;
  account: string;
  boundAt: string;
}

export interface InstanceBindingsState {
  exists: boolean;
  unitId: string;
  serial: string;
  bindings: Binding[];
  updatedAt: string;
}

export type InstanceBindingsCommand =
  /** mandantKnown: whether the unit has this Mandant (tenancy's fact, read by the application). */
  | { type: "BindPractice"; unitId: string; serial: string; mandantId: string; mandantKnown: boolean; account: string; by: string; at: string }
  | { type: "UnbindPractice"; mandantId: string; account: string; by: string; at: string };

export type InstanceBindingsEvent =
  | { type: "PracticeBound"; data: { unitId: string; serial: string; mandantId: string; account: string; by: string; at: string } }
  | { type: "PracticeUnbound"; data: { unitId: string; mandantId: string; account: string; by: string; at: string } };

export const initialInstanceBindings = (): InstanceBindingsState => ({ exists: false, unitId: "", serial: "", bindings: [], updatedAt: "" });

function decide(c: InstanceBindingsCommand, s: InstanceBindingsState): InstanceBindingsEvent[] {
  switch (c.type) {
    case "BindPractice": {
      if (!c.mandantId) throw new ValidationError("INVALID_REQUEST", "mandantId", "mandantId is required");
      if (!c.mandantKnown) throw new DomainError("MANDANT_NOT_FOUND", `unit ${c.serial} has no Mandant ${c.mandantId}`, { field: "mandantId", unit: c.serial });
      const current = s.bindings.find((b) => b.mandantId === c.mandantId);
      if (current?.account === c.account) return [];
      if (current)
        throw new DomainError("MANDANT_ALREADY_BOUND", `Mandant ${c.mandantId} of unit ${c.serial} belongs to another practice account: unbind it first`, {
          field: "mandantId",
          unit: c.serial,
        });
      return [{ type: "PracticeBound", data: { unitId: c.unitId, serial: c.serial, mandantId: c.mandantId, account: c.account, by: c.by, at: c.at } }];
    }
    case "UnbindPractice": {
      const current = s.bindings.find((b) => b.mandantId === c.mandantId);
      if (!current || current.account !== c.account) return [];
      return [{ type: "PracticeUnbound", data: { unitId: s.unitId, mandantId: c.mandantId, account: c.account, by: c.by, at: c.at } }];
    }
  }
}

function evolve(s: InstanceBindingsState, e: InstanceBindingsEvent): InstanceBindingsState {
  switch (e.type) {
    case "PracticeBound":
      return {
        exists: true,
        unitId: e.data.unitId,
        serial: e.data.serial,
        bindings: [...s.bindings, { mandantId: e.data.mandantId, account: e.data.account, boundAt: e.data.at }],
        updatedAt: e.data.at,
      };
    case "PracticeUnbound":
      return { ...s, bindings: s.bindings.filter((b) => b.mandantId !== e.data.mandantId), updatedAt: e.data.at };
  }
}

export const instanceBindingsDecider: Decider<InstanceBindingsState, InstanceBindingsCommand, InstanceBindingsEvent> = {
  initialState: initialInstanceBindings,
  decide,
  evolve,
};
