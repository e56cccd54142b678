import { createHash, createHmac, createPublicKey, randomBytes, randomUUID, scrypt, timingSafeEqual, verify, X509Certificate } from "node:crypto";
import { promisify } from "node:util";

const scryptAsync = promisify(scrypt) as (password: string, salt: Buffer, keylen: number) => Promise<Buffer>;
import { CertificateRejected, checkBinding, checkCurrent, ktConnectMessage, type ProfileName } from "@tigw/hsm";
import {
  Coalescer,
  CommandHandler,
  DocumentProjection,
  DomainError,
  KeyedSerializer,
  StoreProjectionRunner,
  ValidationError,
  type Clock,
  type SecretVault,
  type SqlEventStore,
} from "@tigw/platform";
import {
  checkAccess,
  infomodellDecider,
  initialInfomodell,
  type CallContext,
  type InfomodellCommand,
  type InfomodellEvent,
  type InfomodellState,
} from "../domain/infomodell.js";
import { cardPinDecider, pinResult, type CardPinCommand, type CardPinEvent, type CardPinState, type PinResult } from "../domain/card-pin.js";
import { initialTerminal, terminalDecider, type CardInSlot, type TerminalCommand, type TerminalEvent, type TerminalState } from "../domain/terminal.js";
import type { HsmPort, TenancyPort } from "./ports.js";

const ktStream = (ctId: string) => `kt-${ctId}`;
const infoStream = (unitId: string) => `infomodell-${unitId}`;
const CHALLENGE_TTL_MS = 60_000;
type RefusalReason = "NOT_PAIRED" | "WRONG_KEY" | "WRONG_SECRET" | "CERT_INVALID";

/** The AUT certificate profile of each card type a terminal takes (gemSpec_OID certificate types). */
const CARD_PROFILES: Record<string, ProfileName> = { EGK: "C.CH.AUT", PRUEFKARTE_EGK: "C.CH.AUT", HBA: "C.HP.AUT", "SMC-B": "C.HCI.AUT" };

export type TerminalView = TerminalState & { version: number };
export type CardView = CardInSlot & { slot: number; ctId: string };

/** Observations for metrics: pairing and connect latency, refused connects by reason. */
export interface CardTerminalObserver {
  paired?(ms: number): void;
  connected?(ms: number): void;
  refused?(reason: string): void;
}

/**
 * The card-terminal application. Terminals are assigned to units through tenancy's slot
 * reservation (so tenancy's count and this one agree), paired with a gSMC-KT certificate of the
 * test PKI (hsm) and a secret kept in the vault, and connect by proving both on a fresh challenge.
 */
export class CardTerminals {
  private readonly terminals: CommandHandler<TerminalState, TerminalCommand, TerminalEvent>;
  private readonly infomodelle: CommandHandler<InfomodellState, InfomodellCommand, InfomodellEvent>;
  private readonly pins: CommandHandler<CardPinState, CardPinCommand, CardPinEvent>;
  private readonly serial = new KeyedSerializer();
  private readonly challenges = new Map<string, { challenge: Buffer; expires: number }>();
  /** Transient eGK sessions: card handle -> workplace (gemSpec_Kon: bound to one workplace). */
  private readonly egkSessions = new Map<string, string>();
  /** The simulated PIN pads: entries queued per terminal for the next VerifyPin typed there (memory only: PINs stay out of events). */
  private readonly pinPads = new Map<string, string[]>();
  readonly projection: DocumentProjection<TerminalState>;
  private readonly runner: StoreProjectionRunner;
  private readonly refresh: Coalescer;
  private subCas?: Promise<X509Certificate[]>;

