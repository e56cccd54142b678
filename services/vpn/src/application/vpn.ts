import { X509Certificate } from "node:crypto";
import {
  call,
  Coalescer,
  CommandHandler,
  createClient,
  DocumentProjection,
  DomainError,
  isUnreachable,
  KeyedSerializer,
  StoreProjectionRunner,
  type Clock,
  type Logger,
  type SqlEventStore,
} from "@tigw/platform";
import { CardTerminalServiceClient } from "@tigw/contracts/cardterminal/v1/card_terminal";
import type * as kt from "@tigw/contracts/cardterminal/v1/card_terminal";
import { HsmServiceClient } from "@tigw/contracts/hsm/v1/hsm";
import { KsrServiceClient } from "@tigw/contracts/ksr/v1/ksr";
import type * as ksr from "@tigw/contracts/ksr/v1/ksr";
import type * as hsm from "@tigw/contracts/hsm/v1/hsm";
import { TenancyServiceClient } from "@tigw/contracts/tenancy/v1/tenancy";
import type * as tenancy from "@tigw/contracts/tenancy/v1/tenancy";
import {
  CONTRACT_TI,
  CONTRACT_TI_SIS,
  initialRegistration,
  REGISTERED,
  registrationDecider,
  type ContractStatus,
  type RegistrationCommand,
  type RegistrationEvent,
  type RegistrationState,
} from "../domain/registration.js";
import { decideTiAccess, type GsmckIdentityFacts, type TiAccessVerdict } from "../domain/ti-access.js";
import {
  ALG,
  parseAnswer,
  requestXml,
  signatureValueOf,
  SOAP_ACTIONS,
  toBeSigned,
  VpnZugdFault,
  type Operation,
  type VpnZugdRequest,
} from "../vpnzugd/soap.js";
import { dnsOf } from "../vpnzugd/simulator.js";

const regStream = (unitId: string) => `reg-${unitId}`;

/** Where the units' VPN-ZugD listens and how its server certificate is checked. */
export interface VpnZugdEndpoint {
  url: string;
  caPem: string;
  serverName: string;
  timeoutMs: number;
}

export interface TunnelView {
  state: "up" | "down";
  lastHeartbeat: string;
}

export type RegistrationView = RegistrationState & { version: number; verdict: TiAccessVerdict; tiTunnel: TunnelView; sisTunnel: TunnelView };

/** Outcomes of the calls to the VPN-ZugD ("OK" or the code), by operation: for metrics. */
export type Outcomes = Map<string, number>;

/**
 * The vpn application: registers units at the VPN-ZugD (the request signed with a managed SM-B
 * by hsm, sent by hsm in mutual TLS as the unit's C.NK.VPN), records every answer on the unit's
 * Registration stream, keeps the tunnels' heartbeat, and answers the TI-access rule.
 */
export class Vpn {
  private readonly handler: CommandHandler<RegistrationState, RegistrationCommand, RegistrationEvent>;
  private readonly perUnit = new KeyedSerializer();
  readonly projection: DocumentProjection<RegistrationState>;
  private readonly runner: StoreProjectionRunner;
  private readonly refresh: Coalescer;
  private readonly tenancy: TenancyServiceClient;
  private readonly hsm: HsmServiceClient;
  private readonly kt: CardTerminalServiceClient;
  private readonly ksr: KsrServiceClient | undefined;
  /** Last heartbeat per unit and whether it worked: liveness, not a business fact, so not an event. */
  private readonly heartbeats = new Map<string, { at: string; ok: boolean }>();
  private readonly units = new Map<string, { unitId: string; serial: string }>();
  readonly outcomes: Outcomes = new Map();

