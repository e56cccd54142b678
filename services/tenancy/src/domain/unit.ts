import type { KeyObject } from "node:crypto";
import { DomainError, type Decider } from "@tigw/platform";
import { mustSupersede, verifyLicence, type LicenceFile } from "./licence.js";
import type { Profile } from "./profiles.js";
import { check, checkName, checkProductionDate } from "./validation.js";

/**
 * The Unit aggregate: one Konnektor instance of the fleet. It owns the counts that must hold
 * under concurrency (Mandanten per unit, KT slots per compute unit), so one stream decides them.
 */
export type UnitLifecycle = "provisioned" | "active" | "blocked" | "decommissioned";

export interface UnitLicence {
  licenceId: string;
  ktPerComputeUnit: number;
  features: string[];
  issuedAt: string;
  source: "profile" | "file";
  keyId: string;
}

export interface MandantRecord {
  mandantId: string;
  name: string;
  bsnr: string;
  smcbIccsn: string;
  addedAt: string;
}

export interface UnitState {
  exists: boolean;
  unitId: string;
  serial: string;
  profile: string;
  computeUnits: number;
  recommendedKts: number;
  maxMandanten: number;
  firmware: string;
  producedOn: string;
  lifecycle: UnitLifecycle;
  licence: UnitLicence;
  mandanten: Record<string, MandantRecord>;
  /** ctId -> compute unit (1-based) holding its slot. */
  slots: Record<string, number>;
  createdAt: string;
  updatedAt: string;
}

export type UnitCommand =
  | {
      type: "CreateUnit";
      unitId: string;
      serial: string;
      profileName: string;
      profile: Profile | undefined;
      firmware?: string;
      producedOn?: string;
      at: string;
    }
  | { type: "ChangeUnitState"; action: "activate" | "block" | "unblock" | "decommission"; reason?: string; at: string }
  | { type: "AddMandant"; mandantId: string; name: string; bsnr?: string; smcbIccsn?: string; at: string }
  | { type: "ReserveKtSlot"; ctId: string; at: string }
  | { type: "ReleaseKtSlot"; ctId: string; at: string }
  | { type: "ImportLicence"; file: LicenceFile; vendorKeys: readonly KeyObject[]; at: string }
  /** ksr installed a release on the unit (its FirmwareInstalled event): the unit now runs it. */
  | { type: "RecordFirmware"; firmware: string; updateId: string; at: string };

type ProfileFigures = Pick<Profile, "computeUnits" | "ktPerComputeUnit" | "recommendedKts" | "maxMandanten">;

export type UnitEvent =
  | {
      type: "UnitCreated";
      data: { unitId: string; serial: string; profile: string; figures: ProfileFigures; firmware: string; producedOn: string; at: string };
    }
  | { type: "UnitActivated"; data: { unitId: string; at: string } }
  | { type: "UnitBlocked"; data: { unitId: string; reason: string; at: string } }
  | { type: "UnitUnblocked"; data: { unitId: string; at: string } }
  | { type: "UnitDecommissioned"; data: { unitId: string; reason: string; at: string } }
  | { type: "MandantAdded"; data: { unitId: string; mandantId: string; name: string; bsnr: string; smcbIccsn: string; at: string } }
  | { type: "KtSlotReserved"; data: { unitId: string; ctId: string; computeUnit: number; at: string } }
  | { type: "KtSlotReleased"; data: { unitId: string; ctId: string; computeUnit: number; at: string } }
  | {
      type: "LicenceImported";
      data: { unitId: string; licenceId: string; ktPerComputeUnit: number; features: string[]; issuedAt: string; keyId: string; at: string };
    }
  | { type: "FirmwareChanged"; data: { unitId: string; fromFirmware: string; toFirmware: string; updateId: string; at: string } };

export const initialUnitState = (): UnitState => ({
  exists: false,
  unitId: "",
  serial: "",
  profile: "",
  computeUnits: 0,
  recommendedKts: 0,
  maxMandanten: 0,
  firmware: "",
  producedOn: "",
  lifecycle: "provisioned",
  licence: { licenceId: "", ktPerComputeUnit: 0, features: [], issuedAt: "", source: "profile", keyId: "" },
  mandanten: {},
  slots: {},
  createdAt: "",
  updatedAt: "",
});

/** KT slots used per compute unit, index 0 = compute unit 1. */
export function slotsUsed(s: UnitState): number[] {
  const used = Array.from({ length: s.computeUnits }, () => 0);
  for (const cu of Object.values(s.slots)) used[cu - 1] = (used[cu - 1] ?? 0) + 1;
  return used;
}