  private constructor(
    private readonly store: SqlEventStore,
    private readonly vault: SecretVault,
    private readonly clock: Clock,
    private readonly tenancy: TenancyPort,
    private readonly hsm: HsmPort,
    private readonly observe: CardTerminalObserver,
    private readonly ocspTimeoutMs: number,
  ) {
    this.terminals = new CommandHandler(store, terminalDecider, 10, 50_000);
    this.infomodelle = new CommandHandler(store, infomodellDecider, 10, 10_000);
    this.pins = new CommandHandler(store, cardPinDecider, 10, 10_000);
    this.projection = new DocumentProjection<TerminalState>({
      name: "terminals",
      schema: store.schema,
      table: "rm_terminals",
      streamPrefix: "kt",
      initial: initialTerminal,
      evolve: (s, e) => terminalDecider.evolve(s, e as TerminalEvent),
      columns: { unit_id: (s) => s.unitId, correlation: (s) => s.correlation },
    });
    this.runner = new StoreProjectionRunner(store, this.projection);
    this.refresh = new Coalescer(() => this.runner.catchUp());
  }

  static async open(o: {
    store: SqlEventStore;
    vault: SecretVault;
    clock: Clock;
    tenancy: TenancyPort;
    hsm: HsmPort;
    observe?: CardTerminalObserver;
    ocspTimeoutMs?: number;
  }): Promise<CardTerminals> {
    const c = new CardTerminals(o.store, o.vault, o.clock, o.tenancy, o.hsm, o.observe ?? {}, o.ocspTimeoutMs ?? 30_000);
    await c.runner.setup();
    await c.runner.catchUp();
    return c;
  }

  private now(): string {
    return this.clock.now().toISOString();
  }

  private async run(ctId: string, command: TerminalCommand): Promise<TerminalView> {
    const r = await this.serial.run(ctId, () =>
      this.terminals.handle(ktStream(ctId), command, { unitId: "unitId" in command ? command.unitId : undefined, occurredAt: new Date(command.at) }),
    );
    await this.refresh.trigger();
    return { ...r.state, version: r.nextExpectedVersion };
  }

  async terminal(ctId: string): Promise<TerminalView> {
    const { state, version } = await this.terminals.load(ktStream(ctId));
    if (!state.exists) throw new DomainError("TERMINAL_NOT_FOUND", `no terminal ${ctId}`, { field: "ctId", value: ctId });
    return { ...state, version };
  }

  async add(t: { ctId: string; mac: string; address: string; vendor: string; model: string; firmware: string }): Promise<TerminalView> {
    return this.run(t.ctId, { type: "AddTerminal", ...t, at: this.now() });
  }

  /**
   * Assigns (reserving a slot in tenancy, whose refusal reaches the caller unchanged) and pairs.
   * Returns the new pairing secret: the only time it leaves the vault.
   */
  async pair(ctId: string, unit: string, certSerial: string): Promise<{ terminal: TerminalView; secret: Buffer }> {
    const t0 = performance.now();
    const t = await this.terminal(ctId);
    const unitId = await this.tenancy.unitId(unit);
    const cert = await this.hsm.certificate(certSerial);
    const now = this.now();
    // Only a C.SMKT.AUT of the KOMP CA, valid now and not revoked, pairs a terminal.
    const problem = await this.certificateProblem(cert.pem, { profile: "C.SMKT.AUT" }, true);
    if (problem)
      throw new DomainError("PAIRING_CERT_INVALID", `certificate ${certSerial} cannot pair a terminal: ${problem.message}`, {
        field: "certSerial",
        value: certSerial,
        problem: problem.problem,
      });
    if (t.correlation === "bekannt") {
      const computeUnit = await this.tenancy.reserveSlot(unitId, ctId);
      try {
        await this.run(ctId, { type: "Assign", unitId, computeUnit, at: now });
      } catch (e) {
        await this.tenancy.releaseSlot(unitId, ctId).catch(() => undefined);
        throw e;
      }
    } else if (t.unitId !== unitId) {
      throw new DomainError("INVALID_TERMINAL_STATE", `terminal ${ctId} belongs to another unit: unpair it first`, { ctId, correlation: t.correlation });
    }
    const secret = randomBytes(32);
    const secretRef = `pairing:${ctId}:${randomUUID()}`;
    await this.vault.put(secretRef, secret, `kt:${ctId}`);
    const terminal = await this.run(ctId, { type: "Pair", certSerial, certPem: cert.pem, secretRef, at: now });
    this.observe.paired?.(performance.now() - t0);
    return { terminal, secret };
  }

