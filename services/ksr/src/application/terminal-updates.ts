import {
  call,
  Coalescer,
  CommandHandler,
  createClient,
  DocumentProjection,
  DomainError,
  KeyedSerializer,
  StoreProjectionRunner,
  ValidationError,
} from "@tigw/platform";
import { CardTerminalServiceClient } from "@tigw/contracts/cardterminal/v1/card_terminal";
import type * as ct from "@tigw/contracts/cardterminal/v1/card_terminal";
import { dueRelease, terminalCompliance, terminalsPending, type Compliance } from "../domain/compliance.js";
import { CODES, verifyPackage, type SignedPackage } from "../domain/package.js";
import type { ReleaseFacts, ReleaseState } from "../domain/release.js";
import {
  asDevice,
  initialTerminalFirmware,
  terminalFirmwareDecider,
  type TerminalFacts,
  type TerminalFirmwareCommand,
  type TerminalFirmwareEvent,
  type TerminalFirmwareState,
} from "../domain/terminal-firmware.js";
import type { StepOutcome } from "../domain/unit-firmware.js";
import { germanDay } from "../domain/window.js";
import type { Ksr } from "./ksr.js";

const ktStream = (ctId: string) => `ktfw-${ctId}`;
const CT_ID = /^[A-Za-z0-9_.:-]{1,64}$/;
const KT_FIRMWARE = /^\d{1,4}(\.\d{1,4}){1,3}$/;
const UNIT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Only facts card-terminal itself would have accepted: a field that is not (a firmware that is no
 * version, a unit that is no id, an overlong model) is left out rather than recorded.
 */
export function plausibleFacts(f: TerminalFacts): TerminalFacts {
  const out: TerminalFacts = {};
  if (f.unitId !== undefined && (f.unitId === "" || UNIT_ID.test(f.unitId))) out.unitId = f.unitId.toLowerCase();
  if (f.product !== undefined && f.product.length <= 128 && ![...f.product].some((c) => c.charCodeAt(0) < 0x20)) out.product = f.product;
  if (f.firmware !== undefined && KT_FIRMWARE.test(f.firmware)) out.firmware = f.firmware;
  if (typeof f.paired === "boolean") out.paired = f.paired;
  if (typeof f.connected === "boolean") out.connected = f.connected;
  return out;
}

export type TerminalFirmwareView = TerminalFirmwareState & Compliance & { streamVersion: number };

/** How the KSR reaches a terminal: card-terminal's UpdateFirmware (start: aktualisierend, finish: aktiv). */
export interface TerminalPort {
  start(ctId: string, firmware: string): Promise<void>;
  finish(ctId: string, succeeded: boolean): Promise<void>;
}

export function terminalsOverGrpc(address: string): TerminalPort & { close(): void } {
  const client = createClient(CardTerminalServiceClient, address, { deadlineMs: 60_000 });
  const update = (r: ct.UpdateFirmwareRequest) => call<ct.UpdateFirmwareRequest, ct.UpdateFirmwareResponse>(client.updateFirmware.bind(client), r);
  return {
    start: async (ctId, firmware) => void (await update({ ctId, phase: "start", firmware, succeeded: false })),
    finish: async (ctId, succeeded) => void (await update({ ctId, phase: "finish", firmware: "", succeeded })),
    close: () => client.close(),
  };
}

/**
 * Card-terminal firmware updates (eHealth-KT): the KSR learns each terminal from card-terminal's
 * events, decides which release it must install (the catalogue's product is "<vendor> <model>"),
 * and when a paired terminal connects with an update due from its start date on (or planned by
 * hand) it verifies the signed package exactly as a unit does, then has card-terminal run it:
 * the terminal is aktualisierend meanwhile and aktiv again with the new firmware, or with its old
 * one after a failed apply (4184). Konnektor releases marked afterTerminals wait for these.
 */
