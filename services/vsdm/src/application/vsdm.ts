import { X509Certificate } from "node:crypto";
import { gzipSync } from "node:zlib";
import { SpanStatusCode, trace } from "@opentelemetry/api";
import { askOcsp, OcspUnreachable } from "@tigw/hsm";
import {
  ANY,
  call,
  Coalescer,
  CommandHandler,
  createClient,
  DomainError,
  isUnreachable,
  StoreProjectionRunner,
  ValidationError,
  type Clock,
  type Decider,
  type SqlEventStore,
} from "@tigw/platform";
import { CardTerminalServiceClient } from "@tigw/contracts/cardterminal/v1/card_terminal";
import type * as kt from "@tigw/contracts/cardterminal/v1/card_terminal";
import { HsmServiceClient } from "@tigw/contracts/hsm/v1/hsm";
import type * as hsm from "@tigw/contracts/hsm/v1/hsm";
import { TenancyServiceClient } from "@tigw/contracts/tenancy/v1/tenancy";
import type * as tenancy from "@tigw/contracts/tenancy/v1/tenancy";
import { VpnServiceClient } from "@tigw/contracts/vpn/v1/vpn";
import type * as vpn from "@tigw/contracts/vpn/v1/vpn";
import { decideRead, type ReadFacts } from "../fachmodul/outcome.js";
import { FachdienstSimulator } from "../fachmodul/fachdienst.js";
import { pruefungsnachweisXml } from "../fachmodul/pruefungsnachweis.js";
import { generatePopulation, pruefkarte, pruefkarteByIccsn, type InsuredPerson } from "../population/insured.js";
import { toIso885915, vsdDocuments } from "../population/vsd-xml.js";
import { ProtocolProjection } from "./protocol-projection.js";

export interface ProtocolEntry {
  at: string;
  unitId: string;
  mandantId: string;
  workplaceId: string;
  ctId: string;
  /** KVNR may be logged (as the real Fachmodul does); names and addresses never are. */
  kvnr: string;
  steps: { name: string; ms: number; detail: string }[];
  ocsp: string;
  outcome: "ok" | "warning" | "error";
  code: string;
  result: number;
}

/**
 * The protocol of a unit: the stream `protocol-<unit>` of VsdReadProtocolled entries. Append-only
 * and decided on no state, so an entry goes to the stream's end without reading it (ANY): a read
 * costs the same after 10,000 reads as after one, and concurrent reads never conflict.
 */
const protocolStream = (unitId: string) => `protocol-${unitId}`;

type OnlineCheckEvent = { type: "OnlineCheckSucceeded"; data: { at: string } };
/**
 * When an eGK last passed an online check (result 1 or 2), one stream per card (ICCSN): the
 * offline period that turns result 5 or 3 into 6. Survives restarts.
 */
const onlineCheckDecider: Decider<string | null, { at: string }, OnlineCheckEvent> = {
  initialState: () => null,
  evolve: (_, e) => e.data.at,
  decide: (c) => [{ type: "OnlineCheckSucceeded", data: c }],
};

export interface VsdmSettings {
  /** How long the Fachdienst may take before the online check counts as impossible (result 5). */
  fachdienstTimeoutMs: number;
  /** Maximum offline period (days since a card's last successful online check) before result 6. */
  maxOfflineDays: number;
  /** How long the OCSP responder may take before the AUT check counts as impossible (result 5). */
  ocspTimeoutMs: number;
}

export interface ReadRequest {
  unit: string;
  context: { mandantId: string; clientSystemId: string; workplaceId: string; userId: string };
  ehcHandle: string;
  hpcHandle: string;
  performOnlineCheck: boolean;
  readOnlineReceipt: boolean;
}

export interface ReadAnswer {
  persoenlicheVersichertendaten: Buffer;
  allgemeineVersicherungsdaten: Buffer;
  geschuetzteVersichertendaten: Buffer;
  vsdStatus: { status: string; timestamp: string; version: string };
  pruefungsnachweis: Buffer;
  result: number;
  errorCode: number;
}