  constructor(
    readonly store: SqlEventStore,
    readonly clock: Clock,
    addresses: { tenancy: string; hsm: string; cardTerminal: string; ksr?: string },
    private readonly zugd: () => VpnZugdEndpoint,
    /** Where an unexpected failure of a registration is logged (its text is kept out of events). */
    private readonly logger?: Pick<Logger, "error">,
  ) {
    this.handler = new CommandHandler(store, registrationDecider, 10, 10_000);
    this.projection = new DocumentProjection<RegistrationState>({
      name: "registrations",
      schema: store.schema,
      table: "rm_registrations",
      streamPrefix: "reg",
      initial: initialRegistration,
      evolve: (s, e) => registrationDecider.evolve(s, e as RegistrationEvent),
      columns: { serial: (s) => s.serial },
    });
    this.runner = new StoreProjectionRunner(store, this.projection);
    this.refresh = new Coalescer(() => this.runner.catchUp());
    this.tenancy = createClient(TenancyServiceClient, addresses.tenancy, { deadlineMs: 60_000 });
    this.hsm = createClient(HsmServiceClient, addresses.hsm, { deadlineMs: 60_000 });
    this.kt = createClient(CardTerminalServiceClient, addresses.cardTerminal, { deadlineMs: 60_000 });
    this.ksr = addresses.ksr ? createClient(KsrServiceClient, addresses.ksr, { deadlineMs: 60_000 }) : undefined;
  }

  async open(): Promise<void> {
    await this.runner.setup();
    await this.runner.catchUp();
  }

  close(): void {
    for (const c of [this.tenancy, this.hsm, this.kt, this.ksr]) c?.close();
  }

  private now(): string {
    return this.clock.now().toISOString();
  }

  /** A unit by id or serial (tenancy knows it); cached, since neither ever changes. */
  async unit(unit: string): Promise<{ unitId: string; serial: string }> {
    const hit = this.units.get(unit);
    if (hit) return hit;
    const u = (await call<tenancy.GetUnitRequest, tenancy.GetUnitResponse>(this.tenancy.getUnit.bind(this.tenancy), { unit })).unit!;
    const found = { unitId: u.unitId, serial: u.serial };
    if (this.units.size > 20_000) this.units.clear();
    this.units.set(unit, found);
    return found;
  }

  private async record(unitId: string, command: RegistrationCommand): Promise<RegistrationState> {
    const r = await this.handler.handle(regStream(unitId), command, { unitId, occurredAt: new Date(this.now()) });
    await this.refresh.trigger();
    return r.state;
  }

  private count(operation: Operation, result: string): void {
    const key = `${operation}\u0000${result}`;
    this.outcomes.set(key, (this.outcomes.get(key) ?? 0) + 1);
  }

  /**
   * Registers a unit under a ContractID (with SIS when asked and the contract allows it). A
   * refusal of the VPN-ZugD is recorded (the unit is unregistered afterwards) and thrown with its
   * code; so is a VPN-ZugD that cannot be reached or refuses the TLS handshake.
   */
  async register(unit: string, contractId: string, sis: boolean): Promise<RegistrationView> {
    const u = await this.unit(unit);
    return this.perUnit.run(u.unitId, async () => {
      const before = (await this.handler.load(regStream(u.unitId))).state;
      if (before.blocked)
        throw new DomainError(
          "UNIT_BLOCKED",
          `unit ${u.serial} is blocked at the VPN-ZugD (Sperrung: ${before.blockedReason}); lift it first (tigw vpn unblock)`,
          { unitId: u.unitId },
        );
      // Validation before any call: a malformed ContractID is the operator's typo, not a refusal.
      registrationDecider.decide(
        {
          type: "RecordRegistration",
          unitId: u.unitId,
          serial: u.serial,
          contractId,
          contractStatus: CONTRACT_TI,
          sisRequested: sis,
          dns: before.dns,
          at: this.now(),
        },
        initialRegistration(),
      );
      try {
        const answer = await this.send(u, "register", contractId);
        if (answer.registrationStatus !== REGISTERED || (answer.contractStatus !== CONTRACT_TI && answer.contractStatus !== CONTRACT_TI_SIS)) {
          throw new VpnZugdFault("7071", `registration failed: the VPN-ZugD answered "${answer.registrationStatus}" / "${answer.contractStatus}"`);
        }
        await this.record(u.unitId, {
          type: "RecordRegistration",
          unitId: u.unitId,
          serial: u.serial,
          contractId,
          contractStatus: answer.contractStatus as ContractStatus,
          sisRequested: sis,
          dns: dnsOf(answer.additionalInformation),
          at: this.now(),
        });
        this.heartbeats.set(u.unitId, { at: this.now(), ok: true });
        this.count("register", "OK");
      } catch (e) {
        const f = asFailure(e, "7071", this.logger);
        this.count("register", f.code);
        await this.record(u.unitId, {
          type: "RecordRegistrationFailure",
          unitId: u.unitId,
          serial: u.serial,
          contractId,
          code: f.code,
          message: f.message,
          at: this.now(),
        });
        this.heartbeats.delete(u.unitId);
        throw new DomainError(f.code, f.message, { unitId: u.unitId, serial: u.serial, registrationStatus: "Nicht registriert" });
      }
      return this.view(u.unitId);
    });
  }