  async beginConnect(ctId: string): Promise<Buffer> {
    const t = await this.terminal(ctId);
    if (t.correlation !== "gepairt" && t.correlation !== "aktiv") await this.refuse(t, "NOT_PAIRED");
    const challenge = randomBytes(32);
    this.challenges.set(ctId, { challenge, expires: Date.now() + CHALLENGE_TTL_MS });
    return challenge;
  }

  private async refuse(t: TerminalView, reason: RefusalReason, why?: CertificateRejected): Promise<never> {
    await this.run(t.ctId, { type: "RefuseConnect", reason, at: this.now() });
    this.observe.refused?.(reason);
    throw new DomainError("CONNECT_REFUSED", `terminal ${t.ctId} refused: ${reason}${why ? ` (${why.message})` : ""}`, {
      ctId: t.ctId,
      reason,
      ...(why ? { problem: why.problem } : {}),
    });
  }

  /** The TI PKI's sub-CAs from hsm, asked once (again after a failure). */
  private trustedSubCas(): Promise<X509Certificate[]> {
    this.subCas ??= this.hsm.subCas().then(
      (pems) => pems.map((pem) => new X509Certificate(pem)),
      (e: unknown) => {
        this.subCas = undefined;
        throw e;
      },
    );
    return this.subCas;
  }

  /**
   * Why a certificate is not the expected one (issuer, profile, ICCSN) or, with `current`, not
   * usable now (validity on this service's clock, OCSP); undefined when it is fine.
   */
  private async certificateProblem(pem: string, expect: { profile: ProfileName; iccsn?: string }, current: boolean): Promise<CertificateRejected | undefined> {
    try {
      const { cert, issuer } = checkBinding(pem, { ...expect, subCas: await this.trustedSubCas() });
      if (current) await checkCurrent(cert, issuer, this.clock.now(), { ocspTimeoutMs: this.ocspTimeoutMs });
      return undefined;
    } catch (e) {
      if (e instanceof CertificateRejected) return e;
      throw e;
    }
  }

  /**
   * Checks the terminal's gSMC-KT certificate again (valid now, not revoked: CERT_INVALID), its
   * proof of the gSMC-KT key over the connect message and of the pairing secret.
   */
  async completeConnect(ctId: string, challenge: Buffer, signature: Buffer, secretProof: Buffer): Promise<TerminalView> {
    const t0 = performance.now();
    const t = await this.terminal(ctId);
    const pending = this.challenges.get(ctId);
    this.challenges.delete(ctId);
    if (!pending || pending.expires < Date.now() || !pending.challenge.equals(challenge)) {
      throw new DomainError("CONNECT_REFUSED", `terminal ${ctId}: no such challenge (expired or never issued); begin the connect again`, {
        ctId,
        reason: "NO_CHALLENGE",
      });
    }
    if (t.correlation !== "gepairt" && t.correlation !== "aktiv") return this.refuse(t, "NOT_PAIRED");
    const certProblem = await this.certificateProblem(t.certPem, { profile: "C.SMKT.AUT" }, true);
    if (certProblem) return this.refuse(t, "CERT_INVALID", certProblem);
    let keyOk = false;
    try {
      keyOk = verify("sha256", ktConnectMessage(ctId, challenge), createPublicKey(t.certPem), signature);
    } catch {
      keyOk = false;
    }
    if (!keyOk) return this.refuse(t, "WRONG_KEY");
    const secret = await this.vault.get(t.secretRef);
    const expected = createHmac("sha256", secret).update(challenge).digest();
    if (secretProof.length !== expected.length || !timingSafeEqual(secretProof, expected)) return this.refuse(t, "WRONG_SECRET");
    const view = await this.run(ctId, { type: "RecordConnect", at: this.now() });
    this.observe.connected?.(performance.now() - t0);
    return view;
  }

