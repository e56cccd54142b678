import { generateKeyPairSync, randomUUID, X509Certificate } from "node:crypto";
import {
  constants as h2,
  createSecureServer,
  type Http2SecureServer,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type ServerHttp2Session,
} from "node:http2";
import { request as httpsRequest } from "node:https";
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { DomainError, ValidationError, type Clock, type Logger } from "@tigw/platform";
import type { BoxIdentity, SessionTerminator, VpnBoxes } from "../application/boxes.js";
import type { Zugangsmodul } from "../application/zugangsmodul.js";
import type { SessionRefusal } from "../domain/vpn-box.js";
import { splitAddress } from "./konnektors.js";
import type { OwnInstance, TunnelTerminals } from "./terminals.js";

/** The name in the Zugangsmodul's server certificate: boxes check it. */
export const ZUGANGSMODUL_SERVER_NAME = "zugangsmodul.tigw.test";
/** The VPN-box sub-CA (RSA branch) that issues the boxes' and the Zugangsmodul's certificates. */
export const VPNBOX_CA_CN = "GEM.VPNBOX-CA-TIGW-TEST-RSA";

const MAX_BODY = 16 * 1024;

export interface ZugangsmodulEndpointOptions {
  host?: string;
  port?: number;
  /** host:port as boxes reach it when not the listener's own (behind a load balancer, in Kubernetes). */
  publicAddress?: string;
  /** The server certificate's key and chain (leaf first), and the CAs a box certificate must chain to. */
  tls: { keyPem: string; certPem: string; chainPems: string[]; caPems: string[] };
  /** The TI roots (PEM) the units' Konnektor endpoints' certificates chain to. */
  konnektorCaPems?: string[];
  /** The practice's card terminals through the tunnel (pairing, connect, heartbeat, cards). */
  terminals?: TunnelTerminals;
  /** How often a box pings (told to the box in its session answer); three missed: the session ends. */
  heartbeatMs?: number;
  /** How often a live session is admitted again (expiry on the clock, revocation at the PKI). */
  recheckMs?: number;
  logger?: Logger;
}

/** What the tunnel serves a session: the practice's own instances, from the session's account only. */
export interface TunnelBackend {
  /** The practice's instances and its Mandanten on each (its bindings: cheap, asked per request). */
  instances(account: string): Promise<OwnInstance[]>;
  /** Whether a unit has TI access now (null: not known), for the session's views only. */
  tiAccess(unitId: string): Promise<boolean | null>;
  /** host:port of a unit's Konnektor interface (its SOAP endpoint), once the gateway opened it. */
  konnektorAddress(unitId: string): Promise<string | undefined>;
}

/** Request headers of practice software the tunnel carries to the Konnektor (nothing else: no Host, no X-Tigw-*). */
const KONNEKTOR_HEADERS = ["content-type", "soapaction", "authorization", "accept"];
/** Answer headers it carries back. */
const KONNEKTOR_ANSWER_HEADERS = ["content-type", "www-authenticate", "cache-control"];
const SOAP_BODY_LIMIT = 1024 * 1024;
const KONNEKTOR_ANSWER_LIMIT = 8 * 1024 * 1024;

interface LiveSession {
  sessionId: string;
  box: BoxIdentity;
  h2: ServerHttp2Session;
  peer: string;
  lastSeen: number;
  lastHeartbeat: string;
  lastAdmitted: number;
  ended: boolean;
}

type Admission = { ok: true; live: LiveSession } | { ok: false; code: string; message: string };

class Problem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const REFUSAL_TEXT: Record<SessionRefusal | "UNKNOWN_CERTIFICATE" | "NO_CLIENT_CERTIFICATE" | "UNTRUSTED_CERTIFICATE", string> = {
  CERTIFICATE_REVOKED: "the box's certificate is revoked: enrol the box again in the portal",
  CERTIFICATE_EXPIRED: "the box's certificate has expired: enrol the box again in the portal",
  CERTIFICATE_SUPERSEDED: "this certificate is not the box's current one",
  BOX_REMOVED: "this VPN box was removed from its practice",
  ACCOUNT_BLOCKED: "the practice account is blocked: ask your TI-Gateway operator",
  ACCOUNT_NOT_ACTIVE: "the practice account must enrol TOTP again before its boxes connect",
  UNKNOWN_CERTIFICATE: "this certificate belongs to no VPN box",
  NO_CLIENT_CERTIFICATE: "a session needs the box's client certificate (enrol first: POST /v1/enrol)",
  UNTRUSTED_CERTIFICATE: "the client certificate is not one of the VPN-box CA",
};

