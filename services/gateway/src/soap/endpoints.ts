import { generateKeyPair, X509Certificate, type KeyObject } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import { isIP } from "node:net";
import type { TLSSocket } from "node:tls";
import { promisify } from "node:util";
import {
  child,
  childText,
  DomainError,
  guardedListener,
  hardenHttpServer,
  HttpRefusal,
  migrate,
  readBody,
  refuse,
  type Logger,
  type Sql,
  type XmlElement,
} from "@tigw/platform";
import type { CardTerminalApi, HsmApi, KsrApi, TenancyApi, VpnApi, VsdmApi, ZugangsmodulApi } from "../grpc-clients.js";
import { connectorSds } from "./directory.js";
import { envelope, faultEnvelope, requestElement, SoapFault, SYNTAX_ERROR, toSoapFault } from "./envelope.js";
import { UnitEvents } from "./cetp.js";
import { soapMetrics } from "./metrics.js";
import { OPERATIONS, type OperationScope } from "./operations.js";
import { endpointPath, NS, SOAP_SERVICES } from "./services.js";

export interface SoapEndpointOptions {
  tenancy: TenancyApi;
  hsm: HsmApi;
  cardTerminal: CardTerminalApi;
  vsdm: VsdmApi;
  vpn: VpnApi;
  /** ksr: the units' firmware updates as CETP events (KSR/UPDATE/END, KSR/ERROR). */
  ksr?: KsrApi;
  /** The Zugangsmodul (vpn): told where each endpoint listens; asked for a tunnelled practice's Mandanten. */
  zugangsmodul?: ZugangsmodulApi;
  /** Where the vpn service reaches the endpoints (default: host, or publicHost when host is a wildcard). */
  internalHost?: string;
  /** Where the gateway keeps the unit-to-port assignment (schema gateway_soap). */
  sql: Sql;
  /** Address the endpoints listen on (default 127.0.0.1). */
  host?: string;
  /** Host name or IP address clients use: in every URL of connector.sds and in the certificate (default: host, or 127.0.0.1 for 0.0.0.0). */
  publicHost?: string;
  /** First port of the units' endpoints; each unit keeps the port it got first. 0: a free port per start (tests). */
  portBase?: number;
  logger?: Logger;
  now?: () => Date;
  /** How long a subscription lives before it must be renewed (default 1 hour). */
  subscriptionLifetimeMs?: number;
  /** How often card-terminal is read for events while a unit has subscriptions (default 250 ms). */
  eventPollMs?: number;
}

/** One SOAP call as the per-unit log records it: no insured data, no PINs, no card handles. */
export interface SoapCall {
  at: string;
  operation: string;
  clientSystemId: string;
  /** 0 when it succeeded, else the gematik code of the fault. */
  code: number;
  ms: number;
}

export interface SoapEndpoint {
  unitId: string;
  serial: string;
  /** https://publicHost:port */
  baseUrl: string;
  port: number;
  /** The TLS server certificate (PEM) and its issuing CA. */
  certificatePem: string;
  chainPems: string[];
  /** The newest calls, oldest first (at most 1,000). */
  log: SoapCall[];
  server: Server;
  events: UnitEvents;
}

const migrations = [
  {
    id: "001-endpoints",
    sql: `CREATE TABLE {schema}.endpoints (unit_id text PRIMARY KEY, port integer NOT NULL UNIQUE, assigned_at timestamptz NOT NULL DEFAULT now());`,
  },
];

/** A SOAP request is small (ReadVSD's is under 1 KiB); larger bodies are refused before being read whole. */
const BODY_LIMIT = 1024 * 1024;
const LOG_LIMIT = 1000;
const generateKeyPairAsync = promisify(generateKeyPair);

/**
 * The Konnektor interface of each unit for practice software: its own HTTPS address (a port per
 * unit, so the address's root is that unit and connector.sds sits at /connector.sds, as clients
 * expect, with no DNS entry per unit), a TLS server certificate of the test PKI (C.AK.AUT
 * profile) whose key the gateway generates and keeps, and SOAP 1.1 endpoints per service
 * version translating to the services' gRPC. Endpoints open on first use (REST
 * GET /api/v1/units/{unit}/soap, `tigw unit soap`) and again at every start for units that had one.
 */
export class SoapEndpoints {
  private readonly open = new Map<string, Promise<SoapEndpoint>>();
  private readonly host: string;
  private readonly publicHost: string;
  private readonly now: () => Date;
  private readonly metrics = soapMetrics();
  private vpnBoxCa?: Promise<X509Certificate | undefined>;
  private bound?: { at: number; bindings: { unitId: string; mandantId: string }[] };