export class TerminalUpdates {
  private readonly handler: CommandHandler<TerminalFirmwareState, TerminalFirmwareCommand, TerminalFirmwareEvent>;
  private readonly perTerminal = new KeyedSerializer();
  readonly projection: DocumentProjection<TerminalFirmwareState>;
  private readonly runner: StoreProjectionRunner;
  private readonly refresh: Coalescer;

  constructor(
    private readonly ksr: Ksr,
    private readonly port: TerminalPort | undefined,
  ) {
    this.handler = new CommandHandler(ksr.store, terminalFirmwareDecider, 10, 1_000);
    this.projection = new DocumentProjection<TerminalFirmwareState>({
      name: "terminal-firmware",
      schema: ksr.store.schema,
      table: "rm_terminal_firmware",
      streamPrefix: "ktfw",
      initial: initialTerminalFirmware,
      evolve: (s, e) => terminalFirmwareDecider.evolve(s, e as TerminalFirmwareEvent),
      columns: { unit_id: (s) => s.unitId },
    });
    this.runner = new StoreProjectionRunner(ksr.store, this.projection);
    this.refresh = new Coalescer(() => this.runner.catchUp());
  }

  async open(): Promise<void> {
    await this.runner.setup();
    await this.refresh.trigger();
  }

  private now(): string {
    return this.ksr.clock.now().toISOString();
  }

  private async record(ctId: string, command: TerminalFirmwareCommand): Promise<TerminalFirmwareState> {
    const r = await this.handler.handle(ktStream(ctId), command, { occurredAt: new Date(command.at) });
    return r.state;
  }

  /** A fact from card-terminal's events; a connect with an update due starts it. */
  async observe(ctId: string, facts: TerminalFacts, at: string): Promise<void> {
    if (!CT_ID.test(ctId)) return; // not a terminal id card-terminal would have accepted: nothing to record
    const plausible = plausibleFacts(facts);
    if (!Object.keys(plausible).length) return;
    const when = Number.isNaN(Date.parse(at)) ? this.now() : new Date(at).toISOString();
    const state = await this.perTerminal.run(ctId, () => this.record(ctId, { type: "Observe", ctId, facts: plausible, at: when }));
    if (plausible.connected === true) await this.startPending(state);
  }

  async list(unitId = ""): Promise<TerminalFirmwareView[]> {
    await this.refresh.trigger();
    const [rows, releases, catalogue] = await Promise.all([this.projection.list(this.ksr.store.sql, "id"), this.ksr.releases(), this.ksr.catalogue()]);
    const now = this.now();
    return rows
      .filter((r) => r.exists && (!unitId || r.unitId === unitId))
      .map((r) => ({ ...r, ...terminalCompliance(r, releases, catalogue, now), streamVersion: r.version }))
      .sort((a, b) => b.severity - a.severity || a.ctId.localeCompare(b.ctId));
  }

  async view(ctId: string): Promise<TerminalFirmwareView> {
    const { state, version } = await this.handler.load(ktStream(ctId));
    if (!state.exists) throw new DomainError("TERMINAL_NOT_FOUND", `the KSR knows no card terminal "${ctId}"`, { field: "ctId", value: ctId });
    return { ...state, ...terminalCompliance(state, await this.ksr.releases(), await this.ksr.catalogue(), this.now()), streamVersion: version };
  }

  /** "Konnektor only after all KT updates succeeded": what the unit's terminals still have to install. */
  async pendingFor(unitId: string, releases: ReleaseFacts[]): Promise<string[]> {
    await this.refresh.trigger();
    const rows = (await this.projection.list(this.ksr.store.sql, "id")).filter((r) => r.exists && r.unitId === unitId);
    return terminalsPending(rows, releases, this.now());
  }

