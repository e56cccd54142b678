import { Body, Controller, Get, HttpCode, Inject, Param, Post, Query } from "@nestjs/common";
import { ValidationError } from "@tigw/platform";
import type { KsrApi } from "../grpc-clients.js";
import { KSR } from "../tokens.js";
import { Access } from "./access.js";
import { field, stringsBody } from "./body.js";

/** on | off from a JSON boolean (absent: unchanged). */
const onOff = (body: unknown, name: string): string => {
  const v = body && typeof body === "object" ? (body as Record<string, unknown>)[name] : undefined;
  if (v === undefined || v === null) return "";
  if (typeof v !== "boolean") throw new ValidationError("INVALID_REQUEST", name, `${name} must be true or false`);
  return v ? "on" : "off";
};

/** A strings body with one optional boolean besides. */
const withBoolean = (b: ReturnType<typeof stringsBody>, name: string) => ({ ...b, properties: { ...b.properties, [name]: { type: "boolean" } } });

/**
 * The KSR: the firmware catalogue (approval status of every version), signed releases, each
 * unit's firmware and updates; refusals of a package carry the HSK's codes 4181-4185.
 */
@Controller("api/v1")
export class KsrController {
  constructor(@Inject(KSR) private readonly ksr: KsrApi) {}

  @Get("ksr/catalogue")
  @Access({
    role: "viewer",
    summary:
      "Firmware catalogue: every version per product with its approval (zugelassen, Zulassung widerrufen, Zulassung abgelaufen), date and firmware group",
  })
  catalogue(@Query("product") product?: string) {
    return this.ksr.listCatalogue({ product: product ?? "" });
  }

  @Get("ksr/releases")
  @Access({ role: "viewer", summary: "Releases of the KSR: UpdateID, version, FWPriority (Normal | Kritisch), start date, deadline, file hashes, signer" })
  releases() {
    return this.ksr.listReleases({});
  }

  @Post("ksr/releases")
  @HttpCode(201)
  @Access({
    role: "admin",
    summary:
      "Sign (the KSR's C.FD.SIG in hsm) and publish a release of an approved version; approvedUntil catalogues a new version as zugelassen until that day",
    body: withBoolean(
      stringsBody(["updateId", "product", "fwVersion", "fwPriority", "startDate", "deadline"], ["releaseNotes", "approvedUntil"]),
      "afterTerminals",
    ),
  })
  async publish(@Body() body: unknown) {
    const f = (name: string, optional = false) => field(body, name, { optional });
    return (
      await this.ksr.publishRelease({
        updateId: f("updateId"),
        product: f("product"),
        fwVersion: f("fwVersion"),
        fwPriority: f("fwPriority"),
        startDate: f("startDate"),
        deadline: f("deadline"),
        releaseNotes: f("releaseNotes", true),
        approvedUntil: f("approvedUntil", true),
        afterTerminals: onOff(body, "afterTerminals") === "on",
      })
    ).release;
  }

  @Get("fleet/firmware")
  @Access({
    role: "viewer",
    summary: "Every unit's firmware against the catalogue: approval, the update due with its deadline, flags, TI-access blockers; worst first",
  })
  fleet() {
    return this.ksr.listUnitFirmware({});
  }

  @Get("fleet/firmware/terminals")
  @Access({
    role: "viewer",
    summary:
      "Every card terminal's firmware against the catalogue (product is vendor and model): paired, connected, the update due or planned, flags; worst first; ?unit= narrows to one unit",
  })
  terminals(@Query("unit") unit?: string) {
    return this.ksr.listTerminalFirmware({ unit: unit ?? "" });
  }

  @Post("terminals/:ctId/firmware/update")
  @HttpCode(200)
  @Access({
    role: "operator",
    summary:
      "Plan a card terminal's update (the release due, or of version): only a paired terminal (TERMINAL_NOT_PAIRED); it runs now when connected, else when it connects (aktualisierend meanwhile; 4181-4185)",
    body: stringsBody([], ["version"]),
  })
  async updateTerminal(@Param("ctId") ctId: string, @Body() body: unknown) {
    return (await this.ksr.updateTerminal({ ctId, version: field(body, "version", { optional: true }) })).terminal;
  }

  @Get("units/:unit/firmware")
  @Access({ role: "viewer", summary: "A unit's firmware, KSR settings, the update due, next window, last result (OK, MISSED or 4181-4185)" })
  async unitFirmware(@Param("unit") unit: string) {
    return (await this.ksr.getUnitFirmware({ unit })).unit;
  }

  @Post("units/:unit/firmware/update")
  @HttpCode(200)
  @Access({
    role: "operator",
    summary: "Manual online update now (the release due, or of version): download (4182), verify (4181, 4183, 4185), apply (4184 rolls back)",
    body: stringsBody([], ["version"]),
  })
  async update(@Param("unit") unit: string, @Body() body: unknown) {
    return (await this.ksr.updateUnit({ unit, version: field(body, "version", { optional: true }) })).unit;
  }

  @Post("units/:unit/firmware/settings")
  @HttpCode(200)
  @Access({
    role: "operator",
    summary: 'KSR settings: autoDownload and autoUpdate (true/false), window ("Mon 01:00" or "daily 01:00", German time)',
    body: { type: "object", properties: { autoDownload: { type: "boolean" }, autoUpdate: { type: "boolean" }, window: { type: "string" } } },
  })
  async settings(@Param("unit") unit: string, @Body() body: unknown) {
    return (
      await this.ksr.changeUpdateSettings({
        unit,
        autoDownload: onOff(body, "autoDownload"),
        autoUpdate: onOff(body, "autoUpdate"),
        window: field(body, "window", { optional: true }),
      })
    ).unit;
  }

  @Post("ksr/releases/:updateId/offline")
  @HttpCode(200)
  @Access({
    role: "operator",
    summary: "An offline package of a release, encrypted with the technicians' password (at least 10 characters; not kept anywhere)",
    body: stringsBody(["password"]),
  })
  async exportOffline(@Param("updateId") updateId: string, @Body() body: unknown) {
    const r = await this.ksr.exportOfflinePackage({ updateId, password: field(body, "password") });
    return { updateId, package: Buffer.from(r.package).toString("utf8") };
  }

  @Post("units/:unit/firmware/offline")
  @HttpCode(200)
  @Access({
    role: "operator",
    summary: "Offline update: upload a package with its password (INVALID_PACKAGE_PASSWORD), then verified and applied as online (4181-4185)",
    body: stringsBody(["package", "password"]),
  })
  async installOffline(@Param("unit") unit: string, @Body() body: unknown) {
    return (await this.ksr.installOfflinePackage({ unit, package: Buffer.from(field(body, "package"), "utf8"), password: field(body, "password") })).unit;
  }

  @Post("ksr/scheduler/run")
  @HttpCode(200)
  @Access({ role: "operator", summary: "Run the update scheduler up to the (simulated) now: downloads and windows that passed" })
  run() {
    return this.ksr.runScheduler({});
  }
}
