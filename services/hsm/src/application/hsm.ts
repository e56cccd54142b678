import { createHash, createPublicKey, randomBytes, sign, verify, X509Certificate } from "node:crypto";
import {
  Coalescer,
  CommandHandler,
  DocumentProjection,
  DomainError,
  KeyedSerializer,
  StoreProjectionRunner,
  ValidationError,
  type Clock,
  type SqlEventStore,
} from "@tigw/platform";
import {
  daysLeft,
  EXCHANGE_DAYS,
  IDENTITIES,
  initialSecurityModule,
  LZV_UNTIL,
  lzvBlocker,
  securityModuleDecider,
  type IdentitySpec,
  type Renewal,
  type SecurityModuleCommand,
  type SecurityModuleEvent,
  type SecurityModuleState,
} from "../domain/security-module.js";
import type { CertificateState } from "../domain/certificate.js";
import { parseCertificate, policiesOf, type KeyType } from "../pki/x509.js";
import type { FurtherCertRef, TestPki } from "../pki/test-pki.js";
import { caKindOfName, ktConnectMessage, PROFILES, type ProfileName } from "../pki/card-certificates.js";
import type { KeyVault } from "../vault.js";
import { RawSignatureRefused, signEcdsaDigest, signPssDigest } from "../pki/raw-signature.js";

/**
 * How Sign treats its data: "" hashes it (SHA-256) and signs PKCS#1 v1.5 or ECDSA (DER); the card
 * schemes of ExternalAuthenticate sign the given digest as it is: "rsassa-pss" (urn:ietf:rfc:3447)
 * and "ecdsa" (urn:bsi:tr:03111:ecdsa, answered as r||s).
 */
export type SignScheme = "" | "rsassa-pss" | "ecdsa";
import { MutualTlsError, postWithClientCertificate, type MutualTlsPost } from "../tls/mutual-tls-client.js";

const smStream = (unitId: string) => `sm-${unitId}`;
/** Calendar years: a gSMC-K made on 2020-06-01 expires on 2025-06-01. */
const addYears = (d: Date, years: number): Date => {
  const x = new Date(d);
  x.setUTCFullYear(x.getUTCFullYear() + years);
  return x;
};

/** ICCSN of a unit's gSMC-K (20 digits, 80276 = health care, Germany), derived from its id. */
export function gsmckIccsn(unitId: string): string {
  const digits = BigInt(`0x${createHash("sha256").update(unitId).digest("hex").slice(0, 15)}`)
    .toString()
    .padStart(15, "0")
    .slice(-15);
  return `80276${digits}`;
}

export interface Expiry {
  unitId: string;
  serial: string;
  identity: string;
  notAfter: string;
  daysToExpiry: number;
  lzvApplies: boolean;
  lzvReason: string;
  exchangeDue: boolean;
  tiAccess: boolean;
  expired: boolean;
}

/** The simulated cards hsm issues, with the profile of their AUT certificate. */
export const CARD_TYPES: Record<string, { profile: ProfileName; label: string }> = {
  SMCB: { profile: "C.HCI.AUT", label: "SMC-B" },
  HBA: { profile: "C.HP.AUT", label: "HBA" },
  EGK: { profile: "C.CH.AUT", label: "eGK" },
  GSMC_KT: { profile: "C.SMKT.AUT", label: "gSMC-KT" },
  /** Not a card: the KSR's signing identity (C.FD.SIG), which signs on request like a practice card. */
  KSR: { profile: "C.FD.SIG", label: "KSR" },
};

/**
 * The further key pairs and certificates of an SMC-B and an HBA besides C.AUT, as the real cards
 * carry them (an SMC-B: C.HCI.ENC and C.HCI.OSIG; an HBA: C.HP.ENC and C.HP.QES), so practice
 * software reads them with ReadCardCertificate. Each has a key pair of its own, of the card's key
 * type; they are certificates only here: nothing encrypts or signs with those keys yet.
 */
