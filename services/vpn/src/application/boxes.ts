import { createHash, createPublicKey, randomBytes, randomUUID, verify, X509Certificate } from "node:crypto";
import {
  call,
  Coalescer,
  CommandHandler,
  createClient,
  DocumentProjection,
  DomainError,
  migrate,
  StoreProjectionRunner,
  ValidationError,
  type Clock,
  type SqlEventStore,
} from "@tigw/platform";
import { HsmServiceClient } from "@tigw/contracts/hsm/v1/hsm";
import type * as hsm from "@tigw/contracts/hsm/v1/hsm";
import {
  initialVpnBox,
  MAX_BOXES_PER_ACCOUNT,
  vpnBoxDecider,
  type SessionRefusal,
  type VpnBoxCommand,
  type VpnBoxEvent,
  type VpnBoxState,
} from "../domain/vpn-box.js";
import type { Zugangsmodul } from "./zugangsmodul.js";

const boxStream = (boxId: string) => `vpnbox-${boxId}`;

/** What the box signs to prove it holds the key it asks a certificate for (with the code, so a proof is good for one enrolment only). */
export function enrolmentProofMessage(code: string, publicKeyDer: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`tigw.vpnbox.enrol.v1\u0000${code}\u0000`, "utf8"), publicKeyDer]);
}

/** Codes are typed by people: 16 characters of an alphabet without 0/O and 1/I, in groups of 4 (80 bits). */
const CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
function newEnrolmentCode(): string {
  const b = randomBytes(16);
  const chars = [...b].map((x) => CODE_ALPHABET[x % 32]);
  return [0, 4, 8, 12].map((i) => chars.slice(i, i + 4).join("")).join("-");
}
const normaliseCode = (code: string) =>
  String(code ?? "")
    .toUpperCase()
    .replace(/[^A-Z0-9]/g, "");
const codeHash = (code: string) =>
  createHash("sha256")
    .update(`tigw-box-code:${normaliseCode(code)}`)
    .digest("hex");

export interface BoxView {
  boxId: string;
  account: string;
  name: string;
  state: string;
  certSerial: string;
  certNotAfter: string;
  certFingerprint: string;
  connected: boolean;
  connectedSince: string;
  lastHeartbeat: string;
  lastSessionEnd: string;
  enrolmentExpiresAt: string;
  createdAt: string;
  removedAt: string;
}

export interface EnrolledBox {
  boxId: string;
  account: string;
  certificatePem: string;
  chainPems: string[];
}

/** An admitted session's identity: the box and its account, from the certificate alone. */
export interface BoxIdentity {
  boxId: string;
  account: string;
  certSerial: string;
  certNotAfter: string;
}

/** The endpoint's side: ends the live sessions of a box or an account at once. */
export interface SessionTerminator {
  endBox(boxId: string, reason: string): void;
  endAccount(account: string, reason: string): void;
  heartbeatOf(boxId: string): string;
}

const migrations = [
  {
    // The hash of each open enrolment code (never the code), the certificate serials and public
    // keys of enrolled boxes (a key serves one box only): lookups the events do not answer fast.
    id: "vpn-boxes-001",
    sql: `CREATE TABLE IF NOT EXISTS {schema}.box_enrolment_codes (code_hash text PRIMARY KEY, box_id text NOT NULL);
          CREATE TABLE IF NOT EXISTS {schema}.box_certificates (cert_serial text PRIMARY KEY, box_id text NOT NULL);
          CREATE TABLE IF NOT EXISTS {schema}.box_keys (spki_sha256 text PRIMARY KEY, box_id text NOT NULL);`,
  },
];

const invalidCode = () =>
  new DomainError("ENROLMENT_CODE_INVALID", "this enrolment code is not valid (mistyped, used already, or its box was removed): check it in the portal");

/**
 * The practices' VPN boxes: announcement with a one-time code, enrolment (the box's key, a
 * certificate from hsm's VPN-box sub-CA), removal (the certificate revoked, the session ended),
 * and the admission of a session: the certificate alone names the box and so the account.
 */
