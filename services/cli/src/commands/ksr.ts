import type { Release, TerminalFirmware, UnitFirmware, FirmwareVersion } from "@tigw/contracts/ksr/v1/ksr";
import { readFileSync, writeFileSync } from "node:fs";
import type { Api } from "../client.js";
import { fields, table } from "../output.js";
import { type CommandGroup, type Options, need, UsageError, unitPath } from "./command.js";

/**
 * tigw ksr ... (catalogue, releases, publish, scheduler), tigw fleet firmware, and the unit's
 * firmware verbs (tigw unit firmware|update|update-settings): the KSR of the fleet.
 */
export const KSR_USAGE = `  tigw ksr catalogue [--product P]        firmware versions with approval (zugelassen, widerrufen, abgelaufen)
  tigw ksr releases                       releases: UpdateID, version, priority, start date, deadline
  tigw ksr publish --update-id ID --product rz|einbox --version V --priority Normal|Kritisch
        --start YYYY-MM-DD --deadline YYYY-MM-DD [--notes T] [--approved-until YYYY-MM-DD]
        [--after-terminals]               sign (KSR C.FD.SIG in hsm) and publish a release; a card-terminal
                                          release names its model as product ("ORGA 6141 online");
                                          --after-terminals: the Konnektor only after all its KTs updated
  tigw ksr export UPDATE_ID --password P --out FILE   offline package, encrypted with the technicians' password
  tigw ksr run                            run the update scheduler up to the (simulated) now`;

export const UNIT_FIRMWARE_USAGE = `  tigw unit firmware UNIT                 firmware, approval, KSR settings, update due, next window
  tigw unit update UNIT [--version V] | [--offline FILE --password P]
                                          manual update now, online or from an offline package (refusals: 4181-4185)
  tigw unit update-settings UNIT [--window "Mon 01:00"] [--auto on|off] [--auto-download on|off]`;

export const FLEET_FIRMWARE_USAGE = `  tigw fleet firmware                     units and card terminals on revoked or expired firmware, updates due, worst first`;

export const KT_FIRMWARE_USAGE = `  tigw kt firmware [--unit U]             card terminals' firmware, approval, update due or planned
  tigw kt update KT [--version V]         update a paired terminal: now when connected, else when it connects`;

function terminalFirmwareRows(ts: TerminalFirmware[]): string {
  return table(
    ["CT-ID", "PRODUCT", "FIRMWARE", "APPROVAL", "UPDATE DUE", "DEADLINE", "STATE", "FLAGS"],
    ts.map((t) => [
      t.ctId,
      t.product || "-",
      t.version || "-",
      `${t.approval}${t.approvalDate ? ` ${t.approvalDate}` : ""}`,
      t.plannedUpdateId ? `${t.plannedUpdateId} (planned)` : t.dueUpdateId ? `${t.dueVersion} (${t.duePriority})` : "-",
      t.dueDeadline || "-",
      `${t.paired ? "paired" : "not paired"}${t.connected ? ", connected" : ""}`,
      [...t.flags, ...(t.lastResult && t.lastResult !== "OK" ? [`last: ${t.lastResult} ${t.lastMessage}`] : [])].join("; ") || "-",
    ]),
  );
}

/** tigw kt firmware | update: the terminals' part of the KSR. */
export async function terminalFirmwareVerb(
  verb: string,
  ct: string | undefined,
  o: Options,
  api: Api,
  show: (d: unknown, h: () => string) => void,
): Promise<number> {
  if (verb === "firmware") {
    const r = await api.get<{ terminals: TerminalFirmware[] }>(`/api/v1/fleet/firmware/terminals${o.unit ? `?unit=${encodeURIComponent(o.unit)}` : ""}`);
    show(r, () => (r.terminals.length ? terminalFirmwareRows(r.terminals) : "the KSR knows no card terminals yet"));
    return 0;
  }
  const id = need(ct, "KT");
  const t = await api.post<TerminalFirmware>(`/api/v1/terminals/${encodeURIComponent(id)}/firmware/update`, { version: o.version ?? "" });
  show(t, () =>
    t.lastResult === "OK" && !t.plannedUpdateId
      ? `terminal ${t.ctId} runs ${t.version} (${t.lastMessage})`
      : `update ${t.plannedUpdateId} planned for terminal ${t.ctId} (${t.product} ${t.version}): it starts when the terminal connects`,
  );
  return 0;
}

const onOff = (v: string | undefined, flag: string): boolean | undefined => {
  if (v === undefined) return undefined;
  if (v !== "on" && v !== "off") throw new UsageError(`${flag} is on or off, not ${v}`);
  return v === "on";
};

function firmwareText(u: UnitFirmware): string {
  return fields([
    ["Unit", u.serial],
    ["Product", u.product],
    ["Firmware", u.version],
    ["Approval", `${u.approval}${u.approvalDate ? ` (${u.approvalDate})` : ""}`],
    ["Auto-download", u.settings?.autoDownload ? "on" : "off"],
    ["Auto-update", u.settings?.autoUpdate ? `on, ${u.settings.window}` : "off"],
    ["Update due", u.dueUpdateId ? `${u.dueUpdateId}: ${u.dueVersion} (${u.duePriority}) from ${u.dueStartDate}, deadline ${u.dueDeadline}` : "-"],
    ["Downloaded", u.downloadedUpdateId || "-"],
    ["Next window", u.nextWindow || "-"],
    ["Last result", u.lastResult ? `${u.lastResult} ${u.lastMessage}` : "-"],
    ["Flags", u.flags.join("; ") || "-"],
    ["TI access", u.tiBlockers.length ? `ENDED: ${u.tiBlockers.join("; ")}` : "not blocked by the KSR"],
  ]);
}

