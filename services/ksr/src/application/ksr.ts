import { X509Certificate } from "node:crypto";
import {
  call,
  Coalescer,
  CommandHandler,
  createClient,
  DocumentProjection,
  DomainError,
  KeyedSerializer,
  migrate,
  StoreProjectionRunner,
  ValidationError,
  type Clock,
  type SqlEventStore,
} from "@tigw/platform";
import { HsmServiceClient } from "@tigw/contracts/hsm/v1/hsm";
import type * as hsm from "@tigw/contracts/hsm/v1/hsm";
import { TenancyServiceClient } from "@tigw/contracts/tenancy/v1/tenancy";
import type * as tenancy from "@tigw/contracts/tenancy/v1/tenancy";
import {
  APPROVED,
  catalogueDecider,
  KONNEKTOR_PRODUCTS,
  parseVersion,
  findEntry,
  groupOf,
  seedEntries,
  type CatalogueCommand,
  type CatalogueEntry,
  type CatalogueEvent,
  type CatalogueState,
} from "../domain/catalogue.js";
import { compliance, dueRelease, tiBlockers, type Compliance } from "../domain/compliance.js";
import { CODES, firmwareImage, sha256Hex, updateInformationXml, VENDOR_ID, verifyPackage, type SignedPackage, type Verdict } from "../domain/package.js";
import {
  checkRelease,
  initialRelease,
  releaseDecider,
  type ReleaseCommand,
  type ReleaseEvent,
  type ReleaseFacts,
  type ReleaseState,
} from "../domain/release.js";
import {
  initialUnitFirmware,
  unitFirmwareDecider,
  updates,
  type StepOutcome,
  type Trigger,
  type UnitFirmwareCommand,
  type UnitFirmwareEvent,
  type UnitFirmwareState,
} from "../domain/unit-firmware.js";
import { openPackage, sealPackage } from "../domain/offline.js";
import { LIST_UPDATES_ACTION, listUpdatesRequestXml, withoutSignature, withSignature } from "../infrastructure/ksr-soap.js";
import { germanDay, germanInstant, occurrences, parseWindow } from "../domain/window.js";
import type { TerminalUpdates } from "./terminal-updates.js";

const fwStream = (unitId: string) => `fw-${unitId}`;
const releaseStream = (updateId: string) => `release-${updateId}`;
const CATALOGUE = "catalogue";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const FAULTS = ["download", "apply"] as const;
export type Fault = (typeof FAULTS)[number];

export type UnitFirmwareView = UnitFirmwareState & Compliance & { streamVersion: number; nextWindow: string };

export interface PublishRequest {
  updateId: string;
  product: string;
  fwVersion: string;
  fwPriority: string;
  startDate: string;
  deadline: string;
  releaseNotes: string;
  /** A version the catalogue does not know yet is added as zugelassen until this day. */
  approvedUntil?: string;
  /** "Konnektor only after all KT updates succeeded" (Konnektor releases only). */
  afterTerminals?: boolean;
}

/**
 * The ksr application: the catalogue, releases signed by the KSR's C.FD.SIG (the key stays in
 * hsm), and each unit's updates. The scheduler (tick) walks the simulated time: it downloads
 * releases for units with auto-download on and opens each unit's window occurrences as they pass,
 * one at a time; an occurrence passed while the Konnektor was switched off, or while this service
 * was not running, is not caught up.
 */
export class Ksr {
  private readonly units: CommandHandler<UnitFirmwareState, UnitFirmwareCommand, UnitFirmwareEvent>;
  private readonly releaseHandler: CommandHandler<ReleaseState, ReleaseCommand, ReleaseEvent>;
  private readonly catalogueHandler: CommandHandler<CatalogueState, CatalogueCommand, CatalogueEvent>;
  private readonly perUnit = new KeyedSerializer();
  readonly unitProjection: DocumentProjection<UnitFirmwareState>;
  readonly releaseProjection: DocumentProjection<ReleaseState>;
  private readonly runners: StoreProjectionRunner[];
  private readonly refresh: Coalescer;
  private readonly tenancy: TenancyServiceClient;
  private readonly hsm: HsmServiceClient;
  private subCas: X509Certificate[] = [];
  private signer: { certSerial: string; pem: string } | undefined;
  /** Up to where the scheduler has walked the (simulated) time; windows before the start are not caught up. */
  private checkedUntil = "";
  private ticking: Promise<void> = Promise.resolve();
  readonly faults = new Set<Fault>();
  /** Packages never change once published: kept after the first read (a rollout reads one per unit). */
  private readonly packages = new Map<string, SignedPackage>();
  /** Update outcomes ("OK" or the code) by step since start: for metrics. */
  readonly outcomes = new Map<string, number>();
  /** The card terminals' updates (set by the service): releases with afterTerminals wait for them. */
  terminals: TerminalUpdates | undefined;