  /** Deregisters; a refusal is recorded (the unit stays registered) and thrown with its code. */
  async deregister(unit: string): Promise<RegistrationView> {
    const u = await this.unit(unit);
    return this.perUnit.run(u.unitId, async () => {
      const before = (await this.handler.load(regStream(u.unitId))).state;
      if (before.status !== REGISTERED) return this.view(u.unitId);
      try {
        await this.send(u, "deregister", before.contractId);
        await this.record(u.unitId, { type: "RecordDeregistration", at: this.now() });
        this.heartbeats.delete(u.unitId);
        this.count("deregister", "OK");
      } catch (e) {
        const f = asFailure(e, "7081", this.logger);
        this.count("deregister", f.code);
        await this.record(u.unitId, { type: "RecordDeregistrationFailure", code: f.code, message: f.message, at: this.now() });
        throw new DomainError(f.code, f.message, { unitId: u.unitId, serial: u.serial, registrationStatus: REGISTERED });
      }
      return this.view(u.unitId);
    });
  }

  async setMtu(unit: string, mtu: number): Promise<RegistrationView> {
    const u = await this.unit(unit);
    await this.perUnit.run(u.unitId, () => this.record(u.unitId, { type: "SetMtu", unitId: u.unitId, serial: u.serial, mtu, at: this.now() }));
    return this.view(u.unitId);
  }

  /**
   * Sperrung by serial number and contract data (theft, tampering): the VPN-ZugD blocks the
   * Konnektor (its registration ends there), and the unit's TI access ends here at once.
   */
  async block(
    serial: string,
    contractId: string,
    reason: string,
    zugdBlock: (serial: string, contractId: string, reason: string) => Promise<unknown>,
  ): Promise<RegistrationView> {
    const u = await this.unit(serial);
    if (u.serial !== serial) throw new DomainError("UNIT_NOT_FOUND", `the Sperrung needs the unit's serial number, not "${serial}"`, { field: "serial" });
    return this.perUnit.run(u.unitId, async () => {
      await zugdBlock(serial, contractId, reason || "Sperrung");
      await this.record(u.unitId, { type: "RecordBlock", unitId: u.unitId, serial, contractId, reason: reason || "Sperrung", at: this.now() });
      this.heartbeats.delete(u.unitId);
      return this.view(u.unitId);
    });
  }

  /** Lifts the Sperrung; TI access returns only with a new registration. */
  async unblock(serial: string, contractId: string, zugdUnblock: (serial: string, contractId: string) => Promise<unknown>): Promise<RegistrationView> {
    const u = await this.unit(serial);
    return this.perUnit.run(u.unitId, async () => {
      await zugdUnblock(serial, contractId);
      await this.record(u.unitId, { type: "RecordUnblock", at: this.now() });
      return this.view(u.unitId);
    });
  }

  /** The TI-access rule for one unit, on the facts of now. */
  async tiAccess(unit: string): Promise<TiAccessVerdict & { unitId: string }> {
    const u = await this.unit(unit);
    const { state } = await this.handler.load(regStream(u.unitId));
    return { ...(await this.verdict(state.exists ? state : { ...state, unitId: u.unitId, serial: u.serial })), unitId: u.unitId };
  }

  private async verdict(state: RegistrationState): Promise<TiAccessVerdict> {
    const [identities, blockers] = await Promise.all([this.identities(state.unitId), this.firmwareBlockers(state.unitId)]);
    return decideTiAccess({ registration: state, identities, now: this.now(), blockers });
  }

