import { DomainError, type Decider } from "@tigw/platform";
import { CODES } from "./package.js";
import type { ReleaseFacts } from "./release.js";
import { updates, type StepOutcome } from "./unit-firmware.js";

/**
 * TerminalFirmware: the KSR's view of one eHealth card terminal and its updates. What the
 * terminal is (model, firmware, unit, paired, connected) comes from card-terminal's events; the
 * KSR decides which update it must install and drives it through card-terminal (which shows the
 * terminal `aktualisierend` meanwhile). Only a terminal at least `gepairt` is updated; an update
 * due or planned by hand starts when the terminal connects (a terminal is only reachable then).
 */
export interface TerminalFirmwareState {
  exists: boolean;
  ctId: string;
  unitId: string;
  /** The catalogue's product of a terminal: "<vendor> <model>", e.g. "ORGA 6141 online". */
  product: string;
  firmware: string;
  paired: boolean;
  connected: boolean;
  /** UpdateID planned by hand, waiting for the terminal to connect. */
  planned: string;
  lastResult: string;
  lastMessage: string;
  updatedAt: string;
}

/** What card-terminal says the terminal is; fields not given stay as they are. */
export interface TerminalFacts {
  unitId?: string;
  product?: string;
  firmware?: string;
  paired?: boolean;
  connected?: boolean;
}

export type TerminalFirmwareCommand =
  | { type: "Observe"; ctId: string; facts: TerminalFacts; at: string }
  | { type: "PlanUpdate"; release: Pick<ReleaseFacts, "updateId" | "product" | "fwVersion">; at: string }
  | {
      type: "RecordTerminalUpdate";
      release: Pick<ReleaseFacts, "updateId" | "fwVersion">;
      /** The package's verification (4181, 4183, 4185) before anything reaches the terminal. */
      verification: StepOutcome;
      /** The terminal's apply as card-terminal reported it (4184: it keeps its firmware). */
      apply: StepOutcome;
      at: string;
    };

type Base = { ctId: string; unitId: string; at: string };
export type TerminalFirmwareEvent =
  | { type: "TerminalObserved"; data: Base & Required<Omit<TerminalFacts, "unitId">> }
  | { type: "TerminalUpdatePlanned"; data: Base & { updateId: string; version: string } }
  | { type: "TerminalUpdateVerified"; data: Base & { updateId: string; version: string } }
  /** KSR/UPDATE/END for a terminal. */
  | { type: "TerminalFirmwareInstalled"; data: Base & { updateId: string; fromVersion: string; toVersion: string } }
  /** KSR/ERROR for a terminal. */
  | { type: "TerminalUpdateFailed"; data: Base & { updateId: string; version: string; step: "verify" | "apply"; code: string; message: string } };

export const initialTerminalFirmware = (): TerminalFirmwareState => ({
  exists: false,
  ctId: "",
  unitId: "",
  product: "",
  firmware: "",
  paired: false,
  connected: false,
  planned: "",
  lastResult: "",
  lastMessage: "",
  updatedAt: "",
});

/** The terminal as `updates()` of unit-firmware sees a unit: product and firmware. */
export const asDevice = (s: TerminalFirmwareState) => ({ product: s.product, firmware: s.firmware });

function decide(c: TerminalFirmwareCommand, s: TerminalFirmwareState): TerminalFirmwareEvent[] {
  if (c.type === "Observe") {
    const next = {
      unitId: c.facts.unitId ?? s.unitId,
      product: c.facts.product ?? s.product,
      firmware: c.facts.firmware ?? s.firmware,
      paired: c.facts.paired ?? s.paired,
      connected: c.facts.connected ?? s.connected,
    };
    // Redelivered or repeated facts change nothing and record nothing.
    if (s.exists && (Object.keys(next) as (keyof typeof next)[]).every((k) => next[k] === s[k])) return [];
    return [{ type: "TerminalObserved", data: { ctId: c.ctId, ...next, at: c.at } }];
  }
  if (!s.exists) throw new DomainError("TERMINAL_NOT_FOUND", "the KSR does not know this card terminal", { field: "ctId" });
  const base = { ctId: s.ctId, unitId: s.unitId, at: c.at };
  switch (c.type) {
    case "PlanUpdate": {
      // gemSpec_Kon / KSR: only a terminal that is at least gepairt can be updated.
      if (!s.paired)
        throw new DomainError("TERMINAL_NOT_PAIRED", `terminal ${s.ctId} is not paired with a Konnektor: pair it before updating its firmware`, {
          ctId: s.ctId,
        });
      if (!updates(asDevice(s), c.release))
        throw new DomainError("VERSION_NOT_NEWER", `terminal ${s.ctId} (${s.product}) runs ${s.firmware}; ${c.release.fwVersion} does not update it`, {
          ctId: s.ctId,
          field: "version",
        });
      if (s.planned === c.release.updateId) return [];
      return [{ type: "TerminalUpdatePlanned", data: { ...base, updateId: c.release.updateId, version: c.release.fwVersion } }];
    }
    case "RecordTerminalUpdate": {
      const { updateId, fwVersion } = c.release;
      const failed = (step: "verify" | "apply", code: string, message: string): TerminalFirmwareEvent => ({
        type: "TerminalUpdateFailed",
        data: { ...base, updateId, version: fwVersion, step, code, message },
      });
      if (!c.verification.ok) return [failed("verify", c.verification.code, c.verification.message)];
      if (!s.paired) throw new DomainError("TERMINAL_NOT_PAIRED", `terminal ${s.ctId} is not paired with a Konnektor`, { ctId: s.ctId });
      const verified: TerminalFirmwareEvent = { type: "TerminalUpdateVerified", data: { ...base, updateId, version: fwVersion } };
      // 4184: the terminal could not apply it and keeps the version it ran.
      if (!c.apply.ok) return [verified, failed("apply", CODES.apply, c.apply.message)];
      return [verified, { type: "TerminalFirmwareInstalled", data: { ...base, updateId, fromVersion: s.firmware, toVersion: fwVersion } }];
    }
  }
}

function evolve(s: TerminalFirmwareState, e: TerminalFirmwareEvent): TerminalFirmwareState {
  const next = { ...s, updatedAt: e.data.at };
  switch (e.type) {
    case "TerminalObserved": {
      const { ctId, unitId, product, firmware, paired, connected } = e.data;
      return { ...next, exists: true, ctId, unitId, product, firmware, paired, connected };
    }
    case "TerminalUpdatePlanned":
      return { ...next, planned: e.data.updateId };
    case "TerminalUpdateVerified":
      return next;
    case "TerminalFirmwareInstalled":
      return {
        ...next,
        firmware: e.data.toVersion,
        planned: "",
        lastResult: "OK",
        lastMessage: `${e.data.fromVersion} -> ${e.data.toVersion} (${e.data.updateId})`,
      };
    case "TerminalUpdateFailed":
      // A refused package is not tried again on the next connect until planned again.
      return { ...next, planned: "", lastResult: e.data.code, lastMessage: e.data.message };
  }
}

export const terminalFirmwareDecider: Decider<TerminalFirmwareState, TerminalFirmwareCommand, TerminalFirmwareEvent> = {
  initialState: initialTerminalFirmware,
  decide,
  evolve,
};