  /**
   * `tigw kt update CT [--version V]`: plans the release of V (or the one due) for a paired
   * terminal; it starts now when the terminal is connected, else when it connects.
   */
  async update(ctId: string, version = ""): Promise<TerminalFirmwareView> {
    if (!CT_ID.test(ctId))
      throw new ValidationError("INVALID_CT_ID", "ctId", `ctId "${ctId}" is not 1-64 letters, digits, '_', '.', ':' or '-'`, { value: ctId });
    const { state } = await this.handler.load(ktStream(ctId));
    if (!state.exists) throw new DomainError("TERMINAL_NOT_FOUND", `the KSR knows no card terminal "${ctId}"`, { field: "ctId", value: ctId });
    const releases = await this.ksr.releases();
    const release = version ? releases.find((r) => r.product === state.product && r.fwVersion === version) : dueRelease(asDevice(state), releases);
    if (!release)
      throw new DomainError(
        "RELEASE_NOT_FOUND",
        version ? `the KSR has no release of ${version} for ${state.product}` : `no update is due for terminal ${ctId} (${state.product} ${state.firmware})`,
        { field: "version", value: version },
      );
    const planned = await this.perTerminal.run(ctId, () => this.record(ctId, { type: "PlanUpdate", release, at: this.now() }));
    if (planned.connected) await this.startPending(planned, true);
    return this.view(ctId);
  }

  /** The release a terminal installs when it connects: the one planned by hand, else the one due since its start date. */
  private pendingRelease(s: TerminalFirmwareState, releases: ReleaseState[]): ReleaseState | undefined {
    if (s.planned) return releases.find((r) => r.updateId === s.planned);
    const due = dueRelease(asDevice(s), releases) as ReleaseState | undefined;
    return due && due.startDate <= germanDay(this.now()) ? due : undefined;
  }

  private async startPending(s: TerminalFirmwareState, throwRefusal = false): Promise<void> {
    if (!s.paired || !this.port) return;
    const release = this.pendingRelease(s, await this.ksr.releases());
    if (!release) return;
    await this.perTerminal.run(s.ctId, () => this.install(s.ctId, release, throwRefusal));
  }

  private async install(ctId: string, release: ReleaseState, throwRefusal: boolean): Promise<void> {
    const { state } = await this.handler.load(ktStream(ctId));
    const at = this.now();
    let pkg: SignedPackage | undefined;
    let verification: StepOutcome;
    try {
      pkg = await this.ksr.download(release.updateId);
      const verdict = verifyPackage(pkg, { subCas: this.ksr.trustedSubCas, now: new Date(at), unit: asDevice(state), catalogue: await this.ksr.catalogue() });
      verification = verdict.ok ? { ok: true } : { ok: false, code: verdict.code, message: verdict.reason };
    } catch (e) {
      verification = { ok: false, code: e instanceof DomainError ? e.code : CODES.download, message: (e as Error).message };
    }
    let apply: StepOutcome = { ok: true };
    if (verification.ok) {
      // Nothing reaches the terminal before the package verified; then card-terminal shows it
      // aktualisierend until the terminal reports back.
      const failed = this.ksr.faults.has("apply");
      try {
        await this.port!.start(ctId, release.fwVersion);
        await this.port!.finish(ctId, !failed);
        if (failed)
          apply = {
            ok: false,
            code: CODES.apply,
            message: `terminal ${ctId} could not apply ${release.fwVersion} (simulated fault); it keeps ${state.firmware}`,
          };
      } catch (e) {
        // card-terminal refused (the terminal was unpaired meanwhile, or is updating already).
        apply = { ok: false, code: CODES.apply, message: `terminal ${ctId} could not be updated to ${release.fwVersion}: ${(e as Error).message}` };
      }
    }
    const after = await this.record(ctId, { type: "RecordTerminalUpdate", release, verification, apply, at });
    const code = !verification.ok ? verification.code : apply.ok ? "OK" : CODES.apply;
    this.ksr.countStep(verification.ok ? "terminal-apply" : "terminal-verify", code);
    if (code !== "OK" && throwRefusal) throw new DomainError(code, after.lastMessage, { ctId, updateId: release.updateId });
  }
}