  /**
   * The KSR's clause: a critical firmware update past its deadline ends TI access until it is
   * installed. Without a ksr (a deployment that runs none) there is no such clause; a ksr that
   * cannot be asked fails the question, as an hsm that cannot be asked does.
   */
  private async firmwareBlockers(unitId: string): Promise<string[]> {
    if (!this.ksr) return [];
    return (await call<ksr.GetTiBlockersRequest, ksr.GetTiBlockersResponse>(this.ksr.getTiBlockers.bind(this.ksr), { unit: unitId })).reasons;
  }

  private async identities(unitId: string): Promise<GsmckIdentityFacts[] | undefined> {
    try {
      const { securityModule } = await call<hsm.GetSecurityModuleRequest, hsm.GetSecurityModuleResponse>(this.hsm.getSecurityModule.bind(this.hsm), { unitId });
      return securityModule!.identities.map((i) => ({
        name: i.name,
        notBefore: i.certificate!.notBefore,
        notAfter: i.certificate!.notAfter,
        ocspStatus: i.certificate!.ocspStatus,
      }));
    } catch (e) {
      if (e instanceof DomainError && e.code === "SECURITY_MODULE_NOT_FOUND") return undefined;
      throw e;
    }
  }

  private async viewOf(state: RegistrationState, version: number): Promise<RegistrationView> {
    const verdict = await this.verdict(state);
    const hb = this.heartbeats.get(state.unitId) ?? { at: state.registeredAt, ok: true };
    const tiUp = verdict.tiAccess && hb.ok;
    return {
      ...state,
      version,
      verdict,
      tiTunnel: { state: tiUp ? "up" : "down", lastHeartbeat: state.status === REGISTERED ? hb.at : "" },
      sisTunnel: { state: tiUp && verdict.sisAccess ? "up" : "down", lastHeartbeat: verdict.sisAccess ? hb.at : "" },
    };
  }

  async view(unit: string): Promise<RegistrationView> {
    const u = await this.unit(unit);
    const { state, version } = await this.handler.load(regStream(u.unitId));
    return this.viewOf(state.exists ? state : { ...state, unitId: u.unitId, serial: u.serial }, version);
  }

  async list(): Promise<RegistrationView[]> {
    await this.refresh.trigger();
    const all = await this.projection.list(this.store.sql, "serial");
    return Promise.all(all.map((s) => this.viewOf(s, s.version)));
  }

  /**
   * The tunnels' heartbeat: asks the VPN-ZugD (statusOperation, mutual TLS) about every
   * registered unit. A unit the VPN-ZugD no longer knows, or that cannot reach it, has its
   * tunnels down until the next good heartbeat.
   */
  async heartbeat(): Promise<void> {
    await this.refresh.trigger();
    for (const s of await this.projection.list(this.store.sql)) {
      if (s.status !== REGISTERED) continue;
      const ok = await this.send(s, "status", s.contractId).then(
        (a) => a.registrationStatus === REGISTERED,
        () => false,
      );
      this.heartbeats.set(s.unitId, { at: ok ? this.now() : (this.heartbeats.get(s.unitId)?.at ?? s.registeredAt), ok });
    }
  }