export class VpnBoxes {
  private readonly boxes: CommandHandler<VpnBoxState, VpnBoxCommand, VpnBoxEvent>;
  readonly projection: DocumentProjection<VpnBoxState>;
  private readonly runner: StoreProjectionRunner;
  private readonly refresh: Coalescer;
  private readonly hsm: HsmServiceClient;
  terminator: SessionTerminator | undefined;

  constructor(
    private readonly store: SqlEventStore,
    private readonly clock: Clock,
    private readonly zm: Zugangsmodul,
    hsmAddress: string,
  ) {
    this.boxes = new CommandHandler(store, vpnBoxDecider, 10, 10_000);
    this.projection = new DocumentProjection<VpnBoxState>({
      name: "vpn-boxes",
      schema: store.schema,
      table: "rm_vpn_boxes",
      streamPrefix: "vpnbox",
      initial: initialVpnBox,
      evolve: (s, e) => vpnBoxDecider.evolve(s, e as VpnBoxEvent),
    });
    this.runner = new StoreProjectionRunner(store, this.projection);
    this.refresh = new Coalescer(() => this.runner.catchUp());
    this.hsm = createClient(HsmServiceClient, hsmAddress, { deadlineMs: 30_000 });
  }

  async open(): Promise<void> {
    await migrate(this.store.sql, this.store.schema, migrations);
    await this.runner.setup();
    await this.refresh.trigger();
  }

  close(): void {
    this.hsm.close();
  }

  private now(): string {
    return this.clock.now().toISOString();
  }

  private async handle(boxId: string, command: VpnBoxCommand): Promise<VpnBoxState> {
    const { state } = await this.boxes.handle(boxStream(boxId), command, { occurredAt: new Date(this.now()) });
    await this.refresh.trigger();
    return state;
  }

  /** The practice announces a box: the answer's code is its only copy (the service keeps a hash). */
  async announce(account: string, name: string): Promise<{ box: BoxView; code: string }> {
    const p = await this.zm.view(account);
    if (p.status === "blocked") throw new DomainError("ACCOUNT_BLOCKED", "this practice account is blocked: ask your TI-Gateway operator", { account });
    if (p.status !== "active") throw new DomainError("TOTP_ENROLMENT_REQUIRED", "enrol TOTP (an authenticator app) before anything else", { account });
    const mine = (await this.list(account)).filter((b) => b.state !== "removed");
    if (mine.length >= MAX_BOXES_PER_ACCOUNT)
      throw new DomainError("TOO_MANY_BOXES", `a practice has at most ${MAX_BOXES_PER_ACCOUNT} VPN boxes: remove one first`, { account });
    const boxId = `box-${randomUUID().slice(0, 8)}`;
    const code = newEnrolmentCode();
    await this.handle(boxId, { type: "AnnounceBox", boxId, account, name, at: this.now() });
    await this.store.sql.query(`INSERT INTO ${this.store.schema}.box_enrolment_codes (code_hash, box_id) VALUES ($1, $2)`, [codeHash(code), boxId]);
    return { box: await this.view(boxId), code };
  }

