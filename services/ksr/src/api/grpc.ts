import { DomainError, unary, ValidationError, type GrpcServiceBinding } from "@tigw/platform";
import * as pb from "@tigw/contracts/ksr/v1/ksr";
import type { Ksr, UnitFirmwareView } from "../application/ksr.js";
import type { TerminalFirmwareView } from "../application/terminal-updates.js";
import type { ReleaseState } from "../domain/release.js";
import { approvalOn } from "../domain/catalogue.js";
import { germanDay } from "../domain/window.js";

export function toRelease(r: ReleaseState): pb.Release {
  return {
    updateId: r.updateId,
    product: r.product,
    fwVersion: r.fwVersion,
    fwPriority: r.fwPriority,
    startDate: r.startDate,
    deadline: r.deadline,
    releaseNotes: r.releaseNotes,
    files: r.files.map((f) => ({ filename: f.filename, size: String(f.size), sha256: f.sha256 })),
    creationDate: r.creationDate,
    signerCertSerial: r.signerCertSerial,
    publishedAt: r.publishedAt,
    afterTerminals: r.afterTerminals ?? false,
  };
}

export function toUnitFirmware(u: UnitFirmwareView): pb.UnitFirmware {
  return {
    unitId: u.unitId,
    serial: u.serial,
    product: u.product,
    version: u.firmware,
    approval: u.approval,
    approvalDate: u.approvalDate,
    settings: { ...u.settings },
    dueUpdateId: u.due?.updateId ?? "",
    dueVersion: u.due?.fwVersion ?? "",
    duePriority: u.due?.fwPriority ?? "",
    dueStartDate: u.due?.startDate ?? "",
    dueDeadline: u.due?.deadline ?? "",
    downloadedUpdateId: u.downloaded,
    nextWindow: u.nextWindow,
    flags: u.flags,
    tiBlockers: u.tiBlockers,
    lastResult: u.lastResult,
    lastMessage: u.lastMessage,
    updatedAt: u.updatedAt,
    versionOfStream: String(u.streamVersion),
  };
}

export function toTerminalFirmware(t: TerminalFirmwareView): pb.TerminalFirmware {
  return {
    ctId: t.ctId,
    unitId: t.unitId,
    product: t.product,
    version: t.firmware,
    paired: t.paired,
    connected: t.connected,
    approval: t.approval,
    approvalDate: t.approvalDate,
    dueUpdateId: t.due?.updateId ?? "",
    dueVersion: t.due?.fwVersion ?? "",
    duePriority: t.due?.fwPriority ?? "",
    dueStartDate: t.due?.startDate ?? "",
    dueDeadline: t.due?.deadline ?? "",
    plannedUpdateId: t.planned,
    flags: t.flags,
    lastResult: t.lastResult,
    lastMessage: t.lastMessage,
    updatedAt: t.updatedAt,
  };
}

/** on | off | "" (unchanged) */
function onOff(field: string, v: string): boolean | undefined {
  if (v === "") return undefined;
  if (v === "on" || v === "off") return v === "on";
  throw new ValidationError("INVALID_SETTING", field, `${field} is on or off, not "${v}"`, { value: v });
}

/** tigw.ksr.v1.KsrService over the application. */
export function ksrGrpc(k: Ksr): GrpcServiceBinding {
  const unit = async (u: Promise<UnitFirmwareView>) => ({ unit: toUnitFirmware(await u) });
  const terminals = () => {
    if (!k.terminals) throw new DomainError("UNAVAILABLE", "card-terminal updates are not set up in this KSR");
    return k.terminals;
  };
  const impl: pb.KsrServiceServer = {
    listCatalogue: unary(async (r: pb.ListCatalogueRequest) => {
      const today = germanDay(k.clock.now().toISOString());
      return {
        versions: (await k.catalogueEntries(r.product)).map((e) => {
          const a = approvalOn(e, today);
          return {
            product: e.product,
            version: e.version,
            productType: e.productType,
            approval: a.approval,
            approvalDate: a.date,
            note: e.note,
            firmwareGroup: e.group,
          };
        }),
      };
    }),
    listReleases: unary(async () => ({ releases: (await k.releases()).map(toRelease) })),
    publishRelease: unary(async (r: pb.PublishReleaseRequest) => ({
      release: toRelease(await k.publish({ ...r, approvedUntil: r.approvedUntil || undefined, afterTerminals: r.afterTerminals })),
    })),
    getUnitFirmware: unary(async (r: pb.GetUnitFirmwareRequest) => unit(k.view(r.unit))),
    listUnitFirmware: unary(async () => ({ units: (await k.list()).map(toUnitFirmware) })),
    changeUpdateSettings: unary(async (r: pb.ChangeUpdateSettingsRequest) =>
      unit(
        k.changeSettings(r.unit, {
          autoDownload: onOff("autoDownload", r.autoDownload),
          autoUpdate: onOff("autoUpdate", r.autoUpdate),
          window: r.window || undefined,
        }),
      ),
    ),
    updateUnit: unary(async (r: pb.UpdateUnitRequest) => unit(k.updateUnit(r.unit, r.version))),
    getTiBlockers: unary(async (r: pb.GetTiBlockersRequest) => ({ reasons: await k.tiBlockers(r.unit) })),
    setFault: unary(async (r: pb.SetFaultRequest) => ({ faults: k.setFault(r.fault, r.on) })),
    exportOfflinePackage: unary(async (r: pb.ExportOfflinePackageRequest) => ({
      package: Buffer.from(await k.exportOffline(r.updateId, r.password), "utf8"),
    })),
    installOfflinePackage: unary(async (r: pb.InstallOfflinePackageRequest) =>
      unit(k.installOffline(r.unit, Buffer.from(r.package).toString("utf8"), r.password)),
    ),
    setPower: unary(async (r: pb.SetPowerRequest) => unit(k.setPower(r.unit, r.on))),
    listTerminalFirmware: unary(async (r: pb.ListTerminalFirmwareRequest) => ({
      terminals: (await terminals().list(r.unit ? await k.resolve(r.unit) : "")).map(toTerminalFirmware),
    })),
    updateTerminal: unary(async (r: pb.UpdateTerminalRequest) => ({ terminal: toTerminalFirmware(await terminals().update(r.ctId, r.version)) })),
    runScheduler: unary(async () => {
      await k.tick();
      return { until: k.clock.now().toISOString() };
    }),
  };
  return { name: "tigw.ksr.v1.KsrService", definition: pb.KsrServiceService, implementation: impl };
}