  /** One call to the VPN-ZugD as the unit: built here, signed by the SM-B and sent by hsm. */
  private async send(u: { unitId: string; serial: string }, operation: Operation, contractId: string) {
    const sm = (await call<hsm.GetSecurityModuleRequest, hsm.GetSecurityModuleResponse>(this.hsm.getSecurityModule.bind(this.hsm), { unitId: u.unitId }))
      .securityModule!;
    const vpnCert = sm.identities.find((i) => i.name === "C.NK.VPN")!.certificate!;
    const certificate = new X509Certificate(vpnCert.pem).raw;
    const timestamp = this.now();
    let request: VpnZugdRequest;
    if (operation === "status") {
      request = { operation, timestamp, certificate };
    } else {
      const smb = await this.managedSmb(u);
      const smbCert = new X509Certificate(smb.pem);
      const method = smbCert.publicKey.asymmetricKeyType === "rsa" ? ALG.rsaSha256 : ALG.ecdsaSha256;
      const signerCertificate = smbCert.raw;
      // XMLDSig: the SM-B signs the exc-c14n SignedInfo, whose DigestValue covers the Envelope.
      const { digest, signedInfo } = toBeSigned({ operation, timestamp, certificate, contractId }, method, signerCertificate);
      const { signature } = await call<hsm.SignRequest, hsm.SignResponse>(this.hsm.sign.bind(this.hsm), {
        certSerial: smb.certSerial,
        data: signedInfo,
        scheme: "",
      });
      request = {
        operation,
        timestamp,
        certificate,
        contractId,
        signature: { method, digest, value: signatureValueOf(Buffer.from(signature), smbCert.publicKey), signerCertificate },
      };
    }
    const zugd = this.zugd();
    const res = await call<hsm.PostOverMutualTlsRequest, hsm.PostOverMutualTlsResponse>(
      this.hsm.postOverMutualTls.bind(this.hsm),
      {
        unitId: u.unitId,
        identity: "C.NK.VPN",
        url: zugd.url,
        body: Buffer.from(requestXml(request)),
        contentType: "text/xml; charset=utf-8",
        soapAction: SOAP_ACTIONS[operation],
        caPems: [zugd.caPem],
        serverName: zugd.serverName,
        timeoutMs: zugd.timeoutMs,
      },
      { deadline: Date.now() + zugd.timeoutMs + 5_000 },
    );
    return parseAnswer(operation, Buffer.from(res.body).toString("utf8"));
  }

  /**
   * The SM-B that signs: an inserted SMC-B managed (Infomodell, or named in tenancy) by one of
   * the unit's Mandanten. Refused with NO_MANAGED_SMB when there is none.
   */
  private async managedSmb(u: { unitId: string; serial: string }): Promise<{ certSerial: string; pem: string }> {
    const [mandanten, info, cards] = await Promise.all([
      call<tenancy.ListMandantenRequest, tenancy.ListMandantenResponse>(this.tenancy.listMandanten.bind(this.tenancy), { unit: u.unitId }),
      call<kt.GetInfomodellRequest, kt.GetInfomodellResponse>(this.kt.getInfomodell.bind(this.kt), { unit: u.unitId }).catch(() => ({ infomodell: undefined })),
      call<kt.ListCardsRequest, kt.ListCardsResponse>(this.kt.listCards.bind(this.kt), { unit: u.unitId }),
    ]);
    const managed = new Set([...mandanten.mandanten.map((m) => m.smcbIccsn), ...(info.infomodell?.mandanten ?? []).flatMap((m) => m.smbs)].filter(Boolean));
    const card = cards.cards.find((c) => c.cardType === "SMC-B" && managed.has(c.iccsn) && c.certSerial);
    if (!card)
      throw new DomainError(
        "NO_MANAGED_SMB",
        `no SMC-B managed by a Mandant of unit ${u.serial} is inserted: the VPN-ZugD registration must be signed with one (tigw infomodell ${u.serial} smb ...)`,
        { unitId: u.unitId },
      );
    const { certificate } = await call<hsm.GetCertificateRequest, hsm.GetCertificateResponse>(this.hsm.getCertificate.bind(this.hsm), {
      certSerial: card.certSerial,
    });
    return { certSerial: card.certSerial, pem: certificate!.pem };
  }
}

/** What a failed call to the VPN-ZugD is recorded as: its gematik code, or why it could not be asked. */
function asFailure(e: unknown, fallback: string, logger?: Pick<Logger, "error">): { code: string; message: string } {
  if (e instanceof VpnZugdFault) return { code: e.code, message: e.message };
  if (e instanceof DomainError && (e.code === "TLS_REFUSED" || e.code === "PEER_UNREACHABLE"))
    return { code: e.code, message: `the VPN-ZugD cannot be reached: ${e.message}` };
  if (e instanceof DomainError && e.code === "NO_MANAGED_SMB") throw e;
  if (e instanceof DomainError) return { code: e.code, message: e.message };
  // hsm or tenancy out of reach is not the VPN-ZugD's answer: nothing is recorded, the caller gets
  // UNAVAILABLE. Anything else unexpected is recorded without its text, which may hold internals
  // (addresses, stack details); the service's log has it.
  if (isUnreachable(e)) throw e;
  logger?.error({ err: e }, "VPN-ZugD call failed inside the Konnektor");
  return { code: fallback, message: "the registration failed inside the Konnektor (see the vpn service's log)" };
}