const gzipIso = (xml: string) => gzipSync(toIso885915(xml));
const tracer = trace.getTracer("tigw.vsdm");

/**
 * The VSDM Fachmodul: ReadVSD through the access check (card-terminal), the SMC-B's PIN state,
 * the OCSP status and validity of the eGK's C.CH.AUT and card-to-card authentication (hsm), the
 * online check with the simulated Fachdienst, and a protocol entry for every read.
 */
export class Vsdm {
  private readonly byIccsn = new Map<string, InsuredPerson>();
  private readonly byKvnr = new Map<string, InsuredPerson>();
  private readonly protocolView: ProtocolProjection;
  private readonly protocolRunner: StoreProjectionRunner;
  /** Brings the protocol read model up to date (concurrent callers share one catch-up). */
  private readonly refreshProtocol: Coalescer;
  private readonly onlineChecks: CommandHandler<string | null, { at: string }, OnlineCheckEvent>;
  /** The sub-CA certificates of the TI PKI, asked of hsm once: the issuers of the eGKs' C.CH.AUT. */
  private subCas?: Promise<X509Certificate[]>;
  private readonly kt: CardTerminalServiceClient;
  private readonly hsm: HsmServiceClient;
  private readonly tenancy: TenancyServiceClient;
  /** The TI-access rule (vpn); absent (vsdm's own tests), TI access is assumed. */
  private readonly vpn?: VpnServiceClient;
  /** Unit ids by id or serial: they never change, so each is asked of tenancy once. */
  private readonly unitIds = new Map<string, string>();

  constructor(
    private readonly store: SqlEventStore,
    private readonly clock: Clock,
    readonly fachdienst: FachdienstSimulator,
    addresses: { cardTerminal: string; hsm: string; tenancy: string; vpn?: string },
    population: { size: number; seed: number },
    private readonly opts: VsdmSettings = { fachdienstTimeoutMs: 2_000, maxOfflineDays: 90, ocspTimeoutMs: 2_000 },
    /** Sees every protocol entry (metrics). */
    private readonly observe?: (entry: ProtocolEntry) => void,
  ) {
    for (const p of generatePopulation(population.size, population.seed)) {
      this.byIccsn.set(p.card.iccsn, p);
      this.byKvnr.set(p.kvnr, p);
    }
    this.protocolView = new ProtocolProjection(store.schema);
    this.protocolRunner = new StoreProjectionRunner(store, this.protocolView);
    this.refreshProtocol = new Coalescer(() => this.protocolRunner.catchUp());
    this.onlineChecks = new CommandHandler(store, onlineCheckDecider, 20, 10_000);
    this.kt = createClient(CardTerminalServiceClient, addresses.cardTerminal, { deadlineMs: 30_000 });
    this.hsm = createClient(HsmServiceClient, addresses.hsm, { deadlineMs: 30_000 });
    this.tenancy = createClient(TenancyServiceClient, addresses.tenancy, { deadlineMs: 30_000 });
    if (addresses.vpn) this.vpn = createClient(VpnServiceClient, addresses.vpn, { deadlineMs: 30_000 });
  }

  /** Creates the protocol read model and catches it up with the protocol events. */
  async open(): Promise<void> {
    await this.protocolRunner.setup();
    await this.protocolRunner.catchUp();
  }

  close(): void {
    for (const c of [this.kt, this.hsm, this.tenancy, this.vpn]) c?.close();
  }