export async function unitFirmwareVerb(
  verb: string,
  unit: string | undefined,
  o: Options,
  api: Api,
  show: (d: unknown, h: () => string) => void,
): Promise<number> {
  const path = `${unitPath(unit)}/firmware`;
  let u: UnitFirmware;
  if (verb === "firmware") u = await api.get<UnitFirmware>(path);
  else if (verb === "update" && o.offline)
    u = await api.post<UnitFirmware>(`${path}/offline`, { package: readFileSync(o.offline, "utf8"), password: need(o.password, "--password") });
  else if (verb === "update") u = await api.post<UnitFirmware>(`${path}/update`, { version: o.version ?? "" });
  else {
    const body = { window: o.window, autoUpdate: onOff(o.auto, "--auto"), autoDownload: onOff(o["auto-download"], "--auto-download") };
    if (Object.values(body).every((v) => v === undefined)) throw new UsageError("name a setting: --window, --auto or --auto-download");
    u = await api.post<UnitFirmware>(`${path}/settings`, body);
  }
  show(u, () => firmwareText(u));
  return 0;
}

export async function fleetFirmware(api: Api, show: (d: unknown, h: () => string) => void): Promise<number> {
  const [units, kts] = await Promise.all([
    api.get<{ units: UnitFirmware[] }>("/api/v1/fleet/firmware"),
    // A gateway from before card-terminal updates has no such list: the units still show.
    api.get<{ terminals: TerminalFirmware[] }>("/api/v1/fleet/firmware/terminals").catch(() => ({ terminals: [] as TerminalFirmware[] })),
  ]);
  const r = { units: units.units, terminals: kts.terminals };
  show(r, () =>
    [
      table(
        ["UNIT", "FIRMWARE", "APPROVAL", "UPDATE DUE", "DEADLINE", "AUTO", "FLAGS"],
        r.units.map((u) => [
          u.serial,
          u.version,
          `${u.approval}${u.approvalDate ? ` ${u.approvalDate}` : ""}`,
          u.dueUpdateId ? `${u.dueVersion} (${u.duePriority})` : "-",
          u.dueDeadline || "-",
          u.settings?.autoUpdate ? u.settings.window : "off",
          [...u.tiBlockers.map(() => "NO TI ACCESS"), ...u.flags].join("; ") || "-",
        ]),
      ),
      ...(r.terminals.length ? ["", "CARD TERMINALS", terminalFirmwareRows(r.terminals)] : []),
    ].join("\n"),
  );
  return 0;
}

export const ksr: CommandGroup = {
  names: ["ksr"],
  usage: KSR_USAGE,
  async run({ unknown, verb, args, o, show, api }) {
    switch (verb) {
      case "catalogue": {
        const r = await api().get<{ versions: FirmwareVersion[] }>(`/api/v1/ksr/catalogue${o.product ? `?product=${encodeURIComponent(o.product)}` : ""}`);
        show(r, () =>
          table(
            ["PRODUCT", "VERSION", "PRODUKTTYP", "APPROVAL", "DATE", "NOTE", "GROUP"],
            r.versions.map((v) => [v.product, v.version, v.productType, v.approval, v.approvalDate, v.note, v.firmwareGroup]),
          ),
        );
        return 0;
      }
      case "releases": {
        const r = await api().get<{ releases: Release[] }>("/api/v1/ksr/releases");
        show(r, () =>
          r.releases.length
            ? table(
                ["UPDATE ID", "PRODUCT", "VERSION", "PRIORITY", "START", "DEADLINE", "FILES"],
                r.releases.map((x) => [x.updateId, x.product, x.fwVersion, x.fwPriority, x.startDate, x.deadline, x.files.map((f) => f.filename).join(", ")]),
              )
            : "no releases yet: tigw ksr publish ...",
        );
        return 0;
      }
      case "publish": {
        const r = await api().post<Release>("/api/v1/ksr/releases", {
          updateId: need(o["update-id"], "--update-id"),
          product: need(o.product, "--product"),
          fwVersion: need(o.version, "--version"),
          fwPriority: need(o.priority, "--priority"),
          startDate: need(o.start, "--start"),
          deadline: need(o.deadline, "--deadline"),
          releaseNotes: o.notes ?? "",
          approvedUntil: o["approved-until"] ?? "",
          ...(o["after-terminals"] ? { afterTerminals: true } : {}),
        });
        show(
          r,
          () =>
            `published ${r.updateId}: ${r.product} ${r.fwVersion} (${r.fwPriority}), start ${r.startDate}, deadline ${r.deadline}, signed by ${r.signerCertSerial}` +
            (r.afterTerminals ? "; the Konnektor installs it only after all its card terminals updated" : ""),
        );
        return 0;
      }
      case "export": {
        const id = need(args[0], "UPDATE_ID");
        const out = need(o.out, "--out");
        const r = await api().post<{ updateId: string; package: string }>(`/api/v1/ksr/releases/${encodeURIComponent(id)}/offline`, {
          password: need(o.password, "--password"),
        });
        writeFileSync(out, r.package, { mode: 0o600 });
        show(
          { updateId: r.updateId, file: out },
          () => `offline package of ${r.updateId} written to ${out} (give the password to registered technicians only)`,
        );
        return 0;
      }
      case "run": {
        const r = await api().post<{ until: string }>("/api/v1/ksr/scheduler/run", {});
        show(r, () => `update scheduler ran up to ${r.until}`);
        return 0;
      }
    }
    throw unknown();
  },
};