const FURTHER_CERTIFICATES: Record<string, { ref: FurtherCertRef; profile: ProfileName; usage: "encryption" | "signature" }[]> = {
  SMCB: [
    { ref: "C.ENC", profile: "C.HCI.ENC", usage: "encryption" },
    { ref: "C.SIG", profile: "C.HCI.OSIG", usage: "signature" },
  ],
  HBA: [
    { ref: "C.ENC", profile: "C.HP.ENC", usage: "encryption" },
    { ref: "C.QES", profile: "C.HP.QES", usage: "signature" },
  ],
};

/** The practice cards (SMC-B, HBA, eGK): the only keys that sign on request (their sub-CAs). */
const PRACTICE_CAS = new Set(["SMCB", "HBA", "EGK"]);

/**
 * The hsm application: provisions a gSMC-K per unit, runs the expiry clock and LZV over the
 * SecurityModule streams, and offers the crypto operations (sign, verify, card-to-card) without
 * ever handing out a private key.
 */
export class Hsm {
  private readonly modules: CommandHandler<SecurityModuleState, SecurityModuleCommand, SecurityModuleEvent>;
  private readonly perUnit = new KeyedSerializer();
  readonly projection: DocumentProjection<SecurityModuleState>;
  private readonly runner: StoreProjectionRunner;
  private readonly refresh: Coalescer;
  /** Outcomes of LZV attempts, for metrics. */
  readonly lzvOutcomes = new Map<string, number>();

  private constructor(
    private readonly store: SqlEventStore,
    readonly pki: TestPki,
    private readonly vault: KeyVault,
    readonly clock: Clock,
    private readonly keyType: KeyType,
  ) {
    this.modules = new CommandHandler(store, securityModuleDecider, 10, 10_000);
    this.projection = new DocumentProjection<SecurityModuleState>({
      name: "security-modules",
      schema: store.schema,
      table: "rm_security_modules",
      streamPrefix: "sm",
      initial: initialSecurityModule,
      evolve: (s, e) => securityModuleDecider.evolve(s, e as SecurityModuleEvent),
      columns: { serial: (s) => s.serial },
    });
    this.runner = new StoreProjectionRunner(store, this.projection);
    this.refresh = new Coalescer(() => this.runner.catchUp());
  }

  static async open(o: { store: SqlEventStore; pki: TestPki; vault: KeyVault; clock: Clock; keyType?: KeyType }): Promise<Hsm> {
    const h = new Hsm(o.store, o.pki, o.vault, o.clock, o.keyType ?? "ecc");
    await h.runner.setup();
    await h.runner.catchUp();
    return h;
  }

  private now(): string {
    return this.clock.now().toISOString();
  }

  private async run(unitId: string, command: SecurityModuleCommand): Promise<{ state: SecurityModuleState; events: SecurityModuleEvent[] }> {
    const r = await this.perUnit.run(unitId, () => this.modules.handle(smStream(unitId), command, { unitId, occurredAt: new Date(command.at) }));
    await this.refresh.trigger();
    return { state: r.state, events: r.events.map((e) => ({ type: e.type, data: e.data }) as SecurityModuleEvent) };
  }

  async module(unitId: string): Promise<SecurityModuleState> {
    const { state } = await this.modules.load(smStream(unitId));
    if (!state.exists)
      throw new DomainError("SECURITY_MODULE_NOT_FOUND", `no gSMC-K for unit ${unitId} (yet: it is provisioned when tenancy announces the unit)`, {
        field: "unit",
        value: unitId,
      });
    return state;
  }

  /**
   * Provisions the gSMC-K of a new unit: C.NK.VPN, C.AK.AUT and C.SAK.AUT, each with its own key,
   * certificates valid 5 years from the production date. Idempotent (redelivered events).
   */
  async provision(unit: { unitId: string; serial: string; producedOn: string }): Promise<SecurityModuleState> {
    const existing = (await this.modules.load(smStream(unit.unitId))).state;
    if (existing.exists) return existing;
    const iccsn = gsmckIccsn(unit.unitId);
    const notBefore = new Date(`${unit.producedOn}T00:00:00Z`);
    const notAfter = addYears(notBefore, 5);
    const identities: IdentitySpec[] = [];
    for (const name of IDENTITIES) {
      const c = await this.pki.issue({
        profile: name,
        keyType: this.keyType,
        subject: { cn: `${unit.serial} ${name}`, o: "ti-gateway hosted Konnektor", ou: name, iccsn },
        notBefore,
        notAfter,
        owner: { kind: "unit", id: unit.unitId },
      });
      identities.push({ name, certSerial: c.serialHex, keyRef: c.keyRef, notBefore: notBefore.toISOString(), notAfter: notAfter.toISOString() });
    }
    return (await this.run(unit.unitId, { type: "Provision", unitId: unit.unitId, serial: unit.serial, iccsn, identities, at: this.now() })).state;
  }

