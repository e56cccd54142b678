import { DomainError, type Decider } from "@tigw/platform";
import { compareVersions, sameVersion } from "./catalogue.js";
import { CODES } from "./package.js";
import type { ReleaseFacts } from "./release.js";
import { DEFAULT_WINDOW, germanDay, parseWindow } from "./window.js";

/**
 * UnitFirmware: what one unit runs and how it updates. The Konnektor settings of the KSR
 * (MGM_KSR_AUTODOWNLOAD, MGM_KSR_AUTO_UPDATE, MGM_KSR_AUTO_UPDATE_TIME) with their defaults (on,
 * on, Monday 01:00), the package it downloaded, the windows it used or missed, and every step of
 * an update: downloaded, verified, installed (KSR/UPDATE/END) or failed (KSR/ERROR, 4181-4185),
 * rolled back after a failed apply. The application performs download, verification and apply;
 * their outcomes arrive here as facts with the time.
 */
export interface UpdateSettings {
  autoDownload: boolean;
  autoUpdate: boolean;
  window: string;
}

export const DEFAULT_SETTINGS = (): UpdateSettings => ({ autoDownload: true, autoUpdate: true, window: DEFAULT_WINDOW });

export interface UnitFirmwareState {
  exists: boolean;
  unitId: string;
  serial: string;
  product: string;
  /** The firmware version the unit runs (e.g. 5.50.3:2.0.0). */
  firmware: string;
  settings: UpdateSettings;
  /** The Konnektor is switched off (Netzschalter, seed 000): its windows pass unused. */
  switchedOff: boolean;
  /** UpdateID of the package downloaded and waiting for its window. */
  downloaded: string;
  /** The last window occurrence that was used or missed (RFC 3339): none is used twice. */
  lastWindow: string;
  lastResult: string;
  lastMessage: string;
  updatedAt: string;
}

/** auto: in the window; manual: online by hand; offline: an uploaded package. */
export type Trigger = "auto" | "manual" | "offline";

/** A failed step: download (4182) or verification (4181, 4183, 4185) as the application saw it. */
export type StepOutcome = { ok: true } | { ok: false; code: string; message: string };

export type UnitFirmwareCommand =
  | { type: "Enrol"; unitId: string; serial: string; product: string; firmware: string; at: string }
  | { type: "ChangeSettings"; autoDownload?: boolean; autoUpdate?: boolean; window?: string; at: string }
  | { type: "SwitchOff"; at: string }
  | { type: "SwitchOn"; at: string }
  | { type: "RecordDownload"; release: ReleaseFacts; outcome: StepOutcome; at: string }
  /** The scheduler reached a window occurrence; `due` is the release the unit must install, if any. */
  | {
      type: "ReachWindow";
      occurrence: string;
      due: ReleaseFacts | undefined;
      /** A release with afterTerminals: the unit's terminals that still have to update first. */
      terminalsPending?: string[];
      at: string;
    }
  | {
      type: "RecordInstall";
      trigger: Trigger;
      /** The release the package claims (after a refused verification: the one asked for). */
      release: Pick<ReleaseFacts, "updateId" | "fwVersion">;
      verification: StepOutcome;
      apply: StepOutcome;
      at: string;
    };

type Base = { unitId: string; at: string };
export type UnitFirmwareEvent =
  | { type: "UnitEnrolled"; data: Base & { serial: string; product: string; firmware: string; settings: UpdateSettings } }
  | { type: "UpdateSettingsChanged"; data: Base & UpdateSettings }
  | { type: "KonnektorSwitchedOff"; data: Base }
  | { type: "KonnektorSwitchedOn"; data: Base }
  | { type: "UpdateDownloaded"; data: Base & { updateId: string; version: string } }
  | { type: "UpdateWindowOpened"; data: Base & { occurrence: string; updateId: string } }
  | { type: "UpdateWindowMissed"; data: Base & { occurrence: string; updateId: string; reason: string } }
  | { type: "UpdateVerified"; data: Base & { updateId: string; version: string } }
  /** KSR/UPDATE/END */
  | { type: "FirmwareInstalled"; data: Base & { updateId: string; fromVersion: string; toVersion: string; trigger: Trigger } }
  /** KSR/ERROR */
  | {
      type: "UpdateFailed";
      data: Base & { updateId: string; version: string; step: "download" | "verify" | "apply"; code: string; message: string; trigger: Trigger };
    }
  | { type: "UpdateRolledBack"; data: Base & { updateId: string; version: string } };