  private constructor(private readonly o: SoapEndpointOptions) {
    this.host = o.host ?? "127.0.0.1";
    this.publicHost = o.publicHost ?? (this.host === "0.0.0.0" || this.host === "::" ? "127.0.0.1" : this.host);
    this.now = o.now ?? (() => new Date());
  }

  static async start(o: SoapEndpointOptions): Promise<SoapEndpoints> {
    await migrate(o.sql, "gateway_soap", migrations);
    const e = new SoapEndpoints(o);
    if (o.portBase) {
      // Endpoints that existed before this start open again on their ports.
      const rows = await o.sql.query<{ unit_id: string }>("SELECT unit_id FROM gateway_soap.endpoints ORDER BY port");
      for (const r of rows) await e.ensure(r.unit_id).catch((err: unknown) => o.logger?.warn({ err, unitId: r.unit_id }, "SOAP endpoint did not open"));
    }
    return e;
  }

  /** The unit's endpoint, opened if it is not yet; `unit` is a unit id or serial (UNIT_NOT_FOUND from tenancy otherwise). */
  async ensure(unit: string): Promise<SoapEndpoint> {
    const { unit: u } = await this.o.tenancy.getUnit({ unit });
    if (!u) throw new DomainError("UNIT_NOT_FOUND", `no unit ${unit}`, { field: "unit", value: unit });
    let p = this.open.get(u.unitId);
    if (!p) {
      p = this.openEndpoint(u.unitId, u.serial);
      this.open.set(u.unitId, p);
      p.catch(() => this.open.delete(u.unitId));
    }
    return p;
  }

  /** Listening endpoints, for tests and the fuzz test. */
  async endpoints(): Promise<SoapEndpoint[]> {
    return Promise.all(this.open.values());
  }

  async close(): Promise<void> {
    const all = await Promise.allSettled(this.open.values());
    this.open.clear();
    await Promise.all(
      all.map((r) =>
        r.status === "fulfilled" ? new Promise<void>((res) => (r.value.server.closeAllConnections(), r.value.server.close(() => res()))) : undefined,
      ),
    );
  }

  private async portFor(unitId: string): Promise<number> {
    if (!this.o.portBase) return 0;
    const sql = this.o.sql;
    return sql.transaction(async (tx) => {
      await tx.query("SELECT pg_advisory_xact_lock(hashtext('tigw-soap-ports'))");
      const [have] = await tx.query<{ port: number }>("SELECT port FROM gateway_soap.endpoints WHERE unit_id = $1", [unitId]);
      if (have) return Number(have.port);
      const [max] = await tx.query<{ port: number | null }>("SELECT max(port) AS port FROM gateway_soap.endpoints");
      const port = max?.port ? Number(max.port) + 1 : this.o.portBase!;
      if (port > 65535) throw new HttpRefusal(503, "no port left for another SOAP endpoint");
      await tx.query("INSERT INTO gateway_soap.endpoints (unit_id, port) VALUES ($1, $2)", [unitId, port]);
      return port;
    });
  }