  async heartbeat(ctId: string): Promise<string> {
    const t = await this.terminal(ctId);
    if (!t.connected) throw new DomainError("TERMINAL_NOT_CONNECTED", `terminal ${ctId} is not connected`, { ctId });
    return this.now();
  }

  async updateFirmware(ctId: string, phase: string, firmware: string, succeeded: boolean): Promise<TerminalView> {
    if (phase === "start") return this.run(ctId, { type: "StartFirmwareUpdate", targetFirmware: firmware, at: this.now() });
    if (phase === "finish") return this.run(ctId, { type: "FinishFirmwareUpdate", succeeded, at: this.now() });
    throw new ValidationError("INVALID_REQUEST", "phase", "phase is start or finish");
  }

  async disconnect(ctId: string): Promise<TerminalView> {
    return this.run(ctId, { type: "Disconnect", at: this.now() });
  }

  /** Unpairing: the terminal can no longer connect, its secret is destroyed, its slot freed. */
  async unpair(ctId: string, reason: string): Promise<TerminalView> {
    const before = await this.terminal(ctId);
    const view = await this.run(ctId, { type: "Unpair", reason, at: this.now() });
    if (before.unitId) await this.tenancy.releaseSlot(before.unitId, ctId);
    if (before.secretRef) await this.vault.delete(before.secretRef);
    for (const card of Object.values(before.cards)) this.egkSessions.delete(card.handle);
    return view;
  }

  /**
   * Inserts a card. A certificate named with it must be that card's: its ICCSN, the AUT profile of
   * its type, issued by that type's sub-CA (CARD_CERT_INVALID otherwise; validity and revocation
   * are for the operations using the card to judge, e.g. VSDM's result 4). An SMC-B or HBA seen
   * for the first time with a PIN is personalised with it (the PIN goes to the vault); later
   * insertions keep its PIN state (tries, blocked).
   */
  async insertCard(ctId: string, c: { slot: number; cardType: string; iccsn: string; certSerial: string; pin?: string }): Promise<CardView> {
    const handle = randomUUID();
    const { pin, ...card } = c;
    if (pin && !/^\d{4,8}$/.test(pin)) throw new ValidationError("INVALID_PIN", "pin", "a PIN has 4 to 8 digits");
    const profile = CARD_PROFILES[c.cardType];
    if (c.certSerial && profile && /^\d{20}$/.test(c.iccsn)) {
      const cert = await this.hsm.certificate(c.certSerial);
      const problem = await this.certificateProblem(cert.pem, { profile, iccsn: c.iccsn }, false);
      if (problem)
        throw new DomainError("CARD_CERT_INVALID", `certificate ${c.certSerial} is not the ${c.cardType} ${c.iccsn}'s: ${problem.message}`, {
          field: "certSerial",
          value: c.certSerial,
          problem: problem.problem,
        });
    }
    const view = await this.run(ctId, { type: "InsertCard", ...card, handle, at: this.now() });
    if (pin && (c.cardType === "SMC-B" || c.cardType === "HBA")) {
      const stream = `card-${c.iccsn}`;
      if (!(await this.pins.load(stream)).state.exists) {
        const pinRef = `pin:${c.iccsn}:${randomUUID()}`;
        await this.vault.put(pinRef, Buffer.from(pin), `card:${c.iccsn}`);
        // The card's PUK (8 digits, as on a PIN letter), only ever in the vault.
        const pukRef = `puk:${c.iccsn}:${randomUUID()}`;
        await this.vault.put(pukRef, Buffer.from(String(randomBytes(4).readUInt32BE() % 100_000_000).padStart(8, "0")), `card:${c.iccsn}`);
        const at = this.now();
        await this.serial.run(stream, () =>
          this.pins.handle(stream, { type: "Personalise", iccsn: c.iccsn, cardType: c.cardType, pinRef, pukRef, at }, { occurredAt: new Date(at) }),
        );
      }
    }
    return { ...view.cards[String(c.slot)]!, slot: c.slot, ctId };
  }