  /** Issues the eGK of a person (or Prüfkarte n) in the test PKI, in the certificate state the population gives it. */
  async prepareEgk(r: { kvnr: string; pruefkarte: number }): Promise<{ iccsn: string; certSerial: string; kvnr: string; name: string }> {
    const p = r.pruefkarte ? pruefkarte(r.pruefkarte) : this.byKvnr.get(r.kvnr);
    if (!p) throw new DomainError("UNKNOWN_INSURED", `no insured person with KVNR ${r.kvnr} in the simulated population`, { field: "kvnr" });
    const now = this.clock.now();
    const notBefore = p.card.certificate === "expired" ? new Date(now.getTime() - 6 * 365 * 86_400_000) : now;
    const issued = await call<hsm.IssueCardRequest, hsm.IssueCardResponse>(this.hsm.issueCard.bind(this.hsm), {
      cardType: "EGK",
      keyType: "ecc",
      holder: p.pruefkarte ? `Prüfkarte eGK ${p.kvnr}` : `eGK ${p.kvnr}`,
      iccsn: p.card.iccsn,
      notBefore: notBefore.toISOString(),
      validityYears: 5,
    });
    const certSerial = issued.certificate!.certSerial;
    if (p.card.certificate === "revoked")
      await call<hsm.RevokeCertificateRequest, hsm.RevokeCertificateResponse>(this.hsm.revokeCertificate.bind(this.hsm), {
        certSerial,
        reason: "keyCompromise",
      });
    return { iccsn: p.card.iccsn, certSerial, kvnr: p.kvnr, name: `${p.givenName} ${p.surname}` };
  }