  async recordLicence(unitId: string, features: string[]): Promise<void> {
    await this.run(unitId, { type: "RecordLicence", features, at: this.now() });
  }

  /** Announces crossed expiry marks and expiries of one unit; returns the events it produced. */
  async tickUnit(unitId: string): Promise<SecurityModuleEvent[]> {
    return (await this.run(unitId, { type: "Tick", at: this.now() })).events;
  }

  /**
   * The daily job: expiry marks for every unit, then LZV for units inside the LZV window whose
   * licence carries LZV and that were not tried today.
   */
  async tick(): Promise<number> {
    // The fleet read model follows the store a moment later: bring it up to date first, or a unit
    // created just before the job runs would miss its expiry marks (seen on Kafka in CI).
    await this.refresh.trigger();
    let n = 0;
    const today = this.now().slice(0, 10);
    for (const sm of await this.projection.list(this.store.sql)) {
      n += (await this.tickUnit(sm.unitId)).length;
      const fresh = await this.module(sm.unitId);
      if (!lzvBlocker(fresh, this.now()) && fresh.lzvLastAttempt.slice(0, 10) !== today) {
        await this.attemptLzv(sm.unitId).catch(() => undefined);
        n++;
      }
    }
    return n;
  }

  /**
   * LZV: checks eligibility, has the PKI issue C.NK.VPN, C.AK.AUT and C.SAK.AUT anew for the same
   * keys and ICCSN valid until 2025-12-31, checks each renewed certificate (ICCSN, later expiry,
   * key, OCSP) and records success or the reason of failure as an event. Throws on failure.
   */
  async attemptLzv(unitId: string): Promise<SecurityModuleState> {
    const sm = await this.module(unitId);
    const at = this.now();
    const fail = async (code: string, reason: string): Promise<never> => {
      await this.run(unitId, { type: "RecordLzvFailure", code, reason, at });
      this.count(code);
      throw new DomainError(code, `LZV refused: ${reason}`, { unitId });
    };
    const blocker = lzvBlocker(sm, at);
    if (blocker) return fail(blocker.code, blocker.reason);
    const renewals: Renewal[] = [];
    for (const name of IDENTITIES) {
      const id = sm.identities[name]!;
      const old = await this.pki.certificate(id.certSerial);
      const c = await this.pki.issue({
        profile: name,
        keyType: createPublicKey(old.pem).asymmetricKeyType === "rsa" ? "rsa" : "ecc",
        subject: { cn: `${sm.serial} ${name}`, o: "ti-gateway hosted Konnektor", ou: name, iccsn: sm.iccsn },
        notBefore: new Date(at),
        notAfter: new Date(LZV_UNTIL),
        owner: { kind: "unit", id: unitId },
        keyRef: id.keyRef,
      });
      const parsed = parseCertificate(c.pem);
      const keyMatches = createPublicKey(c.pem)
        .export({ type: "spki", format: "der" })
        .equals(createPublicKey(old.pem).export({ type: "spki", format: "der" }));
      const ocsp = [await this.pki.status(c.serialHex), await this.pki.status(old.serialHex)];
      renewals.push({
        name,
        certSerial: c.serialHex,
        notBefore: parsed.notBefore,
        notAfter: parsed.notAfter,
        iccsn: parsed.iccsn,
        keyMatches,
        ocspRevoked: ocsp.some((o) => o.status === "revoked"),
      });
    }
    const { state, events } = await this.run(unitId, { type: "CompleteLzv", renewals, at });
    const failed = events.find((e) => e.type === "LzvFailed");
    if (failed && failed.type === "LzvFailed") {
      // The renewed certificates are not used: withdraw them.
      for (const r of renewals) await this.pki.revoke(r.certSerial, "superseded");
      this.count(failed.data.code);
      throw new DomainError(failed.data.code, `LZV refused: ${failed.data.reason}`, { unitId });
    }
    this.count("SUCCESS");
    return state;
  }