  private async cardByHandle(handle: string): Promise<CardView> {
    await this.refresh.trigger();
    for (const t of await this.projection.list(this.store.sql)) {
      for (const [slot, c] of Object.entries(t.cards)) if (c.handle === handle) return { ...c, slot: Number(slot), ctId: t.ctId };
    }
    throw new DomainError("4008", `no card with handle ${handle} is inserted`, { field: "cardHandle", value: handle });
  }

  /** VerifyPin of an inserted SMC-B or HBA: OK, REJECTED (tries left), NOWBLOCKED, WASBLOCKED. */
  /** Queues what the next PIN entry at a terminal's PIN pad types (simulation); answers how many entries wait. */
  async enterPin(ctId: string, pin: string): Promise<number> {
    if (!/^\d{4,8}$/.test(pin)) throw new ValidationError("INVALID_PIN", "pin", "a PIN has 4 to 8 digits");
    await this.terminal(ctId);
    const queue = this.pinPads.get(ctId) ?? [];
    if (queue.length >= 10) throw new ValidationError("INVALID_REQUEST", "pin", `terminal ${ctId} already has 10 PIN entries waiting`);
    queue.push(pin);
    this.pinPads.set(ctId, queue);
    return queue.length;
  }

  /**
   * VerifyPin of an inserted SMC-B or HBA: OK, REJECTED (tries left), NOWBLOCKED, WASBLOCKED.
   * fromPinPad: the PIN is typed at the card's terminal (the next queued entry, else the right PIN).
   */
  async verifyPin(handle: string, pin: string, fromPinPad = false): Promise<{ result: PinResult; leftTries: number }> {
    const card = await this.cardByHandle(handle);
    const stream = `card-${card.iccsn}`;
    return this.serial.run(stream, async () => {
      const { state } = await this.pins.load(stream);
      if (!state.exists) throw new DomainError("PIN_NOT_SET", `card ${card.iccsn} has no PIN`, { field: "cardHandle" });
      const expected = await this.vault.get(state.pinRef);
      if (fromPinPad) pin = this.pinPads.get(card.ctId)?.shift() ?? expected.toString();
      const given = Buffer.from(pin);
      const correct = given.length === expected.length && timingSafeEqual(given, expected);
      const at = this.now();
      const r = await this.pins.handle(stream, { type: "Verify", handle, correct, at }, { occurredAt: new Date(at) });
      return {
        result: pinResult(
          r.events.map((e) => ({ type: e.type, data: e.data }) as CardPinEvent),
          r.state,
        ),
        leftTries: r.state.leftTries,
      };
    });
  }

  /**
   * ChangePin at the card's terminal: the new PIN is the last entry queued at the simulated PIN
   * pad (EnterPin; required), an earlier entry is the old PIN (else the holder types it right).
   */
  async changePin(handle: string): Promise<{ result: PinResult; leftTries: number }> {
    const card = await this.cardByHandle(handle);
    const stream = `card-${card.iccsn}`;
    return this.serial.run(stream, async () => {
      const { state } = await this.pins.load(stream);
      if (!state.exists) throw new DomainError("PIN_NOT_SET", `card ${card.iccsn} has no PIN`, { field: "cardHandle" });
      const [old, fresh] = this.pinPadPair(card.ctId, "ChangePin");
      const expected = await this.vault.get(state.pinRef);
      const typed = Buffer.from(old ?? expected.toString());
      const newPinRef = `pin:${card.iccsn}:${randomUUID()}`;
      await this.vault.put(newPinRef, Buffer.from(fresh), `card:${card.iccsn}`);
      const at = this.now();
      const correct = typed.length === expected.length && timingSafeEqual(typed, expected);
      const r = await this.pins.handle(stream, { type: "ChangePin", handle, correct, newPinRef, at }, { occurredAt: new Date(at) });
      return {
        result: pinResult(
          r.events.map((e) => ({ type: e.type, data: e.data }) as CardPinEvent),
          r.state,
        ),
        leftTries: r.state.leftTries,
      };
    });
  }