  constructor(
    readonly store: SqlEventStore,
    readonly clock: Clock,
    addresses: { tenancy: string; hsm: string },
  ) {
    this.units = new CommandHandler(store, unitFirmwareDecider, 10, 20_000);
    this.releaseHandler = new CommandHandler(store, releaseDecider, 5, 1_000);
    this.catalogueHandler = new CommandHandler(store, catalogueDecider, 10, 1);
    this.unitProjection = new DocumentProjection<UnitFirmwareState>({
      name: "unit-firmware",
      schema: store.schema,
      table: "rm_unit_firmware",
      streamPrefix: "fw",
      initial: initialUnitFirmware,
      evolve: (s, e) => unitFirmwareDecider.evolve(s, e as UnitFirmwareEvent),
      columns: { serial: (s) => s.serial },
    });
    this.releaseProjection = new DocumentProjection<ReleaseState>({
      name: "releases",
      schema: store.schema,
      table: "rm_releases",
      streamPrefix: "release",
      initial: initialRelease,
      evolve: (s, e) => releaseDecider.evolve(s, e as ReleaseEvent),
    });
    this.runners = [new StoreProjectionRunner(store, this.unitProjection), new StoreProjectionRunner(store, this.releaseProjection)];
    this.refresh = new Coalescer(() => Promise.all(this.runners.map((r) => r.catchUp())));
    this.tenancy = createClient(TenancyServiceClient, addresses.tenancy, { deadlineMs: 60_000 });
    this.hsm = createClient(HsmServiceClient, addresses.hsm, { deadlineMs: 60_000 });
  }

  private get sql() {
    return this.store.sql;
  }

  private now(): string {
    return this.clock.now().toISOString();
  }

  async open(): Promise<void> {
    await migrate(this.sql, this.store.schema, [
      {
        id: "ksr-001",
        sql: `CREATE TABLE {schema}.signer (id int PRIMARY KEY, cert_serial text NOT NULL, pem text NOT NULL);
              CREATE TABLE {schema}.packages (update_id text PRIMARY KEY, package jsonb NOT NULL);`,
      },
    ]);
    for (const r of this.runners) await r.setup();
    await this.refresh.trigger();
    await this.catalogueHandler.handle(CATALOGUE, { type: "SeedCatalogue", entries: seedEntries(), at: this.now() });
    const anchors = await call<hsm.GetTrustAnchorsRequest, hsm.GetTrustAnchorsResponse>(this.hsm.getTrustAnchors.bind(this.hsm), {});
    this.subCas = anchors.subCaPems.map((p) => new X509Certificate(p));
    this.signer = await this.signingIdentity();
    this.checkedUntil = this.now();
  }

  close(): void {
    this.tenancy.close();
    this.hsm.close();
  }

  /**
   * The KSR's signing identity: a C.FD.SIG issued once by the test TI PKI in hsm, whose key never
   * leaves hsm. Only its serial and certificate (public) are kept here.
   */
  private async signingIdentity(): Promise<{ certSerial: string; pem: string }> {
    const [row] = await this.sql.query<{ cert_serial: string; pem: string }>(`SELECT cert_serial, pem FROM ${this.store.schema}.signer WHERE id = 1`);
    if (row) return { certSerial: row.cert_serial, pem: row.pem };
    const { certificate } = await call<hsm.IssueCardRequest, hsm.IssueCardResponse>(this.hsm.issueCard.bind(this.hsm), {
      cardType: "KSR",
      keyType: "ecc",
      holder: "KSR ti-gateway",
      iccsn: "",
      notBefore: "",
      validityYears: 5,
    });
    await this.sql.query(`INSERT INTO ${this.store.schema}.signer (id, cert_serial, pem) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING`, [
      certificate!.certSerial,
      certificate!.pem,
    ]);
    const [kept] = await this.sql.query<{ cert_serial: string; pem: string }>(`SELECT cert_serial, pem FROM ${this.store.schema}.signer WHERE id = 1`);
    return { certSerial: kept!.cert_serial, pem: kept!.pem };
  }