  async read(r: ReadRequest): Promise<ReadAnswer> {
    const steps: ProtocolEntry["steps"] = [];
    /** One step of the read: timed for the protocol, and a span of the read's trace. */
    const step = <T>(name: string, fn: () => Promise<T>, detail = (_: T) => ""): Promise<T> =>
      tracer.startActiveSpan(`VSDM ${name}`, async (span) => {
        const t0 = performance.now();
        try {
          const v = await fn();
          const d = detail(v);
          steps.push({ name, ms: Math.round(performance.now() - t0), detail: d });
          if (d) span.setAttribute("tigw.vsdm.detail", d);
          return v;
        } catch (e) {
          span.setStatus({ code: SpanStatusCode.ERROR, message: e instanceof Error ? e.message : String(e) });
          throw e;
        } finally {
          span.end();
        }
      });
    const unitId = await this.unitId(r.unit);
    const entry: ProtocolEntry = {
      at: this.clock.now().toISOString(),
      unitId,
      mandantId: r.context.mandantId,
      workplaceId: r.context.workplaceId,
      ctId: "",
      kvnr: "",
      steps,
      ocsp: "",
      outcome: "error",
      code: "",
      result: 0,
    };
    try {
      const access = (cardHandle: string) =>
        call<kt.CheckAccessRequest, kt.CheckAccessResponse>(this.kt.checkAccess.bind(this.kt), {
          unit: r.unit,
          ...r.context,
          ctId: "",
          cardHandle,
          workplaceRequired: true,
        });
      const egk = (await step("access check eGK", () => access(r.ehcHandle))).card!;
      entry.ctId = egk.ctId;
      if (egk.cardType !== "EGK" && egk.cardType !== "PRUEFKARTE_EGK") throw new DomainError("4008", `card ${r.ehcHandle} is not an eGK`);
      const smcb = (await step("access check SMC-B", () => access(r.hpcHandle))).card!;
      if (smcb.cardType !== "SMC-B" && smcb.cardType !== "HBA") throw new DomainError("4009", `card ${r.hpcHandle} is neither SMC-B nor HBA`);
      const pin = await step(
        "PIN status SMC-B",
        () => call<kt.GetPinStatusRequest, kt.GetPinStatusResponse>(this.kt.getPinStatus.bind(this.kt), { cardHandle: r.hpcHandle }),
        (x) => x.status,
      );
      if (pin.status !== "VERIFIED")
        throw new DomainError(smcb.cardType === "HBA" ? "3042" : "3041", `the ${smcb.cardType} is not unlocked (PIN ${pin.status})`, {
          cardHandle: r.hpcHandle,
        });
      // The Prüfkarten are fixed cards, known by their ICCSN alone: one prepared before a restart
      // of vsdm (in a terminal's slot since) stays readable.
      const person = this.byIccsn.get(egk.iccsn) ?? pruefkarteByIccsn(egk.iccsn);
      if (!person) throw new DomainError("105", "the eGK cannot be read (unknown card)");
      entry.kvnr = person.kvnr;
      const ti = await step(
        "TI access",
        () => this.tiAccess(r.unit),
        (x) => (x.tiAccess ? "yes" : `no: ${x.reasons.join("; ")}`),
      );
      // Without TI access the OCSP responder is out of reach, as the Fachdienst is.
      const aut = ti.tiAccess
        ? await step(
            "OCSP C.CH.AUT",
            () => this.autStatus(egk.certSerial),
            (x) => x,
          )
        : "unreachable";
      entry.ocsp = aut === "good" ? "ok" : aut;
      if (aut === "good") {
        await step("card-to-card eGK/SMC-B", () =>
          call<hsm.CardToCardAuthenticateRequest, hsm.CardToCardAuthenticateResponse>(this.hsm.cardToCardAuthenticate.bind(this.hsm), {
            sourceCertSerial: egk.certSerial,
            targetCertSerial: smcb.certSerial,
          }),
        );
      }
      const now = this.clock.now();
      const lastOnline = (await this.onlineChecks.load(`egk-${person.card.iccsn}`)).state;
      const daysOffline = lastOnline ? Math.floor((now.getTime() - Date.parse(lastOnline)) / 86_400_000) : 0;
      const facts: ReadFacts = {
        person,
        performOnlineCheck: r.performOnlineCheck,
        autCertificate: aut,
        daysOffline,
        maxOfflineDays: this.opts.maxOfflineDays,
        tiAccess: ti.tiAccess,
      };
      if (r.performOnlineCheck && aut === "good") {
        facts.fachdienst = await step(
          "online check Fachdienst",
          () => this.fachdienst.check(person, this.opts.fachdienstTimeoutMs),
          (a) => a.kind,
        );
        // The update is written to the card: it must still be there (pulled too early: 12105).
        const still = await access(r.ehcHandle).then(
          () => true,
          (e: unknown) => (e instanceof DomainError && e.code === "4008" ? false : Promise.reject(e)),
        );
        if (!still) throw new DomainError("12105", "the eGK was removed during the read (pulled too early); insert it and read again");
      }
      const outcome = decideRead(facts);
      if (outcome.kind === "fault") {
        entry.result = outcome.result ?? 0;
        throw new DomainError(String(outcome.code), outcome.message, outcome.result ? { pruefungsnachweis: String(outcome.result) } : {});
      }
      if (outcome.result === 1 || outcome.result === 2)
        await this.onlineChecks.handle(`egk-${person.card.iccsn}`, { at: now.toISOString() }, { occurredAt: now });
      const docs = vsdDocuments(outcome.person);
      const pn =
        r.readOnlineReceipt && outcome.result
          ? gzipIso(pruefungsnachweisXml({ at: this.clock.now(), result: outcome.result, errorCode: outcome.errorCode, pruefziffer: outcome.pruefziffer }))
          : Buffer.alloc(0);
      entry.outcome = outcome.result && outcome.result >= 3 ? "warning" : "ok";
      entry.result = outcome.result ?? 0;
      entry.code = outcome.errorCode ? String(outcome.errorCode) : "";
      return {
        persoenlicheVersichertendaten: gzipIso(docs.persoenlicheVersichertendaten),
        allgemeineVersicherungsdaten: gzipIso(docs.allgemeineVersicherungsdaten),
        geschuetzteVersichertendaten: gzipIso(docs.geschuetzteVersichertendaten),
        vsdStatus: { status: outcome.updated || outcome.result === 2 ? "0" : "1", timestamp: this.clock.now().toISOString(), version: "5.2.0" },
        pruefungsnachweis: pn,
        result: outcome.result ?? 0,
        errorCode: outcome.errorCode ?? 0,
      };
    } catch (e) {
      entry.outcome = "error";
      entry.code = e instanceof DomainError ? e.code : "103";
      throw e;
    } finally {
      this.observe?.(entry);
      await this.store.append(
        protocolStream(unitId),
        ANY,
        [{ type: "VsdReadProtocolled", data: entry, unitId, mandantId: r.context.mandantId }],
        new Date(entry.at),
      );
    }
  }