const TRANSITIONS: Record<string, { from: UnitLifecycle[]; to: UnitLifecycle }> = {
  activate: { from: ["provisioned"], to: "active" },
  block: { from: ["provisioned", "active"], to: "blocked" },
  unblock: { from: ["blocked"], to: "active" },
  decommission: { from: ["provisioned", "active", "blocked"], to: "decommissioned" },
};

function mustExist(s: UnitState): void {
  if (!s.exists) throw new DomainError("UNIT_NOT_FOUND", "no such unit", { field: "unit" });
}

/** Mandanten and terminals can be set up on a provisioned or active unit, not a blocked or retired one. */
function mustBeUsable(s: UnitState): void {
  mustExist(s);
  if (s.lifecycle === "blocked") throw new DomainError("UNIT_BLOCKED", `unit ${s.serial} is blocked (Sperrung)`, { unitId: s.unitId, serial: s.serial });
  if (s.lifecycle === "decommissioned")
    throw new DomainError("UNIT_DECOMMISSIONED", `unit ${s.serial} is decommissioned`, { unitId: s.unitId, serial: s.serial });
}

function decide(c: UnitCommand, s: UnitState): UnitEvent[] {
  switch (c.type) {
    case "CreateUnit": {
      check("serial", c.serial);
      if (!c.profile) throw new DomainError("UNKNOWN_PROFILE", `unknown product profile "${c.profileName}"`, { field: "profile", value: c.profileName });
      const firmware = check("firmware", c.firmware || c.profile.firmware);
      const producedOn = checkProductionDate(c.producedOn || c.at.slice(0, 10), c.at.slice(0, 10));
      if (s.exists) throw new DomainError("SERIAL_EXISTS", `a unit with serial ${c.serial} exists`, { field: "serial", value: c.serial });
      const { computeUnits, ktPerComputeUnit, recommendedKts, maxMandanten } = c.profile;
      const figures = { computeUnits, ktPerComputeUnit, recommendedKts, maxMandanten };
      return [{ type: "UnitCreated", data: { unitId: c.unitId, serial: c.serial, profile: c.profile.name, figures, firmware, producedOn, at: c.at } }];
    }
    case "ChangeUnitState": {
      mustExist(s);
      const t = TRANSITIONS[c.action];
      if (!t) throw new DomainError("INVALID_ACTION", `unknown action "${c.action}" (activate, block, unblock, decommission)`, { field: "action" });
      if (s.lifecycle === t.to) return [];
      if (!t.from.includes(s.lifecycle)) {
        throw new DomainError("INVALID_STATE_TRANSITION", `cannot ${c.action} a unit that is ${s.lifecycle}`, {
          unitId: s.unitId,
          from: s.lifecycle,
          action: c.action,
        });
      }
      const base = { unitId: s.unitId, at: c.at };
      if (c.action === "activate") return [{ type: "UnitActivated", data: base }];
      if (c.action === "unblock") return [{ type: "UnitUnblocked", data: base }];
      if (c.action === "block") return [{ type: "UnitBlocked", data: { ...base, reason: c.reason ?? "" } }];
      return [{ type: "UnitDecommissioned", data: { ...base, reason: c.reason ?? "" } }];
    }
    case "AddMandant": {
      check("mandantId", c.mandantId);
      const name = checkName(c.name);
      const bsnr = c.bsnr ? check("bsnr", c.bsnr) : "";
      const smcbIccsn = c.smcbIccsn ? check("iccsn", c.smcbIccsn) : "";
      mustBeUsable(s);
      if (s.mandanten[c.mandantId])
        throw new DomainError("MANDANT_EXISTS", `Mandant ${c.mandantId} exists on unit ${s.serial}`, { field: "mandantId", value: c.mandantId });
      const n = Object.keys(s.mandanten).length;
      if (n >= s.maxMandanten) {
        throw new DomainError("MANDANT_LIMIT_REACHED", `unit ${s.serial} already hosts ${n} Mandanten, its limit is ${s.maxMandanten}`, {
          unitId: s.unitId,
          serial: s.serial,
          limit: String(s.maxMandanten),
        });
      }
      return [{ type: "MandantAdded", data: { unitId: s.unitId, mandantId: c.mandantId, name, bsnr, smcbIccsn, at: c.at } }];
    }
    case "ReserveKtSlot": {
      check("ctId", c.ctId);
      mustBeUsable(s);
      if (s.slots[c.ctId] !== undefined) return []; // already holds a slot: reserving again is a no-op
      const used = slotsUsed(s);
      const limit = s.licence.ktPerComputeUnit;
      // The compute unit with the most free capacity; on a tie the lower index.
      let best = 0;
      for (let i = 1; i < used.length; i++) if (used[i]! < used[best]!) best = i;
      if (used[best]! >= limit) {
        throw new DomainError("KT_LIMIT_REACHED", `unit ${s.serial}: every compute unit holds its licensed ${limit} KTs`, {
          unitId: s.unitId,
          serial: s.serial,
          computeUnit: used.map((_, i) => i + 1).join(","),
          limit: String(limit),
          total: String(limit * s.computeUnits),
        });
      }
      return [{ type: "KtSlotReserved", data: { unitId: s.unitId, ctId: c.ctId, computeUnit: best + 1, at: c.at } }];
    }
    case "ReleaseKtSlot": {
      check("ctId", c.ctId);
      mustExist(s);
      const cu = s.slots[c.ctId];
      if (cu === undefined) return [];
      return [{ type: "KtSlotReleased", data: { unitId: s.unitId, ctId: c.ctId, computeUnit: cu, at: c.at } }];
    }
    case "ImportLicence": {
      mustExist(s);
      if (s.lifecycle === "decommissioned") throw new DomainError("UNIT_DECOMMISSIONED", `unit ${s.serial} is decommissioned`, { unitId: s.unitId });
      const grant = verifyLicence(c.file, c.vendorKeys, s.serial);
      if (grant.licenceId === s.licence.licenceId) return [];
      mustSupersede(grant, s.licence);
      const busiest = Math.max(0, ...slotsUsed(s));
      if (grant.ktPerComputeUnit < busiest) {
        throw new DomainError("LICENCE_BELOW_USAGE", `licence grants ${grant.ktPerComputeUnit} KTs per compute unit but one already holds ${busiest}`, {
          unitId: s.unitId,
          limit: String(grant.ktPerComputeUnit),
          used: String(busiest),
        });
      }
      const { licenceId, ktPerComputeUnit, features, issuedAt } = grant;
      return [
        { type: "LicenceImported", data: { unitId: s.unitId, licenceId, ktPerComputeUnit, features, issuedAt, keyId: c.file.signature.keyId, at: c.at } },
      ];
    }
    case "RecordFirmware": {
      const firmware = check("firmware", c.firmware);
      mustExist(s);
      // Delivered again (the consumer repeats after a crash): the unit runs it already.
      if (s.firmware === firmware) return [];
      return [{ type: "FirmwareChanged", data: { unitId: s.unitId, fromFirmware: s.firmware, toFirmware: firmware, updateId: c.updateId, at: c.at } }];
    }
  }
}

