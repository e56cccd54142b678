import { approvalOn, compareVersions, findEntry, REVOKED, type CatalogueState } from "./catalogue.js";
import { CRITICAL, type ReleaseFacts } from "./release.js";
import { updates, type UnitFirmwareState } from "./unit-firmware.js";
import { germanDay } from "./window.js";
import type { TerminalFirmwareState } from "./terminal-firmware.js";

/**
 * What the fleet's firmware means today: the release a unit must install next, the flags an
 * operator must see (worst first), and the KSR's clause of the TI-access rule: a critical update
 * past its deadline ends the unit's TI connection until it is installed. Pure; `now` comes in.
 */
export interface Compliance {
  approval: string;
  approvalDate: string;
  due: ReleaseFacts | undefined;
  flags: string[];
  tiBlockers: string[];
  /** For sorting: 3 TI access lost, 2 revoked / expired / past deadline, 1 deadline within 7 days or auto-update off, 0 fine. */
  severity: number;
}

const DAY = 86_400_000;
export const daysUntil = (day: string, now: string) => Math.round((Date.parse(`${day}T00:00:00Z`) - Date.parse(`${germanDay(now)}T00:00:00Z`)) / DAY);

/** The release to install next: of those that update the unit, the one with the earliest deadline, then the newest. */
export function dueRelease(u: Pick<UnitFirmwareState, "product" | "firmware">, releases: ReleaseFacts[]): ReleaseFacts | undefined {
  return releases.filter((r) => updates(u, r)).sort((a, b) => a.deadline.localeCompare(b.deadline) || compareVersions(b.fwVersion, a.fwVersion))[0];
}

export function tiBlockers(u: Pick<UnitFirmwareState, "product" | "firmware">, releases: ReleaseFacts[], now: string): string[] {
  const today = germanDay(now);
  return releases
    .filter((r) => r.fwPriority === CRITICAL && updates(u, r) && today >= r.deadline)
    .map((r) => `critical firmware update ${r.updateId} (${r.fwVersion}) past its deadline ${r.deadline}: install it to regain TI access`);
}

export function compliance(
  u: Pick<UnitFirmwareState, "product" | "firmware" | "settings">,
  releases: ReleaseFacts[],
  catalogue: CatalogueState,
  now: string,
): Compliance {
  const today = germanDay(now);
  const flags: string[] = [];
  let severity = 0;
  const entry = findEntry(catalogue, u.product, u.firmware);
  const approval = entry ? approvalOn(entry, today) : { approval: "unknown", date: "" };
  if (!entry) {
    flags.push(`firmware ${u.firmware} is not in the catalogue of ${u.product}`);
    severity = Math.max(severity, 1);
  } else if (approval.approval !== "zugelassen") {
    flags.push(`firmware ${u.firmware}: ${approval.approval} ${approval.approval === REVOKED ? "on" : "since"} ${approval.date}, update required`);
    severity = Math.max(severity, 2);
  }
  const due = dueRelease(u, releases);
  if (due) {
    const left = daysUntil(due.deadline, now);
    if (left <= 0) {
      flags.push(`update ${due.updateId} (${due.fwVersion}, ${due.fwPriority}) past its deadline ${due.deadline}`);
      severity = Math.max(severity, 2);
    } else if (left <= 7) {
      flags.push(`update ${due.updateId} (${due.fwVersion}, ${due.fwPriority}) due within ${left} days (deadline ${due.deadline})`);
      severity = Math.max(severity, 1);
    }
    if (!u.settings.autoUpdate) {
      flags.push(`auto-update is off: install ${due.updateId} by hand before ${due.deadline}`);
      severity = Math.max(severity, 1);
    }
  }
  const blockers = tiBlockers(u, releases, now);
  if (blockers.length) severity = 3;
  return { approval: approval.approval, approvalDate: approval.date, due, flags, tiBlockers: blockers, severity };
}

/** A terminal's firmware today: as compliance() for units; a terminal has no window, it updates on connect. */
export function terminalCompliance(
  t: Pick<TerminalFirmwareState, "product" | "firmware" | "paired">,
  releases: ReleaseFacts[],
  catalogue: CatalogueState,
  now: string,
): Compliance {
  const c = compliance({ ...t, settings: { autoDownload: true, autoUpdate: true, window: "" } }, releases, catalogue, now);
  if (c.due && !t.paired) {
    c.flags.push(`not paired: update ${c.due.updateId} cannot reach it until it is paired with a Konnektor`);
    c.severity = Math.max(c.severity, 1);
  }
  // The TI-access clause is the Konnektor's: a terminal's late update is flagged, not blocking.
  return { ...c, tiBlockers: [], severity: Math.min(c.severity, 2) };
}

/**
 * "Konnektor only after all KT updates succeeded": what a unit's terminals still have to install
 * before a release with afterTerminals may reach the Konnektor (empty: nothing, go ahead). A
 * terminal has to install what is due for it from its start date on.
 */
export function terminalsPending(
  terminals: Pick<TerminalFirmwareState, "ctId" | "product" | "firmware" | "paired">[],
  releases: ReleaseFacts[],
  now: string,
): string[] {
  const today = germanDay(now);
  const out: string[] = [];
  for (const t of terminals) {
    if (!t.paired) continue;
    const due = dueRelease(t, releases);
    if (due && due.startDate <= today) out.push(`${t.ctId} (${t.firmware} -> ${due.fwVersion})`);
  }
  return out;
}