  /**
   * The state of the eGK's C.CH.AUT as the Fachmodul checks it: issued by a sub-CA of the TI PKI,
   * within its validity period, and "good" at the OCSP responder its AIA extension names (asked
   * over HTTP, RFC 6960). A responder that cannot be reached makes the check impossible.
   */
  private async autStatus(certSerial: string): Promise<ReadFacts["autCertificate"]> {
    // The certificate as read from the eGK (the simulated cards keep theirs in hsm).
    const { certificate } = await call<hsm.GetCertificateRequest, hsm.GetCertificateResponse>(this.hsm.getCertificate.bind(this.hsm), { certSerial });
    const aut = new X509Certificate(certificate!.pem);
    const issuer = (await this.trustedSubCas()).find((ca) => aut.checkIssued(ca) && aut.verify(ca.publicKey));
    if (!issuer) return "unknown";
    const now = this.clock.now();
    if (now < new Date(aut.validFrom) || now > new Date(aut.validTo)) return "expired";
    try {
      const answer = await askOcsp(aut.toString(), issuer.toString(), { timeoutMs: this.opts.ocspTimeoutMs });
      return answer.status;
    } catch (e) {
      if (e instanceof OcspUnreachable) return "unreachable";
      throw e;
    }
  }

  /**
   * The unit's TI access as vpn's rule decides it (assumed when no vpn service is wired). When
   * the rule cannot be asked, the tunnel's state is unknown: the read goes on as a Konnektor's
   * does without a tunnel (Prüfungsnachweis 5 or 6) rather than failing the practice's card read.
   */
  private async tiAccess(unit: string): Promise<{ tiAccess: boolean; reasons: string[] }> {
    if (!this.vpn) return { tiAccess: true, reasons: [] };
    try {
      return await call<vpn.GetTiAccessRequest, vpn.GetTiAccessResponse>(this.vpn.getTiAccess.bind(this.vpn), { unit });
    } catch (e) {
      if (isUnreachable(e)) return { tiAccess: false, reasons: ["the TI-access rule (vpn service) cannot be reached"] };
      throw e;
    }
  }

  private trustedSubCas(): Promise<X509Certificate[]> {
    this.subCas ??= call<hsm.GetTrustAnchorsRequest, hsm.GetTrustAnchorsResponse>(this.hsm.getTrustAnchors.bind(this.hsm), {}).then(
      (a) => a.subCaPems.map((pem) => new X509Certificate(pem)),
      (e: unknown) => {
        this.subCas = undefined; // ask again next time
        throw e;
      },
    );
    return this.subCas;
  }

  private async unitId(unit: string): Promise<string> {
    let id = this.unitIds.get(unit);
    if (!id) {
      id = (await call<tenancy.GetUnitRequest, tenancy.GetUnitResponse>(this.tenancy.getUnit.bind(this.tenancy), { unit })).unit!.unitId;
      this.unitIds.set(unit, id);
    }
    return id;
  }

  /**
   * The Ablauf- and Fehlerprotokoll of a unit, optionally of one Mandant, one outcome and a time
   * range [from, to), the newest `limit` entries oldest first.
   */
  async protocolOf(q: { unit: string; mandantId?: string; outcome?: string; from?: string; to?: string; limit?: number }): Promise<ProtocolEntry[]> {
    if (q.outcome && !["ok", "warning", "error"].includes(q.outcome))
      throw new ValidationError("INVALID_ARGUMENT", "outcome", `outcome must be ok, warning or error, not "${q.outcome}"`);
    const time = (field: "from" | "to") => {
      const text = q[field];
      if (!text) return undefined;
      const d = new Date(text);
      if (Number.isNaN(d.getTime()))
        throw new ValidationError("INVALID_ARGUMENT", field, `${field} is not a time: "${text}" (ISO 8601, e.g. 2026-11-23T08:00:00Z)`);
      return d;
    };
    const limit = q.limit || 1000;
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new ValidationError("INVALID_ARGUMENT", "limit", `limit must be 1-10000, not ${limit}`);
    const query = { unitId: await this.unitId(q.unit), mandantId: q.mandantId, outcome: q.outcome, from: time("from"), to: time("to"), limit };
    await this.refreshProtocol.trigger();
    return this.protocolView.list(this.store.sql, query);
  }
}