/**
 * The Zugangsmodul's TLS endpoint, the practice-side edge: HTTP/2 over TLS with client
 * certificates. One HTTP/2 connection is one box session: it is admitted once at its start (the
 * certificate names the box, the box names its account), kept by the box's PING frames, re-admitted
 * now and then (expiry on the service's clock, revocation), and ended at once when the box is
 * removed or its account blocked. Everything a session asks is answered for the session's account,
 * never for a name in the request. Without a certificate only the enrolment is open.
 */
export class ZugangsmodulEndpoint implements SessionTerminator {
  private server?: Http2SecureServer;
  private readonly sockets = new Set<Socket>();
  private readonly admissions = new WeakMap<ServerHttp2Session, Promise<Admission>>();
  private readonly live = new Map<string, LiveSession>();
  private sweeper?: NodeJS.Timeout;
  private sweeping = Promise.resolve();
  /** Refused sessions by reason and tunnel requests by account since start, for metrics. */
  readonly refused = new Map<string, number>();
  readonly requests = new Map<string, number>();
  sessionsOpened = 0;
  address = "";

  constructor(
    private readonly boxes: VpnBoxes,
    private readonly zm: Zugangsmodul,
    private readonly backend: TunnelBackend,
    private readonly clock: Clock,
    private readonly o: ZugangsmodulEndpointOptions,
  ) {}

  /** Where boxes reach this endpoint, and the CAs (PEM) they trust its certificate by. */
  get publicAddress(): string {
    return this.o.publicAddress || this.address;
  }

  get trustPems(): string[] {
    return this.o.tls.caPems;
  }

  get heartbeatMs(): number {
    return this.o.heartbeatMs ?? 30_000;
  }