  /**
   * UnblockPin with the card's PUK typed at the terminal (an earlier queued entry, else the right
   * PUK); with setNewPin the last queued entry becomes the PIN, else the PIN stays and only its
   * retry counter is reset. Ten wrong PUKs block the PUK for good.
   */
  async unblockPin(handle: string, setNewPin: boolean): Promise<{ result: PinResult; leftTries: number }> {
    const card = await this.cardByHandle(handle);
    const stream = `card-${card.iccsn}`;
    return this.serial.run(stream, async () => {
      const { state } = await this.pins.load(stream);
      if (!state.exists) throw new DomainError("PIN_NOT_SET", `card ${card.iccsn} has no PIN`, { field: "cardHandle" });
      if (!state.pukRef) throw new DomainError("PUK_NOT_SET", `card ${card.iccsn} has no PUK (personalised before cards had one)`, { field: "cardHandle" });
      let puk: string | undefined;
      let newPinRef: string | undefined;
      if (setNewPin) {
        const [first, fresh] = this.pinPadPair(card.ctId, "UnblockPin with SetNewPin");
        puk = first;
        newPinRef = `pin:${card.iccsn}:${randomUUID()}`;
        await this.vault.put(newPinRef, Buffer.from(fresh), `card:${card.iccsn}`);
      } else puk = this.pinPads.get(card.ctId)?.shift();
      const expected = await this.vault.get(state.pukRef);
      const typed = Buffer.from(puk ?? expected.toString());
      const pukCorrect = typed.length === expected.length && timingSafeEqual(typed, expected);
      const at = this.now();
      const r = await this.pins.handle(stream, { type: "UnblockPin", handle, pukCorrect, newPinRef, at }, { occurredAt: new Date(at) });
      return {
        result: pinResult(
          r.events.map((e) => ({ type: e.type, data: e.data }) as CardPinEvent),
          r.state,
        ),
        leftTries: r.state.leftTries,
      };
    });
  }

  /** Two PIN pad entries for an operation that sets a new PIN: [earlier entry or undefined, the new PIN (required)]. */
  private pinPadPair(ctId: string, what: string): [string | undefined, string] {
    const queue = this.pinPads.get(ctId) ?? [];
    if (!queue.length) throw new ValidationError("PIN_PAD_EMPTY", "pin", `${what} needs the new PIN typed at terminal ${ctId} (EnterPin)`);
    const first = queue.length >= 2 ? queue.shift() : undefined;
    return [first, queue.shift()!];
  }

  /** GetPinStatus: VERIFIED (in this insertion), VERIFIABLE with the tries left, or BLOCKED. */
  async pinStatus(handle: string): Promise<{ status: "VERIFIED" | "VERIFIABLE" | "BLOCKED" | "EMPTY_PIN"; leftTries: number }> {
    const card = await this.cardByHandle(handle);
    const { state } = await this.pins.load(`card-${card.iccsn}`);
    if (!state.exists) return { status: "EMPTY_PIN", leftTries: 0 };
    if (state.blocked) return { status: "BLOCKED", leftTries: 0 };
    return { status: state.verifiedHandle === handle ? "VERIFIED" : "VERIFIABLE", leftTries: state.leftTries };
  }

  async removeCard(ctId: string, slot: number): Promise<boolean> {
    const before = await this.terminal(ctId);
    const card = before.cards[String(slot)];
    await this.run(ctId, { type: "RemoveCard", slot, at: this.now() });
    if (card) this.egkSessions.delete(card.handle);
    return Boolean(card);
  }

  async list(unitId?: string): Promise<TerminalView[]> {
    await this.refresh.trigger();
    const all = await this.projection.list(this.store.sql, "id");
    return unitId ? all.filter((t) => t.unitId === unitId) : all;
  }

  async cards(unitId: string): Promise<CardView[]> {
    return (await this.list(unitId)).flatMap((t) => Object.entries(t.cards).map(([slot, c]) => ({ ...c, slot: Number(slot), ctId: t.ctId })));
  }