  private count(outcome: string): void {
    this.lzvOutcomes.set(outcome, (this.lzvOutcomes.get(outcome) ?? 0) + 1);
  }

  /** Sperrung: revokes every identity certificate of the unit's gSMC-K. */
  async revokeUnit(unitId: string, reason: string): Promise<SecurityModuleState> {
    const sm = await this.module(unitId);
    for (const id of Object.values(sm.identities)) await this.pki.revoke(id.certSerial, reason || "keyCompromise");
    return (await this.run(unitId, { type: "RecordRevocation", reason: reason || "keyCompromise", at: this.now() })).state;
  }

  async expiries(withinDays = 0): Promise<Expiry[]> {
    await this.refresh.trigger();
    const now = this.now();
    const list = (await this.projection.list(this.store.sql)).map((sm): Expiry => {
      const vpn = sm.identities["C.NK.VPN"]!;
      const left = daysLeft(vpn.notAfter, now);
      const blocker = lzvBlocker(sm, now);
      // LZV "applies" when the unit can be extended now or once inside the window.
      const applies = !blocker || blocker.code === "LZV_TOO_EARLY";
      return {
        unitId: sm.unitId,
        serial: sm.serial,
        identity: "C.NK.VPN",
        notAfter: vpn.notAfter,
        daysToExpiry: left,
        lzvApplies: applies,
        lzvReason: applies ? "" : blocker!.code,
        exchangeDue: left < EXCHANGE_DAYS,
        tiAccess: sm.tiAccess,
        expired: vpn.expired || now >= vpn.notAfter,
      };
    });
    return list.filter((e) => !withinDays || e.daysToExpiry <= withinDays).sort((a, b) => a.daysToExpiry - b.daysToExpiry || a.serial.localeCompare(b.serial));
  }

  // ---- crypto operations -------------------------------------------------------------------

  /**
   * Signs data on request, as a card in a simulated terminal does: only the practice cards
   * (SMC-B, HBA, eGK) do. gSMC-K and gSMC-KT keys (and CA keys) sign only inside the operations
   * that need them (proveTerminalKey, LZV, card-to-card), never data of a caller's choosing.
   */
  async sign(certSerial: string, data: Buffer, scheme: SignScheme = ""): Promise<{ signature: Buffer; algorithm: string }> {
    const cert = await this.pki.certificate(certSerial);
    const ksrSigner = cert.owner.kind === "card" && policiesOf(new X509Certificate(cert.pem).raw).includes(PROFILES["C.FD.SIG"].oid);
    if (!ksrSigner && (cert.owner.kind !== "card" || !PRACTICE_CAS.has(caKindOfName(cert.ca) ?? ""))) {
      const what = cert.owner.kind === "ca" ? "a CA key" : cert.owner.kind === "unit" ? "a gSMC-K key" : "a gSMC-KT key";
      throw new DomainError("SIGNING_NOT_PERMITTED", `certificate ${certSerial} names ${what}: only SMC-B, HBA and eGK keys sign on request`, {
        field: "certSerial",
        value: certSerial,
      });
    }
    if (!scheme) return this.signWith(cert, data);
    const key = await this.vault.get(cert.keyRef);
    const rsa = key.asymmetricKeyType === "rsa";
    if (scheme !== "rsassa-pss" && scheme !== "ecdsa")
      throw new ValidationError("INVALID_SIGNATURE_SCHEME", "scheme", `scheme must be empty, rsassa-pss or ecdsa, not "${String(scheme).slice(0, 40)}"`);
    if ((scheme === "rsassa-pss") !== rsa)
      throw new ValidationError(
        "SIGNATURE_SCHEME_MISMATCH",
        "scheme",
        `certificate ${certSerial} has ${rsa ? "an RSA" : "an ECC"} key: ${scheme} does not fit it`,
      );
    try {
      return rsa ? { signature: signPssDigest(key, data), algorithm: "RSASSA-PSS" } : { signature: signEcdsaDigest(key, data), algorithm: "ECDSA-plain" };
    } catch (e) {
      if (e instanceof RawSignatureRefused) throw new ValidationError("INVALID_DIGEST", "data", e.message);
      throw e;
    }
  }