export const initialUnitFirmware = (): UnitFirmwareState => ({
  exists: false,
  unitId: "",
  serial: "",
  product: "",
  firmware: "",
  settings: DEFAULT_SETTINGS(),
  switchedOff: false,
  downloaded: "",
  lastWindow: "",
  lastResult: "",
  lastMessage: "",
  updatedAt: "",
});

function mustExist(s: UnitFirmwareState): void {
  if (!s.exists) throw new DomainError("UNIT_NOT_FOUND", "the KSR does not know this unit", { field: "unit" });
}

/** Does this release update this unit (its product, a newer version)? */
export function updates(s: Pick<UnitFirmwareState, "product" | "firmware">, r: Pick<ReleaseFacts, "product" | "fwVersion">): boolean {
  return r.product === s.product && !sameVersion(r.fwVersion, s.firmware) && compareVersions(r.fwVersion, s.firmware) > 0;
}

function decide(c: UnitFirmwareCommand, s: UnitFirmwareState): UnitFirmwareEvent[] {
  switch (c.type) {
    case "Enrol":
      if (s.exists) return [];
      return [
        {
          type: "UnitEnrolled",
          data: { unitId: c.unitId, serial: c.serial, product: c.product, firmware: c.firmware, settings: DEFAULT_SETTINGS(), at: c.at },
        },
      ];
    case "ChangeSettings": {
      mustExist(s);
      if (c.window !== undefined) parseWindow(c.window);
      const next = {
        autoDownload: c.autoDownload ?? s.settings.autoDownload,
        autoUpdate: c.autoUpdate ?? s.settings.autoUpdate,
        window: c.window ?? s.settings.window,
      };
      if (JSON.stringify(next) === JSON.stringify(s.settings)) return [];
      return [{ type: "UpdateSettingsChanged", data: { unitId: s.unitId, ...next, at: c.at } }];
    }
    case "SwitchOff":
      mustExist(s);
      return s.switchedOff ? [] : [{ type: "KonnektorSwitchedOff", data: { unitId: s.unitId, at: c.at } }];
    case "SwitchOn":
      mustExist(s);
      return s.switchedOff ? [{ type: "KonnektorSwitchedOn", data: { unitId: s.unitId, at: c.at } }] : [];
    case "RecordDownload": {
      mustExist(s);
      const r = c.release;
      if (!updates(s, r) || s.downloaded === r.updateId) return [];
      if (!c.outcome.ok)
        return [
          {
            type: "UpdateFailed",
            data: {
              unitId: s.unitId,
              updateId: r.updateId,
              version: r.fwVersion,
              step: "download",
              code: CODES.download,
              message: c.outcome.message,
              trigger: "auto",
              at: c.at,
            },
          },
        ];
      return [{ type: "UpdateDownloaded", data: { unitId: s.unitId, updateId: r.updateId, version: r.fwVersion, at: c.at } }];
    }
    case "ReachWindow": {
      mustExist(s);
      const due = c.due;
      if (s.lastWindow && c.occurrence <= s.lastWindow) return []; // used or missed already
      // Auto-update off: the window does nothing (the compliance view flags the unit).
      if (!due || !s.settings.autoUpdate || !updates(s, due)) return [];
      // Units install from the start date on (a German calendar day), never before.
      if (germanDay(c.occurrence) < due.startDate) return [];
      if (s.switchedOff)
        return [
          {
            type: "UpdateWindowMissed",
            data: { unitId: s.unitId, occurrence: c.occurrence, updateId: due.updateId, reason: "the Konnektor was switched off", at: c.at },
          },
        ];
      if (due.afterTerminals && c.terminalsPending?.length)
        return [
          {
            type: "UpdateWindowMissed",
            data: {
              unitId: s.unitId,
              occurrence: c.occurrence,
              updateId: due.updateId,
              reason: `the card terminals update first: ${c.terminalsPending.join(", ")}`,
              at: c.at,
            },
          },
        ];
      return [{ type: "UpdateWindowOpened", data: { unitId: s.unitId, occurrence: c.occurrence, updateId: due.updateId, at: c.at } }];
    }
    case "RecordInstall": {
      mustExist(s);
      if (s.switchedOff) throw new DomainError("KONNEKTOR_SWITCHED_OFF", `unit ${s.serial} is switched off: switch it on to update`, { unitId: s.unitId });
      const { updateId, fwVersion } = c.release;
      const failed = (step: "verify" | "apply", code: string, message: string): UnitFirmwareEvent => ({
        type: "UpdateFailed",
        data: { unitId: s.unitId, updateId, version: fwVersion, step, code, message, trigger: c.trigger, at: c.at },
      });
      if (!c.verification.ok) return [failed("verify", c.verification.code, c.verification.message)];
      if (!updates(s, { product: s.product, fwVersion }))
        throw new DomainError("VERSION_NOT_NEWER", `unit ${s.serial} runs ${s.firmware}; ${fwVersion} is not newer`, { unitId: s.unitId, field: "version" });
      const verified: UnitFirmwareEvent = { type: "UpdateVerified", data: { unitId: s.unitId, updateId, version: fwVersion, at: c.at } };
      if (!c.apply.ok)
        // 4184: the apply failed; the Konnektor returns to the version it ran and keeps working.
        return [
          verified,
          failed("apply", CODES.apply, c.apply.message),
          { type: "UpdateRolledBack", data: { unitId: s.unitId, updateId, version: s.firmware, at: c.at } },
        ];
      return [
        verified,
        { type: "FirmwareInstalled", data: { unitId: s.unitId, updateId, fromVersion: s.firmware, toVersion: fwVersion, trigger: c.trigger, at: c.at } },
      ];
    }
  }
}