  // ---- Infomodell -------------------------------------------------------------------------

  async infomodell(unitId: string): Promise<InfomodellState> {
    const { state } = await this.infomodelle.load(infoStream(unitId));
    return state.unitId ? state : { ...initialInfomodell(), unitId };
  }

  async configure(
    unit: string,
    r: { action: string; mandantId: string; clientSystemId: string; workplaceId: string; clientSystemIds: string[]; ctId: string; kind: string; iccsn: string },
  ): Promise<InfomodellState> {
    const { unitId, mandanten } = await this.tenancy.unit(unit);
    const at = this.now();
    let command: InfomodellCommand;
    switch (r.action) {
      case "mandant":
        if (!mandanten.includes(r.mandantId))
          throw new DomainError("4004", `Mandant ${r.mandantId} is not hosted on this unit (tigw mandant add first)`, {
            field: "mandantId",
            value: r.mandantId,
          });
        command = { type: "RegisterMandant", unitId, mandantId: r.mandantId, at };
        break;
      case "client-system":
        command = { type: "AssignClientSystem", mandantId: r.mandantId, clientSystemId: r.clientSystemId, at };
        break;
      case "workplace":
        command = { type: "AssignWorkplace", mandantId: r.mandantId, workplaceId: r.workplaceId, clientSystemIds: r.clientSystemIds, at };
        break;
      case "terminal":
      case "workplace-terminal": {
        const t = await this.terminal(r.ctId);
        if (t.unitId !== unitId) throw new DomainError("4007", `terminal ${r.ctId} is not paired with this unit`, { field: "ctId", value: r.ctId });
        command =
          r.action === "terminal"
            ? { type: "AssignTerminalToMandant", mandantId: r.mandantId, ctId: r.ctId, at }
            : { type: "SetWorkplaceTerminal", workplaceId: r.workplaceId, ctId: r.ctId, kind: r.kind as "local", at };
        break;
      }
      case "smb":
        command = { type: "ManageSmb", mandantId: r.mandantId, iccsn: r.iccsn, at };
        break;
      default:
        throw new ValidationError("INVALID_REQUEST", "action", "action is mandant, client-system, workplace, terminal, workplace-terminal or smb");
    }
    return (await this.serial.run(`info:${unitId}`, () => this.infomodelle.handle(infoStream(unitId), command, { unitId, occurredAt: new Date(command.at) })))
      .state;
  }

  /** TUC_KON_000 for a call; on success an eGK access binds the card's session to the workplace. */
  /** Sets how the unit's client systems authenticate at its SOAP interface (none, basic, mtls). */
  async setClientAuth(unit: string, mode: string): Promise<InfomodellState> {
    const { unitId } = await this.tenancy.unit(unit);
    return this.runInfomodell(unitId, { type: "SetClientAuth", mode, at: this.now() });
  }

  /**
   * Registers what a client system authenticates with: a password (at least 8 characters; its
   * scrypt hash goes to the vault, the event carries the reference) and/or a TLS client
   * certificate (RSA or ECC; the event carries its SHA-256 fingerprint and subject).
   */
  async setClientSystemCredential(unit: string, clientSystemId: string, o: { password?: string; certPem?: string }): Promise<InfomodellState> {
    const { unitId } = await this.tenancy.unit(unit);
    if (!o.password && !o.certPem) throw new ValidationError("INVALID_REQUEST", "password", "give a password or a certificate (PEM)");
    let state: InfomodellState | undefined;
    if (o.password) {
      if (o.password.length < 8 || o.password.length > 256)
        throw new ValidationError("INVALID_PASSWORD", "password", "a client system password has 8 to 256 characters");
      const salt = randomBytes(16);
      const passwordRef = `client-system:${unitId}:${clientSystemId}:${randomUUID()}`;
      await this.vault.put(passwordRef, Buffer.concat([salt, await scryptAsync(o.password, salt, 32)]), `client-system:${unitId}`);
      state = await this.runInfomodell(unitId, { type: "SetClientSystemPassword", clientSystemId, passwordRef, at: this.now() });
    }
    if (o.certPem) {
      let cert: X509Certificate;
      try {
        cert = new X509Certificate(o.certPem);
      } catch {
        throw new ValidationError("INVALID_CERTIFICATE", "certPem", "certPem is not an X.509 certificate in PEM");
      }
      state = await this.runInfomodell(unitId, {
        type: "RegisterClientSystemCertificate",
        clientSystemId,
        fingerprint: cert.fingerprint256,
        subject: cert.subject.replaceAll("\n", ", "),
        at: this.now(),
      });
    }
    return state!;
  }