  /**
   * The box enrols: a valid code, the proof that it holds the key, a key no other box uses. The
   * code is claimed (deleted) first so two boxes typing one code cannot both get a certificate;
   * if the certificate cannot be issued the code is put back.
   */
  async enrol(code: string, publicKeyDer: Buffer, proof: Buffer): Promise<EnrolledBox> {
    if (normaliseCode(code).length !== 16) throw invalidCode();
    let publicKey;
    try {
      publicKey = createPublicKey({ key: publicKeyDer, format: "der", type: "spki" });
    } catch {
      throw new ValidationError("INVALID_PUBLIC_KEY", "publicKey", "publicKey must be the box's public key, base64 DER SubjectPublicKeyInfo");
    }
    let proven = false;
    try {
      proven = verify("sha256", enrolmentProofMessage(normaliseCode(code), publicKeyDer), publicKey, proof);
    } catch {
      proven = false;
    }
    if (!proven) throw new ValidationError("INVALID_PROOF", "proof", "proof must be the box key's signature (SHA-256) over the enrolment message");
    const [claimed] = await this.store.sql.query<{ box_id: string }>(
      `DELETE FROM ${this.store.schema}.box_enrolment_codes WHERE code_hash = $1 RETURNING box_id`,
      [codeHash(code)],
    );
    if (!claimed) throw invalidCode();
    const boxId = claimed.box_id;
    const putBack = () =>
      this.store.sql.query(`INSERT INTO ${this.store.schema}.box_enrolment_codes (code_hash, box_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [
        codeHash(code),
        boxId,
      ]);
    const { state } = await this.boxes.load(boxStream(boxId));
    const p = await this.zm.view(state.account);
    if (p.status === "blocked") {
      await putBack();
      throw new DomainError("ACCOUNT_BLOCKED", "the practice account of this box is blocked: ask your TI-Gateway operator");
    }
    const spki = createHash("sha256").update(publicKeyDer).digest("hex");
    const fresh = await this.store.sql.query(
      `INSERT INTO ${this.store.schema}.box_keys (spki_sha256, box_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING box_id`,
      [spki, boxId],
    );
    if (fresh.length === 0) {
      await putBack();
      throw new DomainError("KEY_IN_USE", "this key belongs to another VPN box already: a box makes a key pair of its own", { field: "publicKey" });
    }
    try {
      const issued = await call<hsm.IssueVpnBoxCertificateRequest, hsm.IssueVpnBoxCertificateResponse>(this.hsm.issueVpnBoxCertificate.bind(this.hsm), {
        boxId,
        account: state.account,
        publicKey: publicKeyDer,
        validDays: 365,
        dnsNames: [],
      });
      const cert = issued.certificate!;
      const fingerprint = new X509Certificate(cert.pem).fingerprint256.replace(/:/g, "");
      await this.store.sql.query(`INSERT INTO ${this.store.schema}.box_certificates (cert_serial, box_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [
        cert.certSerial,
        boxId,
      ]);
      await this.handle(boxId, {
        type: "CompleteEnrolment",
        certSerial: cert.certSerial,
        certNotAfter: cert.notAfter,
        certFingerprint: fingerprint,
        at: this.now(),
      });
      return { boxId, account: state.account, certificatePem: cert.pem, chainPems: issued.chainPems };
    } catch (e) {
      await this.store.sql.query(`DELETE FROM ${this.store.schema}.box_keys WHERE spki_sha256 = $1`, [spki]);
      if (!(e instanceof DomainError && /^ENROLMENT_CODE_|^BOX_REMOVED$/.test(e.code))) await putBack();
      throw e;
    }
  }

  /** Removes a box of the account: its certificate revoked at the PKI, its session ended. */
  async remove(account: string, boxId: string, by: string): Promise<BoxView> {
    const { state } = await this.boxes.load(boxStream(String(boxId ?? "")));
    if (!state.exists || state.account !== account) throw new DomainError("BOX_NOT_FOUND", "no such VPN box of this practice", { field: "boxId" });
    await this.handle(boxId, { type: "RemoveBox", by, at: this.now() });
    await this.store.sql.query(`DELETE FROM ${this.store.schema}.box_enrolment_codes WHERE box_id = $1`, [boxId]);
    if (state.certSerial) {
      await call<hsm.RevokeCertificateRequest, hsm.RevokeCertificateResponse>(this.hsm.revokeCertificate.bind(this.hsm), {
        certSerial: state.certSerial,
        reason: "cessationOfOperation",
      });
    }
    this.terminator?.endBox(boxId, "BOX_REMOVED");
    return this.view(boxId);
  }

  /**
   * May this certificate (already verified against the VPN-box CA by TLS) open a session? The
   * box it was issued to must be enrolled with it as its current certificate, its account active,
   * the certificate not expired on the service's clock (simulated or not) nor revoked at the PKI.
   */
  async admit(certSerial: string): Promise<{ ok: true; box: BoxIdentity } | { ok: false; reason: SessionRefusal | "UNKNOWN_CERTIFICATE"; box?: BoxIdentity }> {
    const [row] = await this.store.sql.query<{ box_id: string }>(`SELECT box_id FROM ${this.store.schema}.box_certificates WHERE cert_serial = $1`, [
      certSerial,
    ]);
    if (!row) return { ok: false, reason: "UNKNOWN_CERTIFICATE" };
    const { state } = await this.boxes.load(boxStream(row.box_id));
    const box: BoxIdentity = { boxId: state.boxId, account: state.account, certSerial, certNotAfter: state.certNotAfter };
    const refuse = (reason: SessionRefusal) => ({ ok: false as const, reason, box });
    if (state.state === "removed") return refuse("BOX_REMOVED");
    if (state.certSerial !== certSerial) return refuse("CERTIFICATE_SUPERSEDED");
    const p = await this.zm.view(state.account);
    if (p.status === "blocked") return refuse("ACCOUNT_BLOCKED");
    if (p.status !== "active") return refuse("ACCOUNT_NOT_ACTIVE");
    if (Date.parse(state.certNotAfter) <= this.clock.now().getTime()) return refuse("CERTIFICATE_EXPIRED");
    const ocsp = await call<hsm.GetOcspStatusRequest, hsm.GetOcspStatusResponse>(this.hsm.getOcspStatus.bind(this.hsm), { certSerial });
    if (ocsp.status !== "good") return refuse("CERTIFICATE_REVOKED");
    return { ok: true, box };
  }

  async sessionOpened(box: BoxIdentity, sessionId: string, peer: string): Promise<void> {
    await this.handle(box.boxId, { type: "OpenSession", sessionId, certSerial: box.certSerial, peer, at: this.now() });
  }

  async sessionClosed(box: BoxIdentity, sessionId: string, reason: string): Promise<void> {
    await this.handle(box.boxId, { type: "CloseSession", sessionId, reason, at: this.now() });
  }

  async sessionRefused(box: BoxIdentity, reason: SessionRefusal, peer: string): Promise<void> {
    await this.handle(box.boxId, { type: "RefuseSession", reason, certSerial: box.certSerial, peer, at: this.now() });
  }

  /** At start: sessions the store still shows open ended with the process that held them. */
  async closeStaleSessions(reason: string): Promise<void> {
    await this.refresh.trigger();
    for (const s of await this.projection.list(this.store.sql)) {
      if (!s.sessionId) continue;
      const box: BoxIdentity = { boxId: s.boxId, account: s.account, certSerial: s.certSerial, certNotAfter: s.certNotAfter };
      await this.sessionClosed(box, s.sessionId, reason);
    }
  }

  private viewOf(s: VpnBoxState): BoxView {
    return {
      boxId: s.boxId,
      account: s.account,
      name: s.name,
      state: s.state,
      certSerial: s.certSerial,
      certNotAfter: s.certNotAfter,
      certFingerprint: s.certFingerprint,
      connected: Boolean(s.sessionId),
      connectedSince: s.connectedSince,
      lastHeartbeat: s.sessionId ? (this.terminator?.heartbeatOf(s.boxId) ?? "") : "",
      lastSessionEnd: s.lastSessionEnd,
      enrolmentExpiresAt: s.state === "awaiting-enrolment" ? s.enrolmentExpiresAt : "",
      createdAt: s.createdAt,
      removedAt: s.removedAt,
    };
  }

  async view(boxId: string): Promise<BoxView> {
    const { state } = await this.boxes.load(boxStream(boxId));
    if (!state.exists) throw new DomainError("BOX_NOT_FOUND", "no such VPN box", { field: "boxId" });
    return this.viewOf(state);
  }

  /** Every box, or one account's (never another's: the filter is on the server). */
  async list(account?: string): Promise<BoxView[]> {
    await this.refresh.trigger();
    const all = await this.projection.list(this.store.sql);
    return all
      .filter((s) => !account || s.account === account)
      .map((s) => this.viewOf(s))
      .sort((a, b) => a.account.localeCompare(b.account) || a.createdAt.localeCompare(b.createdAt));
  }
}