  /**
   * A TLS server certificate for a unit's SOAP endpoint (the Konnektor's client-system interface,
   * profile C.AK.AUT) over a public key the gateway generated and keeps: the private key never
   * comes here. subjectAltName carries the names and addresses clients reach the endpoint by.
   */
  async issueTlsServerCertificate(unitId: string, publicKeyDer: Buffer, dns: string[], ip: string[]): Promise<CertificateState> {
    const sm = await this.module(unitId);
    let publicKey;
    try {
      publicKey = createPublicKey({ key: publicKeyDer, format: "der", type: "spki" });
    } catch {
      throw new ValidationError("INVALID_PUBLIC_KEY", "publicKey", "publicKey must be a DER SubjectPublicKeyInfo");
    }
    const keyType = publicKey.asymmetricKeyType === "rsa" ? "rsa" : publicKey.asymmetricKeyType === "ec" ? "ecc" : undefined;
    if (!keyType) throw new ValidationError("INVALID_PUBLIC_KEY", "publicKey", `an RSA or EC key, not ${publicKey.asymmetricKeyType}`);
    if (!dns.length && !ip.length) throw new ValidationError("INVALID_ARGUMENT", "dnsNames", "name at least one host name or IP address");
    const now = this.clock.now();
    const issued = await this.pki.issue({
      profile: "C.AK.AUT",
      keyType,
      subject: { cn: `${sm.serial} SOAP`, o: "ti-gateway test Konnektor", ou: "Anwendungskonnektor TLS" },
      notBefore: new Date(now.getTime() - 60_000),
      notAfter: addYears(now, 1),
      owner: { kind: "unit", id: unitId },
      usage: ["digitalSignature", "keyEncipherment"],
      heldOutside: publicKey,
      altNames: { dns, ip },
    });
    return this.pki.certificate(issued.serialHex);
  }

  /**
   * A practice's VPN box: a TLS client certificate (C.VPNBOX.AUT) over the key the box made and
   * keeps. Issued by the RSA branch of the VPN-box sub-CA whatever the box's key, so the chain
   * verifies in TLS 1.3 under OpenSSL 3.0 (which has no TLS 1.3 scheme for brainpool).
   */
  async issueVpnBoxCertificate(boxId: string, account: string, publicKeyDer: Buffer, validDays: number, dnsNames: string[] = []): Promise<CertificateState> {
    const server = boxId === "zugangsmodul";
    if (!server && !/^box-[a-z0-9-]{4,40}$/.test(boxId)) throw new ValidationError("INVALID_ARGUMENT", "boxId", "a box id looks like box-1a2b3c4d");
    if (!server && !/^[a-z][a-z0-9._-]{2,31}$/.test(account)) throw new ValidationError("INVALID_ARGUMENT", "account", "name the practice account of the box");
    if (server !== dnsNames.length > 0)
      throw new ValidationError("INVALID_ARGUMENT", "dnsNames", "host names are for the Zugangsmodul's server certificate only");
    const days = validDays || 365;
    if (!Number.isInteger(days) || days < 1 || days > 825)
      throw new ValidationError("INVALID_ARGUMENT", "validDays", "a box certificate is valid 1 to 825 days");
    let publicKey;
    try {
      publicKey = createPublicKey({ key: publicKeyDer, format: "der", type: "spki" });
    } catch {
      throw new ValidationError("INVALID_PUBLIC_KEY", "publicKey", "publicKey must be a DER SubjectPublicKeyInfo");
    }
    const t = publicKey.asymmetricKeyType;
    const d = publicKey.asymmetricKeyDetails ?? {};
    const fit = (t === "rsa" && (d.modulusLength ?? 0) >= 2048) || (t === "ec" && (d.namedCurve === "prime256v1" || d.namedCurve === "secp384r1"));
    if (!fit) throw new ValidationError("INVALID_PUBLIC_KEY", "publicKey", "a VPN box key is RSA of 2048 bits or more, or EC on P-256 or P-384");
    const now = this.clock.now();
    const issued = await this.pki.issue({
      profile: "C.VPNBOX.AUT",
      keyType: "rsa",
      subject: server ? { cn: dnsNames[0]!, o: "ti-gateway Zugangsmodul" } : { cn: boxId, o: "ti-gateway test VPN box", ou: account },
      notBefore: new Date(now.getTime() - 60_000),
      notAfter: new Date(now.getTime() + days * 86_400_000),
      owner: { kind: "box", id: boxId },
      usage: ["digitalSignature"],
      heldOutside: publicKey,
      altNames: server ? { dns: dnsNames, ip: [] } : undefined,
    });
    return this.pki.certificate(issued.serialHex);
  }