  async listen(): Promise<void> {
    // Sessions the store still shows open were ended by the last stop (or crash) of this process.
    await this.boxes.closeStaleSessions("ZUGANGSMODUL_RESTARTED");
    const server = createSecureServer(
      {
        key: this.o.tls.keyPem,
        cert: [this.o.tls.certPem, ...this.o.tls.chainPems].join("\n"),
        ca: this.o.tls.caPems,
        requestCert: true,
        // Unauthenticated TLS is allowed for the enrolment only; every other request checks the certificate itself.
        rejectUnauthorized: false,
        minVersion: "TLSv1.2",
        allowHTTP1: false,
        settings: { maxConcurrentStreams: 100 },
      },
      (req, res) => void this.request(req, res),
    );
    server.on("session", (s: ServerHttp2Session) => this.admissions.set(s, this.admit(s)));
    server.on("tlsClientError", () => undefined);
    server.on("sessionError", () => undefined);
    server.on("connection", (socket: Socket) => {
      this.sockets.add(socket);
      socket.once("close", () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => server.once("error", reject).listen(this.o.port ?? 0, this.o.host ?? "127.0.0.1", resolve));
    this.server = server;
    this.address = `${this.o.host ?? "127.0.0.1"}:${(server.address() as { port: number }).port}`;
    const tick = Math.min(5_000, this.heartbeatMs);
    this.sweeper = setInterval(() => {
      this.sweeping = this.sweeping.then(() => this.sweep()).catch((e: unknown) => this.o.logger?.warn({ err: e }, "Zugangsmodul session sweep failed"));
    }, tick);
    this.sweeper.unref();
  }

  async close(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    await this.sweeping;
    for (const l of [...this.live.values()]) await this.end(l, "ZUGANGSMODUL_STOPPED");
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** Live sessions now (one per connected box). */
  connectedCount(): number {
    return this.live.size;
  }

  heartbeatOf(boxId: string): string {
    for (const l of this.live.values()) if (l.box.boxId === boxId) return l.lastHeartbeat;
    return "";
  }

  endBox(boxId: string, reason: string): void {
    for (const l of [...this.live.values()]) if (l.box.boxId === boxId) void this.end(l, reason);
  }

  endAccount(account: string, reason: string): void {
    for (const l of [...this.live.values()]) if (l.box.account === account) void this.end(l, reason);
  }

  private count(map: Map<string, number>, key: string): void {
    map.set(key, (map.get(key) ?? 0) + 1);
  }

  /** A new connection: with a certificate of the VPN-box CA it becomes a session of that box, or is refused with a reason. */
  private async admit(s: ServerHttp2Session): Promise<Admission> {
    const socket = s.socket as TLSSocket;
    const peer = `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? "?"}`;
    const cert = socket.getPeerCertificate?.();
    if (!cert || !cert.raw) return { ok: false, code: "NO_CLIENT_CERTIFICATE", message: REFUSAL_TEXT.NO_CLIENT_CERTIFICATE };
    let x: X509Certificate | undefined;
    try {
      x = new X509Certificate(cert.raw);
    } catch {
      x = undefined;
    }
    // TLS checked the chain (and the wall-clock validity); the issuer must be the VPN-box CA itself, not another sub-CA under the same root.
    if (!socket.authorized || !x || !x.issuer.includes(`CN=${VPNBOX_CA_CN}`)) {
      this.count(this.refused, "UNTRUSTED_CERTIFICATE");
      this.o.logger?.info(
        { peer, why: socket.authorizationError ? String(socket.authorizationError) : "issuer" },
        "box session refused: untrusted certificate",
      );
      const expired = String(socket.authorizationError ?? "") === "CERT_HAS_EXPIRED";
      return {
        ok: false,
        code: expired ? "CERTIFICATE_EXPIRED" : "UNTRUSTED_CERTIFICATE",
        message: expired ? REFUSAL_TEXT.CERTIFICATE_EXPIRED : REFUSAL_TEXT.UNTRUSTED_CERTIFICATE,
      };
    }
    const serial = x.serialNumber.toUpperCase();
    try {
      const a = await this.boxes.admit(serial);
      if (!a.ok) {
        this.count(this.refused, a.reason);
        if (a.box && a.reason !== "UNKNOWN_CERTIFICATE") await this.boxes.sessionRefused(a.box, a.reason, peer);
        this.o.logger?.info({ boxId: a.box?.boxId, reason: a.reason, peer }, "box session refused");
        return { ok: false, code: a.reason, message: REFUSAL_TEXT[a.reason] };
      }
      if (s.closed || s.destroyed) return { ok: false, code: "SESSION_CLOSED", message: "the connection closed" };
      const live: LiveSession = {
        sessionId: `zs-${randomUUID()}`,
        box: a.box,
        h2: s,
        peer,
        lastSeen: Date.now(),
        lastHeartbeat: this.clock.now().toISOString(),
        lastAdmitted: Date.now(),
        ended: false,
      };
      // One session per box: a reconnecting box replaces its old, half-dead one.
      for (const old of [...this.live.values()]) if (old.box.boxId === a.box.boxId) await this.end(old, "REPLACED_BY_NEW_SESSION");
      this.live.set(live.sessionId, live);
      this.sessionsOpened++;
      await this.boxes.sessionOpened(a.box, live.sessionId, peer);
      this.o.logger?.info({ boxId: a.box.boxId, account: a.box.account, sessionId: live.sessionId, peer }, "box session connected");
      s.on("ping", () => {
        live.lastSeen = Date.now();
        live.lastHeartbeat = this.clock.now().toISOString();
      });
      s.once("close", () => void this.end(live, "BOX_DISCONNECTED"));
      if (s.closed || s.destroyed) await this.end(live, "BOX_DISCONNECTED");
      return { ok: true, live };
    } catch (e) {
      this.o.logger?.warn({ err: e, peer }, "box session admission failed");
      return { ok: false, code: "ZUGANGSMODUL_UNAVAILABLE", message: "the Zugangsmodul cannot admit sessions now: the box retries" };
    }
  }

  /** Ends a live session once: the event, then the connection (GOAWAY, then closed). */
  private async end(l: LiveSession, reason: string): Promise<void> {
    if (l.ended) return;
    l.ended = true;
    this.live.delete(l.sessionId);
    this.o.logger?.info({ boxId: l.box.boxId, sessionId: l.sessionId, reason }, "box session ended");
    if (!l.h2.destroyed) {
      try {
        l.h2.goaway(h2.NGHTTP2_NO_ERROR, 0, Buffer.from(reason));
      } catch {
        // closing already
      }
      l.h2.close();
      setTimeout(() => l.h2.destroy(), 2_000).unref();
    }
    await this.boxes.sessionClosed(l.box, l.sessionId, reason).catch((e: unknown) => this.o.logger?.warn({ err: e }, "recording a session's end failed"));
  }

  /** Silent boxes end (three heartbeats missed); live ones are admitted again now and then. */
  private async sweep(): Promise<void> {
    const now = Date.now();
    for (const l of [...this.live.values()]) {
      if (now - l.lastSeen > 3 * this.heartbeatMs) {
        await this.end(l, "HEARTBEAT_TIMEOUT");
        continue;
      }
      if (now - l.lastAdmitted >= (this.o.recheckMs ?? 60_000)) {
        l.lastAdmitted = now;
        const a = await this.boxes.admit(l.box.certSerial);
        if (!a.ok) {
          this.count(this.refused, a.reason);
          await this.end(l, a.reason);
        }
      }
    }
  }

  /** Admits all live sessions again now (tests and the operator's clock advance). */
  async recheckNow(): Promise<void> {
    for (const l of this.live.values()) l.lastAdmitted = 0;
    await (this.sweeping = this.sweeping.then(() => this.sweep()));
  }

  private async request(req: Http2ServerRequest, res: Http2ServerResponse): Promise<void> {
    const send = (status: number, body: unknown) => {
      if (res.headersSent || res.stream.destroyed) return;
      res.writeHead(status, { "content-type": status >= 400 ? "application/problem+json" : "application/json", "cache-control": "no-store" });
      res.end(JSON.stringify(body));
    };
    const fail = (p: Problem) => send(p.status, { status: p.status, code: p.code, title: p.message });
    try {
      const path = (req.headers[":path"] ?? "/").split("?")[0]!;
      if (path === "/v1/enrol") {
        if (req.method !== "POST") throw new Problem(405, "METHOD_NOT_ALLOWED", "POST the enrolment");
        const body = await readJson(req);
        const enrolled = await this.boxes.enrol(str(body, "code"), Buffer.from(str(body, "publicKey"), "base64"), Buffer.from(str(body, "proof"), "base64"));
        this.o.logger?.info({ boxId: enrolled.boxId, account: enrolled.account }, "VPN box enrolled");
        return send(201, enrolled);
      }
      const admission = await (this.admissions.get(req.stream.session as ServerHttp2Session) ??
        Promise.resolve<Admission>({ ok: false, code: "NO_SESSION", message: "no session" }));
      if (!admission.ok) {
        // The box learns why, then the connection ends: a refused session serves nothing.
        const status = admission.code === "ZUGANGSMODUL_UNAVAILABLE" ? 503 : 403;
        send(status, { status, code: admission.code, title: admission.message });
        const session = req.stream.session;
        setImmediate(() => session?.close());
        return;
      }
      const l = admission.live;
      if (l.ended) throw new Problem(403, "SESSION_ENDED", "this session has ended: the box reconnects");
      l.lastSeen = Date.now();
      this.count(this.requests, l.box.account);
      if (path === "/connector.sds" || path.startsWith("/soap/")) return await this.toKonnektor(l, req, res, path);
      const kt = /^\/v1\/terminals(?:\/([^/]{1,64})\/(connect\/begin|connect\/complete|heartbeat|cards|cards\/remove))?$/.exec(path);
      if (kt && this.o.terminals) {
        if (req.method !== "POST") throw new Problem(405, "METHOD_NOT_ALLOWED", "a terminal's calls are POSTed");
        const body = await readJson(req);
        const own = await this.backend.instances(l.box.account);
        if (!kt[1]) {
          const inst = this.instanceOf(own, req);
          const b = { ctId: str(body, "ctId"), mac: str(body, "mac"), certSerial: str(body, "certSerial"), mandantId: str(body, "mandantId") };
          const paired = await this.o.terminals.pair(inst, b);
          this.o.logger?.info({ boxId: l.box.boxId, account: l.box.account, ctId: b.ctId, unitId: inst.unitId }, "terminal paired through a VPN box");
          return send(201, paired);
        }
        return send(200, (await this.o.terminals.act(own, pathPart(kt[1]), kt[2]!, body)) ?? {});
      }
      if (req.method !== "GET") throw new Problem(405, "METHOD_NOT_ALLOWED", "the tunnel's resources are read with GET");
      if (path === "/v1/session") {
        const p = await this.zm.view(l.box.account);
        return send(200, {
          sessionId: l.sessionId,
          boxId: l.box.boxId,
          account: l.box.account,
          practiceName: p.practiceName,
          heartbeatSeconds: Math.round(this.heartbeatMs / 1000),
          certificateNotAfter: l.box.certNotAfter,
          instances: await this.withTiAccess(l.box.account),
        });
      }
      if (path === "/v1/instances") return send(200, { instances: await this.withTiAccess(l.box.account) });
      const m = /^\/v1\/instances\/([^/]{1,80})$/.exec(path);
      if (m) {
        const unit = pathPart(m[1]!);
        const own = (await this.backend.instances(l.box.account)).find((i) => i.unit === unit || i.unitId === unit);
        // The same refusal whether the instance exists or is another practice's.
        if (!own) throw new Problem(403, "PERMISSION_DENIED", "this instance is not one of your practice's");
        return send(200, { ...own, tiAccess: await this.backend.tiAccess(own.unitId) });
      }
      throw new Problem(
        404,
        "NOT_FOUND",
        "no such resource in the tunnel (GET /v1/session, /v1/instances, /v1/instances/{serial}; POST /v1/terminals...; the Konnektor: /connector.sds, /soap/...)",
      );
    } catch (e) {
      if (e instanceof Problem) return fail(e);
      if (e instanceof DomainError) {
        // A wrong, used or expired code is refused like wrong credentials; a key of another box is a conflict.
        const status = /NOT_FOUND$/.test(e.code)
          ? 404
          : e.code === "ACCOUNT_BLOCKED" || e.code.startsWith("ENROLMENT_CODE_") || e.code === "BOX_REMOVED" || e.code === "PERMISSION_DENIED"
            ? 403
            : e instanceof ValidationError
              ? 400
              : 409;
        return fail(new Problem(status, e.code, e.message));
      }
      this.o.logger?.warn({ err: e }, "Zugangsmodul request failed");
      return fail(new Problem(500, "INTERNAL", "the Zugangsmodul failed to answer: try again"));
    }
  }

  /** The practice's instances with their TI access, as the session's views show them. */
  private async withTiAccess(account: string): Promise<(OwnInstance & { tiAccess: boolean | null })[]> {
    return Promise.all((await this.backend.instances(account)).map(async (i) => ({ ...i, tiAccess: await this.backend.tiAccess(i.unitId) })));
  }

  /** The instance a request of the practice network means: the box's X-Tigw-Instance, or the practice's only one. */
  private instanceOf(own: OwnInstance[], req: Http2ServerRequest): OwnInstance {
    const wanted = String(req.headers["x-tigw-instance"] ?? "");
    const inst = wanted ? own.find((i) => i.unit === wanted || i.unitId === wanted) : own.length === 1 ? own[0] : undefined;
    if (inst) return inst;
    if (wanted) throw new Problem(403, "PERMISSION_DENIED", "this instance is not one of your practice's");
    throw own.length
      ? new Problem(409, "INSTANCE_AMBIGUOUS", `your practice has ${own.length} instances: the box names one (tigw sim vpnbox --instance SERIAL)`)
      : new Problem(403, "NO_INSTANCE", "your practice is bound to no instance yet: ask your TI-Gateway operator");
  }

  /**
   * Practice software's call to its Konnektor, carried through the box's session: to the
   * session's own instance only (the box's X-Tigw-Instance when its practice has several), onto
   * that unit's SOAP endpoint over TLS. The Zugangsmodul authenticates there with its own
   * certificate and names the session's practice, so the Konnektor answers for that practice's
   * Mandanten only; nothing the practice sends can name another.
   */
  private async toKonnektor(l: LiveSession, req: Http2ServerRequest, res: Http2ServerResponse, path: string): Promise<void> {
    const inst = this.instanceOf(await this.backend.instances(l.box.account), req);
    const address = await this.backend.konnektorAddress(inst.unitId);
    if (!address) throw new Problem(503, "KONNEKTOR_NOT_OPEN", `the Konnektor interface of ${inst.unit} is not open yet: try again shortly`);
    const body = await readBody(req, SOAP_BODY_LIMIT);
    const headers: Record<string, string> = {
      "x-tigw-practice": l.box.account,
      "x-tigw-box": l.box.boxId,
      "x-forwarded-proto": "http",
      "content-length": String(body.length),
    };
    for (const h of KONNEKTOR_HEADERS) if (typeof req.headers[h] === "string") headers[h] = req.headers[h] as string;
    const fwdHost = String(req.headers["x-forwarded-host"] ?? "");
    if (/^[A-Za-z0-9.:[\]-]{1,100}$/.test(fwdHost)) headers["x-forwarded-host"] = fwdHost;
    const [host, port] = splitAddress(address);
    const answer = await new Promise<{ status: number; headers: Record<string, string>; body: Buffer }>((resolve, reject) => {
      // (A header value node refuses throws here, inside the promise: the catch below answers it.)
      const r = httpsRequest(
        {
          host,
          port,
          method: req.method,
          path,
          headers,
          key: this.o.tls.keyPem,
          cert: [this.o.tls.certPem, ...this.o.tls.chainPems.slice(0, 1)].join("\n"),
          ca: this.o.konnektorCaPems,
          // The endpoint's certificate names the unit's public host, not necessarily the address
          // announced inside the datacentre: its chain to the TI root is what is checked.
          checkServerIdentity: () => undefined,
          timeout: 60_000,
        },
        (a) => {
          const chunks: Buffer[] = [];
          let size = 0;
          a.on("data", (c: Buffer) => {
            size += c.length;
            if (size > KONNEKTOR_ANSWER_LIMIT) a.destroy(new Error(`the Konnektor's answer is larger than ${KONNEKTOR_ANSWER_LIMIT} bytes`));
            else chunks.push(c);
          });
          a.on("end", () => {
            const h: Record<string, string> = {};
            for (const k of KONNEKTOR_ANSWER_HEADERS) if (typeof a.headers[k] === "string") h[k] = a.headers[k] as string;
            resolve({ status: a.statusCode ?? 502, headers: h, body: Buffer.concat(chunks) });
          });
          a.on("error", reject);
        },
      );
      r.on("timeout", () => r.destroy(new Error("the Konnektor did not answer within 60 s")));
      r.on("error", reject);
      r.end(body);
    }).catch((e: unknown) => {
      this.o.logger?.warn({ err: e, unitId: inst.unitId }, "the Konnektor did not answer through the tunnel");
      throw new Problem(502, "KONNEKTOR_UNREACHABLE", `the Konnektor of ${inst.unit} did not answer: try again`);
    });
    if (res.headersSent || res.stream.destroyed) return;
    res.writeHead(answer.status, answer.headers);
    res.end(answer.body);
  }
}

/** A path segment, percent-decoded; a broken escape is the client's error, not ours. */
function pathPart(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new Problem(400, "INVALID_PATH", "the path has a broken percent-escape");
  }
}

function str(body: Record<string, unknown>, name: string): string {
  const v = body[name];
  if (typeof v !== "string" || !v) throw new Problem(400, "INVALID_ARGUMENT", `${name} is required (a string)`);
  return v;
}

async function readBody(req: Http2ServerRequest, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > limit) throw new Problem(413, "PAYLOAD_TOO_LARGE", `the body is larger than ${limit} bytes`);
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

async function readJson(req: Http2ServerRequest): Promise<Record<string, unknown>> {
  const raw = await readBody(req, MAX_BODY);
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(raw));
  } catch {
    throw new Problem(400, "INVALID_JSON", "the body must be a JSON object (UTF-8)");
  }
  if (!v || typeof v !== "object" || Array.isArray(v)) throw new Problem(400, "INVALID_JSON", "the body must be a JSON object");
  return v as Record<string, unknown>;
}

/** A fresh key pair for the Zugangsmodul's server certificate (P-256): the key never leaves this process. */
export function newServerKey(): { keyPem: string; spkiDer: Buffer } {
  const k = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  return { keyPem: k.privateKey.export({ type: "pkcs8", format: "pem" }) as string, spkiDer: k.publicKey.export({ type: "spki", format: "der" }) };
}