  /** Passwords that matched lately (hash of reference and password -> until), so a busy client system costs one scrypt a minute. */
  private readonly passwordsSeen = new Map<string, number>();

  /**
   * Whether a client system authenticated as the unit's mode asks: none lets every call through;
   * basic wants the client system's id as the user name and its password; mtls wants the TLS
   * client certificate registered for it. The caller refuses with 4204 when not.
   */
  async authenticateClient(
    unit: string,
    clientSystemId: string,
    presented: { basicUser: string; password: string; certFingerprint: string },
  ): Promise<{ mode: string; authenticated: boolean }> {
    const { unitId } = await this.tenancy.unit(unit);
    const info = await this.infomodell(unitId);
    const mode = info.clientAuth ?? "none";
    const cred = info.credentials?.[clientSystemId];
    if (mode === "none") return { mode, authenticated: true };
    if (mode === "mtls") return { mode, authenticated: !!cred?.certFingerprint && cred.certFingerprint === presented.certFingerprint };
    if (!cred?.passwordRef || presented.basicUser !== clientSystemId || !presented.password) return { mode, authenticated: false };
    const key = createHash("sha256").update(cred.passwordRef).update("\0").update(presented.password).digest("hex");
    if ((this.passwordsSeen.get(key) ?? 0) > Date.now()) return { mode, authenticated: true };
    const stored = await this.vault.get(cred.passwordRef);
    const given = await scryptAsync(presented.password, stored.subarray(0, 16), 32);
    const ok = timingSafeEqual(given, stored.subarray(16));
    if (ok) {
      if (this.passwordsSeen.size > 10_000) this.passwordsSeen.clear();
      this.passwordsSeen.set(key, Date.now() + 60_000);
    }
    return { mode, authenticated: ok };
  }

  private async runInfomodell(unitId: string, command: InfomodellCommand): Promise<InfomodellState> {
    return (await this.serial.run(`info:${unitId}`, () => this.infomodelle.handle(infoStream(unitId), command, { unitId, occurredAt: new Date(command.at) })))
      .state;
  }

  async checkAccess(
    unit: string,
    ctx: CallContext,
    target: { ctId?: string; cardHandle?: string; workplaceRequired?: boolean },
  ): Promise<CardView | undefined> {
    const unitId = await this.tenancy.unitId(unit);
    const [info, terminals] = await Promise.all([this.infomodell(unitId), this.list(unitId)]);
    const card = target.cardHandle ? (await this.cards(unitId)).find((c) => c.handle === target.cardHandle) : undefined;
    checkAccess(info, ctx, {
      ctId: target.ctId || undefined,
      cardHandle: target.cardHandle || undefined,
      card: target.cardHandle ? (card ? { cardType: card.cardType, iccsn: card.iccsn, ctId: card.ctId } : null) : undefined,
      workplaceRequired: target.workplaceRequired,
      egkSessionWorkplace: card ? this.egkSessions.get(card.handle) : undefined,
      knownTerminals: terminals.filter((t) => t.correlation !== "bekannt").map((t) => t.ctId),
    });
    if (card && (card.cardType === "EGK" || card.cardType === "PRUEFKARTE_EGK")) this.egkSessions.set(card.handle, ctx.workplaceId);
    return card;
  }
}