  private async openEndpoint(unitId: string, serial: string): Promise<SoapEndpoint> {
    // RSA 2048: every TLS stack of practice software accepts it (brainpool ECC in TLS is rare outside the TI).
    const { publicKey, privateKey } = (await generateKeyPairAsync("rsa", { modulusLength: 2048 })) as { publicKey: KeyObject; privateKey: KeyObject };
    const ipHost = isIP(this.publicHost) !== 0;
    const { certificate, chainPems } = await this.o.hsm.issueTlsServerCertificate({
      unitId,
      publicKey: publicKey.export({ type: "spki", format: "der" }),
      dnsNames: ipHost ? ["localhost"] : [this.publicHost, "localhost"],
      ipAddresses: ipHost ? [this.publicHost] : ["127.0.0.1"],
    });
    if (!certificate) throw new Error(`hsm issued no certificate for unit ${unitId}`);
    const port = await this.portFor(unitId);
    const endpoint: SoapEndpoint = {
      unitId,
      serial,
      baseUrl: "",
      port: 0,
      certificatePem: certificate.pem,
      chainPems,
      log: [],
      server: undefined as unknown as Server,
      events: new UnitEvents(unitId, {
        cardTerminal: this.o.cardTerminal,
        hsm: this.o.hsm,
        ksr: this.o.ksr,
        now: this.now,
        tls: true,
        lifetimeMs: this.o.subscriptionLifetimeMs ?? 60 * 60_000,
        pollMs: this.o.eventPollMs ?? 250,
        onError: (err) => this.o.logger?.warn({ err, unitId }, "reading card-terminal for CETP events failed"),
      }),
    };
    const server = createServer(
      {
        key: privateKey.export({ type: "pkcs8", format: "pem" }),
        cert: [certificate.pem, ...chainPems].join("\n"),
        minVersion: "TLSv1.2",
        // A client certificate is asked for, never required by TLS: whether it is the client
        // system's registered one is decided per call (mode mtls), so a refusal is a 4204 fault.
        requestCert: true,
        rejectUnauthorized: false,
      },
      guardedListener(`soap ${serial}`, (req, res) => this.handle(endpoint, req, res)),
    );
    hardenHttpServer(server as unknown as import("node:http").Server);
    // A failed handshake (plain HTTP, a client that does not trust the root) must not reach the process.
    server.on("tlsClientError", () => undefined);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, this.host, () => (server.off("error", reject), resolve()));
    });
    endpoint.server = server;
    endpoint.port = (server.address() as { port: number }).port;
    const hostPart = isIP(this.publicHost) === 6 ? `[${this.publicHost}]` : this.publicHost;
    endpoint.baseUrl = `https://${hostPart}:${endpoint.port}`;
    this.o.logger?.info({ unitId, serial, url: endpoint.baseUrl }, "SOAP endpoint open");
    await this.announce(unitId, endpoint.port);
    return endpoint;
  }

  /** Tells the Zugangsmodul where the endpoint listens, so practices reach it through their boxes (a failure is logged: direct calls work without it). */
  private async announce(unitId: string, port: number): Promise<void> {
    if (!this.o.zugangsmodul) return;
    const wildcard = this.host === "0.0.0.0" || this.host === "::";
    const host = this.o.internalHost ?? (wildcard ? this.publicHost : this.host);
    const address = `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
    await this.o.zugangsmodul
      .announceKonnektorEndpoint({ unitId, address })
      .catch((err: unknown) => this.o.logger?.warn({ err, unitId, address }, "the Zugangsmodul was not told the SOAP endpoint's address"));
  }

  /**
   * A call the Zugangsmodul carried through a practice's VPN box: the TLS client certificate is
   * the Zugangsmodul's (issued by the VPN-box CA to zugangsmodul.tigw.test, its signature checked
   * against that CA), and only then do its X-Tigw-Practice and X-Forwarded-Host count. A caller
   * that claims to be the Zugangsmodul (by the certificate's name or by X-Tigw-Practice) and cannot
   * be verified is refused (4204), never served as a direct caller. (Validity dates are not
   * checked: the certificate is hsm's, dated on its clock, which may be a simulated one.)
   */
  private async tunnelOf(req: IncomingMessage): Promise<{ account: string; forwardedHost: string } | undefined> {
    const account = String(req.headers["x-tigw-practice"] ?? "");
    const raw = (req.socket as TLSSocket).getPeerCertificate?.()?.raw;
    let cert: X509Certificate | undefined;
    try {
      cert = raw ? new X509Certificate(raw) : undefined;
    } catch {
      cert = undefined;
    }
    const claims = Boolean(account) || Boolean(cert && /(^|\n)CN=zugangsmodul\.tigw\.test(\n|$)/.test(cert.subject));
    if (!claims) return undefined;
    const refused = () => new SoapFault(4204, "this call claims to come through the Zugangsmodul but its certificate is not the Zugangsmodul's", true);
    if (!cert || !account) throw refused();
    const ca = await this.vpnBoxCaCertificate();
    if (!ca || !/(^|\n)CN=zugangsmodul\.tigw\.test(\n|$)/.test(cert.subject) || !cert.checkIssued(ca) || !cert.verify(ca.publicKey)) throw refused();
    const host = String(req.headers["x-forwarded-host"] ?? "");
    return { account, forwardedHost: /^[A-Za-z0-9.:[\]-]{1,100}$/.test(host) ? host : "" };
  }

  /** The VPN-box sub-CA, from hsm's trust anchors (asked again after a failure). */
  private async vpnBoxCaCertificate(): Promise<X509Certificate | undefined> {
    this.vpnBoxCa ??= this.o.hsm
      .getTrustAnchors({})
      .then((t) => t.subCaPems.map((p) => new X509Certificate(p)).find((c) => /CN=GEM\.VPNBOX-CA-TIGW-TEST-RSA/.test(c.subject)));
    const ca = await this.vpnBoxCa.catch(() => undefined);
    if (!ca) this.vpnBoxCa = undefined;
    return ca;
  }

  /** The Mandanten of this unit a tunnelled practice is bound to (the fixed Mandant-to-instance mapping). */
  private async practiceMandanten(account: string, unitId: string): Promise<Set<string>> {
    const { practice } = await this.o.zugangsmodul!.getPractice({ account });
    return new Set((practice?.bindings ?? []).filter((b) => b.unitId === unitId).map((b) => b.mandantId));
  }

  /**
   * Mandanten of this unit bound to some practice: those are reached through the practice's VPN
   * box only, so a direct caller naming one is refused like an unknown Mandant.
   */
  private async boundMandanten(unitId: string): Promise<Set<string>> {
    if (!this.o.zugangsmodul) return new Set();
    // Asked at most every 2 s: a binding takes effect for direct callers within that.
    if (!this.bound || Date.now() - this.bound.at > 2_000) {
      const { practices } = await this.o.zugangsmodul.listPractices({});
      this.bound = { at: Date.now(), bindings: practices.flatMap((p) => p.bindings) };
    }
    return new Set(this.bound.bindings.filter((b) => b.unitId === unitId).map((b) => b.mandantId));
  }

  /**
   * The client system authenticates as the unit's mode asks (card-terminal decides: none, HTTP
   * Basic with the ClientSystemId as user name, or the registered TLS client certificate); a
   * caller that does not is refused with 4204 before the access check sees the call.
   */
  private async authenticate(e: SoapEndpoint, req: IncomingMessage, clientSystemId: string, res: ServerResponse): Promise<void> {
    const basic = basicCredentials(req);
    const peer = (req.socket as TLSSocket).getPeerCertificate?.();
    const r = await this.o.cardTerminal.authenticateClient({
      unit: e.unitId,
      clientSystemId,
      basicUser: basic.user,
      password: basic.password,
      certFingerprint: peer?.fingerprint256 ?? "",
    });
    if (r.authenticated) return;
    if (r.mode === "basic") res.setHeader("www-authenticate", 'Basic realm="Konnektor", charset="UTF-8"');
    const how = r.mode === "basic" ? "HTTP Basic with its ClientSystemId and password" : "its registered TLS client certificate";
    throw new SoapFault(4204, `client system ${clientSystemId || "(none)"} is not authenticated: this Konnektor wants ${how}`, true);
  }

  private async handle(e: SoapEndpoint, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?")[0]!;
    let tunnel: { account: string; forwardedHost: string } | undefined;
    try {
      tunnel = await this.tunnelOf(req);
    } catch (err) {
      const fault = toSoapFault(err);
      res.writeHead(500, { "content-type": "text/xml; charset=utf-8" }).end(faultEnvelope(fault, this.now()));
      return;
    }
    if (path === "/connector.sds") {
      if (req.method !== "GET" && req.method !== "HEAD") return refuse(res, 405, "connector.sds is read with GET");
      const [{ unit }, { infomodell }] = await Promise.all([this.o.tenancy.getUnit({ unit: e.unitId }), this.o.cardTerminal.getInfomodell({ unit: e.unitId })]);
      // Through a VPN box the practice network reaches the Konnektor at the box's local address,
      // without TLS of its own (the tunnel is encrypted): those are the endpoints it must use.
      const plainBaseUrl = tunnel?.forwardedHost ? `http://${tunnel.forwardedHost}` : undefined;
      const sds = connectorSds(
        { serial: e.serial, profile: unit?.profile ?? "", firmware: unit?.firmware ?? "" },
        { baseUrl: e.baseUrl, plainBaseUrl, clientAuthMandatory: (infomodell?.clientAuth || "none") !== "none", now: this.now() },
      );
      res.writeHead(200, { "content-type": "text/xml; charset=utf-8", "cache-control": "no-store" }).end(req.method === "HEAD" ? undefined : sds);
      return;
    }
    const m = /^\/soap\/([A-Za-z]+)\/(\d+\.\d+\.\d+)$/.exec(path);
    const service = m && SOAP_SERVICES.find((s) => s.name === m[1] && s.versions.some((v) => v.version === m[2]));
    if (!service) return refuse(res, 404, `no SOAP endpoint at ${path.slice(0, 200)}: the endpoints are listed in /connector.sds`);
    if (req.method !== "POST") return refuse(res, 405, `SOAP requests are POSTed to ${endpointPath(service.name, m![2]!)}`);
    const started = process.hrtime.bigint();
    const at = this.now();
    let operation = "?";
    let clientSystemId = "";
    let answer: string;
    let status = 200;
    let code = 0;
    try {
      const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
      if (type !== "text/xml") throw new SoapFault(SYNTAX_ERROR, `a SOAP 1.1 request has Content-Type text/xml, not ${type.slice(0, 60) || "none"}`, true);
      const body = (await readBody(req, BODY_LIMIT)).toString("utf8");
      const request = requestElement(body);
      operation = service.operations.includes(request.local) ? request.local : "unknown";
      clientSystemId = contextClientSystem(request);
      if (request.ns !== service.namespace || !service.operations.includes(request.local)) {
        const known = request.ns === service.namespace ? "" : ` (its namespace ${request.ns.slice(0, 100) || "(none)"} is not ${service.namespace})`;
        throw new SoapFault(SYNTAX_ERROR, `${service.name} offers ${service.operations.join(", ")}, not ${operation}${known}`, true);
      }
      // A practice's own Mandanten only, through its box: another's is refused exactly as one that
      // does not exist; a practice's Mandant named by a direct caller likewise.
      const mandantId = contextMandant(request);
      const unknown = tunnel ? !(await this.practiceMandanten(tunnel.account, e.unitId)).has(mandantId) : (await this.boundMandanten(e.unitId)).has(mandantId);
      if (unknown) throw new SoapFault(4004, `unknown MandantId ${mandantId.slice(0, 64) || "(none)"}`, true);
      // The Konnektor would dial the EventTo address from the datacentre, not the practice network.
      if (tunnel && request.local === "Subscribe")
        throw new SoapFault(SYNTAX_ERROR, "event subscriptions (CETP) are not carried through a VPN box yet: poll GetCards instead", true);
      await this.authenticate(e, req, clientSystemId, res);
      const expected = `${service.actionPrefix}#${request.local}`;
      const action = (req.headers["soapaction"] ?? "")
        .toString()
        .trim()
        .replace(/^"(.*)"$/, "$1");
      if (action !== expected) throw new SoapFault(SYNTAX_ERROR, `SOAPAction is "${action.slice(0, 200)}"; ${request.local} needs "${expected}"`, true);
      const scope: OperationScope = {
        unit: { unitId: e.unitId, serial: e.serial, profile: "", firmware: "" },
        cardTerminal: this.o.cardTerminal,
        hsm: this.o.hsm,
        vsdm: this.o.vsdm,
        vpn: this.o.vpn,
        events: e.events,
        now: this.now,
      };
      answer = envelope(await OPERATIONS.get(`${request.ns}#${request.local}`)!(request, scope));
    } catch (err) {
      if (err instanceof HttpRefusal) throw err;
      const fault = toSoapFault(err);
      if (fault.code === 4001) this.o.logger?.error({ err, unitId: e.unitId, operation }, "SOAP operation failed");
      code = fault.code;
      status = 500;
      answer = faultEnvelope(fault, this.now());
    }
    res.writeHead(status, { "content-type": "text/xml; charset=utf-8", "cache-control": "no-store" }).end(answer);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    e.log.push({ at: at.toISOString(), operation, clientSystemId, code, ms: Math.round(ms * 10) / 10 });
    if (e.log.length > LOG_LIMIT) e.log.splice(0, e.log.length - LOG_LIMIT);
    this.metrics.call(e.serial, operation, code, ms);
    this.o.logger?.info({ unitId: e.unitId, operation, clientSystemId, code, ms }, "SOAP call");
  }
}

/** The user name and password of an HTTP Basic Authorization header ("" when there is none). */
function basicCredentials(req: IncomingMessage): { user: string; password: string } {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(req.headers["authorization"] ?? "");
  const text = m ? Buffer.from(m[1]!, "base64").toString("utf8") : "";
  const colon = text.indexOf(":");
  return colon < 0 ? { user: "", password: "" } : { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

/** The MandantId of a request's Context (empty when there is none). */
function contextMandant(request: XmlElement): string {
  return childText(child(request, NS.cctx, "Context"), NS.conn, "MandantId") ?? "";
}

/** The ClientSystemId of a request's Context, for the log (empty when there is none). */
function contextClientSystem(request: XmlElement): string {
  return (childText(child(request, NS.cctx, "Context"), NS.conn, "ClientSystemId") ?? "").slice(0, 64);
}