function evolve(s: UnitState, e: UnitEvent): UnitState {
  const next = { ...s, updatedAt: e.data.at };
  switch (e.type) {
    case "UnitCreated": {
      const d = e.data;
      return {
        ...next,
        exists: true,
        unitId: d.unitId,
        serial: d.serial,
        profile: d.profile,
        ...d.figures,
        firmware: d.firmware,
        producedOn: d.producedOn,
        lifecycle: "provisioned",
        licence: { licenceId: "", ktPerComputeUnit: d.figures.ktPerComputeUnit, features: [], issuedAt: d.at, source: "profile", keyId: "" },
        createdAt: d.at,
      };
    }
    case "UnitActivated":
    case "UnitUnblocked":
      return { ...next, lifecycle: "active" };
    case "UnitBlocked":
      return { ...next, lifecycle: "blocked" };
    case "UnitDecommissioned":
      return { ...next, lifecycle: "decommissioned" };
    case "MandantAdded": {
      const { mandantId, name, bsnr, smcbIccsn, at } = e.data;
      return { ...next, mandanten: { ...s.mandanten, [mandantId]: { mandantId, name, bsnr, smcbIccsn, addedAt: at } } };
    }
    case "KtSlotReserved":
      return { ...next, slots: { ...s.slots, [e.data.ctId]: e.data.computeUnit } };
    case "KtSlotReleased": {
      const slots = { ...s.slots };
      delete slots[e.data.ctId];
      return { ...next, slots };
    }
    case "LicenceImported": {
      const { licenceId, ktPerComputeUnit, features, issuedAt, keyId } = e.data;
      return { ...next, licence: { licenceId, ktPerComputeUnit, features, issuedAt, source: "file", keyId } };
    }
    case "FirmwareChanged":
      return { ...next, firmware: e.data.toFirmware };
  }
}

export const unitDecider: Decider<UnitState, UnitCommand, UnitEvent> = { decide, evolve, initialState: initialUnitState };