  /** The signature of a certificate's key; callers decide whether that key may sign this. */
  private async signWith(cert: CertificateState, data: Buffer): Promise<{ signature: Buffer; algorithm: string }> {
    const key = await this.vault.get(cert.keyRef);
    return { signature: sign("sha256", data, key), algorithm: key.asymmetricKeyType === "rsa" ? "SHA256withRSA" : "SHA256withECDSA" };
  }

  /**
   * The gSMC-KT of a simulated terminal proves its key on connect: it signs the connect message
   * (the card-terminal's 32-byte challenge bound to the terminal, ktConnectMessage), nothing else.
   */
  async proveTerminalKey(certSerial: string, ctId: string, challenge: Buffer): Promise<Buffer> {
    const cert = await this.pki.certificate(certSerial);
    if (cert.owner.kind !== "card" || caKindOfName(cert.ca) !== PROFILES["C.SMKT.AUT"].ca) {
      throw new DomainError("SIGNING_NOT_PERMITTED", `certificate ${certSerial} is no gSMC-KT: only a card terminal's gSMC-KT proves a connect`, {
        field: "certSerial",
        value: certSerial,
      });
    }
    if (challenge.length !== 32) throw new ValidationError("INVALID_CHALLENGE", "challenge", `a connect challenge has 32 bytes, not ${challenge.length}`);
    if (!ctId) throw new ValidationError("INVALID_CT_ID", "ctId", "ctId is required");
    return (await this.signWith(cert, ktConnectMessage(ctId, challenge))).signature;
  }

  /**
   * An HTTPS POST in mutual TLS as one of a unit's gSMC-K identities (the VPN-ZugD registration
   * uses C.NK.VPN): the key is taken from the vault for this call only and never leaves hsm.
   */
  async postOverMutualTls(unitId: string, identity: string, r: MutualTlsPost): Promise<{ status: number; body: Buffer; contentType: string }> {
    const sm = await this.module(unitId);
    const id = sm.identities[identity || "C.NK.VPN"];
    if (!id) throw new ValidationError("UNKNOWN_IDENTITY", "identity", `a gSMC-K has the identities ${Object.keys(sm.identities).join(", ")}`);
    if (!r.url) throw new ValidationError("INVALID_ARGUMENT", "url", "the https URL to call is missing");
    const cert = await this.pki.certificate(id.certSerial);
    try {
      return await postWithClientCertificate({ ...r, timeoutMs: r.timeoutMs || 10_000 }, { certPem: cert.pem, key: await this.vault.get(cert.keyRef) });
    } catch (e) {
      if (e instanceof MutualTlsError) throw new DomainError(e.kind, e.message, { unitId, identity: id.name });
      throw e;
    }
  }

  async verify(certSerial: string, data: Buffer, signature: Buffer): Promise<boolean> {
    const cert = await this.pki.certificate(certSerial);
    try {
      return verify("sha256", data, createPublicKey(cert.pem), signature);
    } catch {
      return false;
    }
  }