  get signerCertificate(): { certSerial: string; pem: string } {
    return this.signer!;
  }

  /** The TI PKI's sub-CAs a signer must be issued by (from hsm's trust anchors). */
  get trustedSubCas(): X509Certificate[] {
    return this.subCas;
  }

  // ---- catalogue and releases ---------------------------------------------------------------

  async catalogue(): Promise<CatalogueState> {
    return (await this.catalogueHandler.load(CATALOGUE)).state;
  }

  async catalogueEntries(product = ""): Promise<CatalogueEntry[]> {
    const entries = Object.values((await this.catalogue()).entries).filter((e) => !product || e.product === product);
    return entries.sort((a, b) => a.product.localeCompare(b.product) || b.version.localeCompare(a.version, undefined, { numeric: true }));
  }

  async releases(): Promise<ReleaseState[]> {
    await this.refresh.trigger();
    return (await this.releaseProjection.list(this.sql, "id")).sort((a, b) => a.publishedAt.localeCompare(b.publishedAt));
  }

  /**
   * Publishes a release: validates it against the catalogue, builds the firmware file, signs the
   * UpdateInformation and the file with the KSR's key (in hsm), keeps the package, and records
   * the release. A version the catalogue does not know is catalogued first when an approval date
   * is given.
   */
  async publish(req: PublishRequest): Promise<ReleaseState> {
    const at = this.now();
    checkRelease({ ...req, fwPriority: req.fwPriority as ReleaseFacts["fwPriority"] });
    if (req.afterTerminals && !(KONNEKTOR_PRODUCTS as readonly string[]).includes(req.product))
      throw new ValidationError(
        "INVALID_AFTER_TERMINALS",
        "afterTerminals",
        `"Konnektor only after all KT updates" belongs to a Konnektor release (${KONNEKTOR_PRODUCTS.join(", ")}), not to ${req.product}`,
      );
    let entry = findEntry(await this.catalogue(), req.product, req.fwVersion);
    if (!entry && req.approvedUntil) {
      const known = await this.catalogueEntries(req.product);
      if (!known.length) throw new ValidationError("UNKNOWN_PRODUCT", "product", `no product "${req.product}" in the catalogue`, { value: req.product });
      const newEntry: CatalogueEntry = {
        product: req.product,
        version: req.fwVersion,
        productType: known[0]!.productType,
        approval: APPROVED,
        approvalDate: req.approvedUntil,
        note: "Aktuelle Firmware",
        group: groupOf(req.product, req.fwVersion),
      };
      await this.catalogueHandler.handle(CATALOGUE, { type: "CatalogueVersion", entry: newEntry, at });
      entry = newEntry;
    }
    const image = firmwareImage(req.product, req.fwVersion);
    const filename = `${req.product}-${req.fwVersion.replace(/:/g, "_")}.fw`;
    const facts: ReleaseFacts = {
      updateId: req.updateId,
      product: req.product,
      fwVersion: req.fwVersion,
      fwPriority: req.fwPriority as ReleaseFacts["fwPriority"],
      startDate: req.startDate,
      deadline: req.deadline,
      releaseNotes: req.releaseNotes,
      files: [{ filename, size: image.length, sha256: sha256Hex(image) }],
      creationDate: germanDay(at),
      signerCertSerial: this.signer!.certSerial,
      ...(req.afterTerminals ? { afterTerminals: true } : {}),
    };
    // Decide before signing: a refused release costs no signature and leaves no package behind.
    const existing = (await this.releaseHandler.load(releaseStream(req.updateId))).state;
    const decided = releaseDecider.decide({ type: "PublishRelease", release: facts, entry, at }, existing);
    if (decided.length === 0) return existing;
    const xml = updateInformationXml(facts);
    const pkg: SignedPackage = {
      updateInformation: xml,
      signature: (await this.sign(Buffer.from(xml, "utf8"))).toString("base64"),
      signerCertificate: this.signer!.pem,
      files: [{ filename, content: image.toString("base64"), signature: (await this.sign(image)).toString("base64") }],
    };
    await this.sql.query(
      `INSERT INTO ${this.store.schema}.packages (update_id, package) VALUES ($1, $2::jsonb) ON CONFLICT (update_id) DO UPDATE SET package = EXCLUDED.package`,
      [req.updateId, JSON.stringify(pkg)],
    );
    const r = await this.releaseHandler.handle(
      releaseStream(req.updateId),
      { type: "PublishRelease", release: facts, entry, at },
      { occurredAt: new Date(at) },
    );
    await this.refresh.trigger();
    return r.state;
  }