function evolve(s: UnitFirmwareState, e: UnitFirmwareEvent): UnitFirmwareState {
  const next = { ...s, updatedAt: e.data.at };
  switch (e.type) {
    case "UnitEnrolled": {
      const { unitId, serial, product, firmware, settings } = e.data;
      return { ...next, exists: true, unitId, serial, product, firmware, settings };
    }
    case "UpdateSettingsChanged":
      return { ...next, settings: { autoDownload: e.data.autoDownload, autoUpdate: e.data.autoUpdate, window: e.data.window } };
    case "KonnektorSwitchedOff":
      return { ...next, switchedOff: true };
    case "KonnektorSwitchedOn":
      return { ...next, switchedOff: false };
    case "UpdateDownloaded":
      return { ...next, downloaded: e.data.updateId };
    case "UpdateWindowOpened":
      return { ...next, lastWindow: e.data.occurrence };
    case "UpdateWindowMissed":
      return { ...next, lastWindow: e.data.occurrence, lastResult: "MISSED", lastMessage: `window ${e.data.occurrence} missed: ${e.data.reason}` };
    case "UpdateVerified":
      return next;
    case "FirmwareInstalled":
      return {
        ...next,
        firmware: e.data.toVersion,
        downloaded: "",
        lastResult: "OK",
        lastMessage: `${e.data.fromVersion} -> ${e.data.toVersion} (${e.data.updateId})`,
      };
    case "UpdateFailed":
      // A package that failed its download or verification is not kept.
      return { ...next, downloaded: e.data.step === "apply" ? s.downloaded : "", lastResult: e.data.code, lastMessage: e.data.message };
    case "UpdateRolledBack":
      return { ...next, firmware: e.data.version };
  }
}

export const unitFirmwareDecider: Decider<UnitFirmwareState, UnitFirmwareCommand, UnitFirmwareEvent> = {
  initialState: initialUnitFirmware,
  decide,
  evolve,
};