  async issueCard(r: {
    cardType: string;
    keyType: string;
    holder: string;
    iccsn?: string;
    notBefore?: string;
    validityYears?: number;
  }): Promise<CertificateState> {
    const type = CARD_TYPES[r.cardType];
    if (!type) throw new ValidationError("INVALID_CARD_TYPE", "cardType", `card type must be one of ${Object.keys(CARD_TYPES).join(", ")}`);
    const keyType = (r.keyType || "ecc") as KeyType;
    if (keyType !== "ecc" && keyType !== "rsa") throw new ValidationError("INVALID_KEY_TYPE", "keyType", "key type must be ecc or rsa");
    const iccsn =
      r.iccsn ||
      `80276${BigInt(`0x${randomBytes(8).toString("hex")}`)
        .toString()
        .padStart(15, "0")
        .slice(-15)}`;
    if (!/^\d{20}$/.test(iccsn)) throw new ValidationError("INVALID_ICCSN", "iccsn", "an ICCSN has 20 digits");
    const notBefore = r.notBefore ? new Date(r.notBefore) : this.clock.now();
    if (Number.isNaN(notBefore.getTime())) throw new ValidationError("INVALID_DATE", "notBefore", "notBefore is not a date");
    const years = r.validityYears || 5;
    const subject = { cn: r.holder || `${type.label} ${iccsn}`, o: "ti-gateway test card", ou: type.label, iccsn };
    const leaf = { keyType, subject, notBefore, notAfter: addYears(notBefore, years), owner: { kind: "card", id: iccsn } } as const;
    const issued = await this.pki.issue({ ...leaf, profile: type.profile });
    const further = FURTHER_CERTIFICATES[r.cardType] ?? [];
    if (further.length) {
      const serials: Partial<Record<FurtherCertRef, string>> = {};
      for (const f of further) {
        // ENC: RSA encrypts a key (keyEncipherment), ECC agrees on one (keyAgreement); SIG/QES sign with non-repudiation.
        const usage =
          f.usage === "signature"
            ? (["digitalSignature", "nonRepudiation"] as const)
            : keyType === "rsa"
              ? (["keyEncipherment"] as const)
              : (["keyAgreement"] as const);
        serials[f.ref] = (await this.pki.issue({ ...leaf, profile: f.profile, usage: [...usage] })).serialHex;
      }
      await this.pki.recordCardCertificates(iccsn, serials);
    }
    return this.pki.certificate(issued.serialHex);
  }

  /** A card's further certificates (C.ENC, C.SIG, C.QES) with their state; empty for an eGK or a card issued before they were. */
  async cardCertificates(iccsn: string): Promise<{ ref: FurtherCertRef; certificate: CertificateState }[]> {
    const serials = await this.pki.cardCertificates(iccsn);
    const refs = Object.keys(serials) as FurtherCertRef[];
    return Promise.all(refs.map(async (ref) => ({ ref, certificate: await this.pki.certificate(serials[ref]!) })));
  }

  /**
   * Card-to-card authentication (as VSDM does between eGK and SMC-B): each card proves its key
   * by signing a fresh challenge of the other; each certificate must chain to the test PKI, be
   * within its validity and not revoked. 4056: the source card failed, 4057: the target card.
   */
  async cardToCard(sourceSerial: string, targetSerial: string): Promise<string[]> {
    const steps: string[] = [];
    const now = this.clock.now();
    const prove = async (serial: string, code: string, role: string) => {
      const fail = (why: string) => new DomainError(code, `card-to-card authentication failed (${role} card): ${why}`, { certSerial: serial });
      const cert = await this.pki.certificate(serial).catch(() => {
        throw fail("unknown certificate");
      });
      const x = new X509Certificate(cert.pem);
      if (!x.verify(this.pki.caOf(cert).publicKey)) throw fail("certificate does not chain to the TI PKI");
      if (now < new Date(x.validFrom) || now > new Date(x.validTo)) throw fail(`certificate not valid at ${now.toISOString()}`);
      const status = await this.pki.status(serial);
      if (status.status !== "good") throw fail(`OCSP status ${status.status}`);
      const challenge = randomBytes(32);
      const { signature } = await this.signWith(cert, challenge);
      if (!verify("sha256", challenge, x.publicKey, signature)) throw fail("signature over the challenge does not verify");
      steps.push(`${role} ${cert.iccsn || serial}: certificate chains, valid, OCSP good, challenge signed and verified`);
    };
    await prove(sourceSerial, "4056", "source");
    await prove(targetSerial, "4057", "target");
    return steps;
  }
}