  private async sign(data: Buffer): Promise<Buffer> {
    const { signature } = await call<hsm.SignRequest, hsm.SignResponse>(this.hsm.sign.bind(this.hsm), {
      certSerial: this.signer!.certSerial,
      data,
      scheme: "",
    });
    return Buffer.from(signature);
  }

  /** The package of a release as the KSR hands it out; a download fault answers 4182. */
  async download(updateId: string): Promise<SignedPackage> {
    if (this.faults.has("download"))
      throw new DomainError(CODES.download, `download of ${updateId} failed: the KSR did not answer (simulated fault)`, { updateId });
    const [row] = await this.sql.query<{ package: SignedPackage | string }>(`SELECT package FROM ${this.store.schema}.packages WHERE update_id = $1`, [
      updateId,
    ]);
    if (!row) throw new DomainError(CODES.download, `download of ${updateId} failed: the KSR has no such package`, { updateId });
    return typeof row.package === "string" ? (JSON.parse(row.package) as SignedPackage) : row.package;
  }

  /**
   * What the KSR answers list_Updates (Konfigurationsdienst.wsdl): every release of the product
   * for that hardware version newer than the firmware asked about, as signed UpdateInformation XML.
   */
  async listUpdates(productCode: string, hwVersion: string, fwVersion: string): Promise<string[]> {
    const out: string[] = [];
    for (const r of await this.releases()) {
      if (r.product !== productCode || parseVersion(r.fwVersion).hardware !== hwVersion) continue;
      if (!updates({ product: productCode, firmware: fwVersion }, r)) continue;
      const pkg = await this.download(r.updateId).catch(() => undefined);
      if (pkg) out.push(withSignature(pkg.updateInformation, pkg.signature, pkg.signerCertificate));
    }
    return out;
  }

  /** Where the simulated KSR's list_Updates listens (set by the service once it serves). */
  ksrUrl = "";

  /**
   * A unit fetches a release as a Konnektor does: it asks the KSR's list_Updates (SOAP) for its
   * product, hardware and firmware version and takes the UpdateInformation with that UpdateID and
   * its signature from the answer, then the firmware files from the KSR. Whatever fails on the
   * way is 4182 (download failed); what arrives is verified before it is installed.
   */
  private async fetchAsUnit(unitId: string, updateId: string): Promise<SignedPackage> {
    const stored = await this.download(updateId);
    if (!this.ksrUrl) return stored;
    const { state } = await this.units.load(fwStream(unitId));
    const failed = (why: string) => new DomainError(CODES.download, `download of ${updateId} failed: ${why}`, { updateId });
    const res = await fetch(this.ksrUrl, {
      method: "POST",
      headers: { "content-type": "text/xml; charset=utf-8", soapaction: LIST_UPDATES_ACTION },
      body: listUpdatesRequestXml({
        productVendorId: VENDOR_ID,
        productCode: state.product,
        hwVersion: parseVersion(state.firmware).hardware || "2.0.0",
        fwVersion: state.firmware,
      }),
      signal: AbortSignal.timeout(30_000),
    }).catch((e: unknown) => {
      throw failed(`the KSR cannot be reached (${(e as Error).message})`);
    });
    if (res.status !== 200) throw failed(`the KSR answered HTTP ${res.status}`);
    const xml = await res.text();
    const info = [...xml.matchAll(/<KSR:UpdateInformation xmlns:KSR="[^"]*">.*?<\/KSR:UpdateInformation>/gs)]
      .map((m) => m[0])
      .find((x) => x.includes(`<KSR:UpdateID>${updateId}</KSR:UpdateID>`));
    if (!info) throw failed("list_Updates does not offer it");
    const signed = withoutSignature(info);
    if (!signed) throw failed("its UpdateInformation carries no signature");
    return { ...signed, files: stored.files };
  }

  // ---- units --------------------------------------------------------------------------------

  /** Enrols a unit (tenancy's UnitCreated, or the first time the KSR is asked about it). */
  async enrol(u: { unitId: string; serial: string; profile: string; firmware: string }, at = this.now()): Promise<UnitFirmwareState> {
    return this.record(u.unitId, { type: "Enrol", unitId: u.unitId, serial: u.serial, product: u.profile, firmware: u.firmware, at });
  }

  private async record(unitId: string, command: UnitFirmwareCommand): Promise<UnitFirmwareState> {
    const r = await this.units.handle(fwStream(unitId), command, { unitId, occurredAt: new Date(command.at) });
    return r.state;
  }

  /** A unit by id or serial; asks tenancy (and enrols it) when the KSR has not met it yet. */
  async resolve(unit: string): Promise<string> {
    if (!unit) throw new ValidationError("UNIT_NOT_FOUND", "unit", "name a unit by id or serial");
    if (UUID.test(unit) && (await this.units.load(fwStream(unit.toLowerCase()))).version > 0) return unit.toLowerCase();
    const [row] = await this.sql.query<{ id: string }>(`SELECT id FROM ${this.store.schema}.rm_unit_firmware WHERE serial = $1`, [unit]);
    if (row) return row.id;
    const u = (await call<tenancy.GetUnitRequest, tenancy.GetUnitResponse>(this.tenancy.getUnit.bind(this.tenancy), { unit })).unit!;
    await this.enrol(u);
    return u.unitId;
  }

  async view(unit: string): Promise<UnitFirmwareView> {
    const unitId = await this.resolve(unit);
    const { state, version } = await this.units.load(fwStream(unitId));
    return this.viewOf(state, version, await this.releases(), await this.catalogue());
  }

  private viewOf(s: UnitFirmwareState, version: number, releases: ReleaseFacts[], catalogue: CatalogueState): UnitFirmwareView {
    const now = this.now();
    const c = compliance(s, releases, catalogue, now);
    const next = s.settings.autoUpdate
      ? (occurrences(parseWindow(s.settings.window), now, new Date(Date.parse(now) + 8 * 86_400_000).toISOString(), 1)[0] ?? "")
      : "";
    return { ...s, ...c, streamVersion: version, nextWindow: next };
  }

  /** Every unit, worst first (TI access lost, then revoked or expired firmware or a passed deadline ...). */
  async list(): Promise<UnitFirmwareView[]> {
    await this.refresh.trigger();
    const [rows, releases, catalogue] = await Promise.all([this.unitProjection.list(this.sql, "serial"), this.releases(), this.catalogue()]);
    return rows.map((r) => this.viewOf(r, r.version, releases, catalogue)).sort((a, b) => b.severity - a.severity || a.serial.localeCompare(b.serial));
  }

  async changeSettings(unit: string, s: { autoDownload?: boolean; autoUpdate?: boolean; window?: string }): Promise<UnitFirmwareView> {
    const unitId = await this.resolve(unit);
    // Windows passed so far count under the old settings.
    await this.walkOne(unitId);
    await this.perUnit.run(unitId, () => this.record(unitId, { type: "ChangeSettings", ...s, at: this.now() }));
    return this.view(unitId);
  }

  /** Switches the Konnektor off or on (Netzschalter); windows while it is off are missed. */
  async setPower(unit: string, on: boolean): Promise<UnitFirmwareView> {
    const unitId = await this.resolve(unit);
    await this.walkOne(unitId);
    await this.perUnit.run(unitId, () => this.record(unitId, { type: on ? "SwitchOn" : "SwitchOff", at: this.now() }));
    return this.view(unitId);
  }

  /** The KSR's clause of the TI-access rule for one unit. */
  async tiBlockers(unit: string): Promise<string[]> {
    const unitId = await this.resolve(unit);
    const { state } = await this.units.load(fwStream(unitId));
    return tiBlockers(state, await this.releases(), this.now());
  }

  /**
   * A manual online update: the release of `version` (or the one due), downloaded, verified and
   * applied now. A refused package is recorded (KSR/ERROR) and thrown with its code.
   */
  async updateUnit(unit: string, version = ""): Promise<UnitFirmwareView> {
    const unitId = await this.resolve(unit);
    const { state } = await this.units.load(fwStream(unitId));
    const releases = await this.releases();
    const release = version ? releases.find((r) => r.product === state.product && r.fwVersion === version) : dueRelease(state, releases);
    if (!release)
      throw new DomainError(
        "RELEASE_NOT_FOUND",
        version ? `the KSR has no release of ${version} for ${state.product}` : `no update is due for unit ${state.serial} (${state.firmware})`,
        { unitId, field: "version" },
      );
    if (!updates(state, release))
      throw new DomainError("VERSION_NOT_NEWER", `unit ${state.serial} runs ${state.firmware}; ${release.fwVersion} is not newer`, {
        unitId,
        field: "version",
      });
    const waiting = release.afterTerminals && this.terminals ? await this.terminals.pendingFor(unitId, releases) : [];
    if (waiting.length)
      throw new DomainError(
        "KT_UPDATES_PENDING",
        `${release.updateId} reaches the Konnektor only after its card terminals: ${waiting.join(", ")} (tigw kt update, or connect them)`,
        { unitId, updateId: release.updateId },
      );
    await this.installRelease(unitId, release, "manual", this.now(), true);
    return this.view(unitId);
  }

  /**
   * Installs a package on a unit (an offline upload does this, and so do the tests with mutated
   * packages): verification, then apply. Refusals are recorded and thrown with their code.
   */
  async installPackage(unit: string, pkg: SignedPackage, claimed: Pick<ReleaseFacts, "updateId" | "fwVersion">): Promise<UnitFirmwareState> {
    const unitId = await this.resolve(unit);
    await this.perUnit.run(unitId, () => this.verifyAndApply(unitId, pkg, claimed, "manual", this.now(), true));
    return (await this.units.load(fwStream(unitId))).state;
  }

  /** An offline package of a release, sealed with the technicians' password (never kept here). */
  async exportOffline(updateId: string, password: string): Promise<string> {
    const release = (await this.releaseHandler.load(releaseStream(updateId))).state;
    if (!release.exists) throw new DomainError("RELEASE_NOT_FOUND", `the KSR has no release ${updateId}`, { field: "updateId", value: updateId });
    const pkg = await this.download(updateId).catch(() => {
      throw new DomainError("RELEASE_NOT_FOUND", `the package of ${updateId} cannot be read`, { field: "updateId", value: updateId });
    });
    return sealPackage(updateId, pkg, password);
  }

  /**
   * An offline update: the uploaded package is opened with the password (INVALID_PACKAGE_PASSWORD
   * otherwise, and nothing is recorded: the unit never saw a package), then verified and applied
   * like an online one; its refusals (4181-4185) are recorded and thrown with their code.
   */
  async installOffline(unit: string, file: string, password: string): Promise<UnitFirmwareView> {
    const unitId = await this.resolve(unit);
    const { updateId, pkg } = openPackage(file, password);
    await this.perUnit.run(unitId, () => this.verifyAndApply(unitId, pkg, { updateId, fwVersion: "" }, "offline", this.now(), true));
    return this.view(unitId);
  }

  private async installRelease(unitId: string, release: ReleaseFacts, trigger: Trigger, at: string, throwRefusal: boolean): Promise<boolean> {
    return this.perUnit.run(unitId, async () => {
      let pkg: SignedPackage;
      try {
        pkg = await this.fetchAsUnit(unitId, release.updateId);
      } catch (e) {
        const message = e instanceof Error ? e.message : String(e);
        await this.record(unitId, { type: "RecordDownload", release, outcome: { ok: false, code: CODES.download, message }, at });
        this.count("download", CODES.download);
        if (throwRefusal) throw e;
        return false;
      }
      return this.verifyAndApply(unitId, pkg, release, trigger, at, throwRefusal);
    });
  }

  private async verifyAndApply(
    unitId: string,
    pkg: SignedPackage,
    claimed: Pick<ReleaseFacts, "updateId" | "fwVersion">,
    trigger: Trigger,
    at: string,
    throwRefusal: boolean,
  ): Promise<boolean> {
    const { state } = await this.units.load(fwStream(unitId));
    const verdict: Verdict = verifyPackage(pkg, { subCas: this.subCas, now: new Date(at), unit: state, catalogue: await this.catalogue() });
    const verification: StepOutcome = verdict.ok ? { ok: true } : { ok: false, code: verdict.code, message: verdict.reason };
    const release = verdict.ok ? { updateId: verdict.info.updateId, fwVersion: verdict.info.fwVersion } : claimed;
    const apply: StepOutcome = this.faults.has("apply")
      ? { ok: false, code: CODES.apply, message: `applying ${release.fwVersion} failed (simulated fault); rolled back to ${state.firmware}` }
      : { ok: true };
    const after = await this.record(unitId, { type: "RecordInstall", trigger, release, verification, apply, at });
    const code = !verdict.ok ? verdict.code : apply.ok ? "OK" : CODES.apply;
    this.count(verdict.ok ? "apply" : "verify", code);
    if (code !== "OK" && throwRefusal) throw new DomainError(code, after.lastMessage, { unitId, updateId: release.updateId });
    return code === "OK";
  }

  countStep(step: string, result: string): void {
    this.count(step, result);
  }

  private count(step: string, result: string): void {
    const key = `${step}\u0000${result}`;
    this.outcomes.set(key, (this.outcomes.get(key) ?? 0) + 1);
  }

  // ---- the scheduler ------------------------------------------------------------------------

  /** Runs the scheduler up to now (serialised: one walk at a time). */
  tick(): Promise<void> {
    const run = this.ticking.then(() => this.walk());
    this.ticking = run.catch(() => undefined);
    return run;
  }

  private async walk(): Promise<void> {
    const now = this.now();
    const from = this.checkedUntil || now;
    await this.refresh.trigger();
    const [rows, releases] = await Promise.all([this.unitProjection.list(this.sql, "serial"), this.releases()]);
    // The read model is current (refreshed above): units with nothing due cost no further query.
    for (const row of rows) if (row.exists && dueRelease(row, releases)) await this.walkUnit(row.unitId, releases, from, now);
    this.checkedUntil = now;
  }

  /**
   * One unit's part of the walk up to now (after a change of its settings or power, before the
   * next tick). Safe to repeat: a window once used or missed is never reached again.
   */
  private async walkOne(unitId: string): Promise<void> {
    const now = this.now();
    await this.walkUnit(unitId, await this.releases(), this.checkedUntil || now, now);
  }

  private async walkUnit(unitId: string, releases: ReleaseState[], from: string, now: string): Promise<void> {
    let { state } = await this.units.load(fwStream(unitId));
    const due = dueRelease(state, releases) as ReleaseState | undefined;
    if (!due) return;
    // Auto-download (MGM_KSR_AUTODOWNLOAD): fetch the release as soon as it is offered (when the
    // simulated clock jumped, that was at the start of the jump or at its publication).
    if (state.settings.autoDownload && state.downloaded !== due.updateId && !state.switchedOff) {
      const at = due.publishedAt > from ? due.publishedAt : from;
      try {
        await this.fetchAsUnit(unitId, due.updateId);
        state = await this.perUnit.run(unitId, () => this.record(unitId, { type: "RecordDownload", release: due, outcome: { ok: true }, at }));
        this.count("download", "OK");
      } catch (e) {
        await this.perUnit.run(unitId, () =>
          this.record(unitId, { type: "RecordDownload", release: due, outcome: { ok: false, code: CODES.download, message: (e as Error).message }, at }),
        );
        this.count("download", CODES.download);
      }
    }
    if (!state.settings.autoUpdate) return;
    // Each occurrence that passed since the last walk, oldest first, until one installs the update.
    // Windows before the start date install nothing: the walk begins at the start date at the
    // earliest, so the bounded list of occurrences is never used up by them.
    const [y, m, d] = due.startDate.split("-").map(Number) as [number, number, number];
    const startsAt = new Date(germanInstant(y, m, d, 0, 0) - 1).toISOString();
    const after = [state.lastWindow, from, startsAt].sort().at(-1)!;
    for (const occurrence of occurrences(parseWindow(state.settings.window), after, now, 60)) {
      const current = (await this.units.load(fwStream(unitId))).state;
      const pending = dueRelease(current, releases);
      if (!pending) return;
      const terminalsPending = pending.afterTerminals && this.terminals ? await this.terminals.pendingFor(unitId, releases) : [];
      const events = await this.perUnit.run(unitId, async () => {
        const r = await this.units.handle(
          fwStream(unitId),
          { type: "ReachWindow", occurrence, due: pending, terminalsPending, at: occurrence },
          { unitId, occurredAt: new Date(occurrence) },
        );
        return r.events;
      });
      if (events.some((e) => e.type === "UpdateWindowOpened")) {
        if (await this.installRelease(unitId, pending, "auto", occurrence, false)) return;
      }
    }
  }

  setFault(fault: string, on: boolean): Fault[] {
    if (!(FAULTS as readonly string[]).includes(fault))
      throw new ValidationError("UNKNOWN_FAULT", "fault", `the simulated faults are ${FAULTS.join(", ")}`, { value: fault });
    if (on) this.faults.add(fault as Fault);
    else this.faults.delete(fault as Fault);
    return [...this.faults];
  }
}
