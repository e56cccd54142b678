import { generateKeyPairSync, randomUUID, X509Certificate } from "node:crypto";
import { createServer, type Server } from "node:https";
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { askOcsp, issueCertificate, nameOf, OcspUnreachable, parseCertificate, TI_TLS, toPem } from "@tigw/hsm";
import { DomainError, migrate, ValidationError, type Clock, type Sql } from "@tigw/platform";
import { checkContractId, CONTRACT_NONE, CONTRACT_TI, CONTRACT_TI_SIS, NOT_REGISTERED, REGISTERED } from "../domain/registration.js";
import {
  ALG,
  answerXml,
  faultXml,
  parseRequest,
  signatureProblem,
  verifySignatureValue,
  VpnZugdFault,
  type Operation,
  type SignedRequest,
  type VpnZugdAnswer,
} from "./soap.js";

/**
 * The simulated VPN-Zugangsdienst (the provider's side, as the Fachdienst simulator is vsdm's):
 * ProvisioningService over HTTPS with mutual TLS. The TLS layer admits only clients with a
 * certificate of the TI PKI's component CA (C.NK.VPN) whose key they hold, valid at the real
 * time (OpenSSL checks it); the service then checks, on the simulated clock, what
 * gemSpec_VPN_ZugD demands and refuses with its codes. Contracts, Sperrungen and registrations
 * are kept in the vpn service's database; faults are runtime switches for rehearsals.
 */
export const CODES = {
  "7011": "SMC-B signature invalid",
  "7021": "SMC-K certificate invalid",
  "7031": "SMC-B certificate invalid",
  "7041": "unknown ContractID",
  "7061": "timestamp more than 300 s off",
  "7071": "registration failed",
  "7081": "deregistration failed",
  "7091": "request not schema-valid",
} as const;
export type FaultName = keyof typeof CODES | "unreachable";
export const FAULTS: readonly FaultName[] = [...(Object.keys(CODES) as (keyof typeof CODES)[]), "unreachable"];
/** gemSpec_VPN_ZugD: a request whose Timestamp is more than 300 s off is refused (7061). */
export const MAX_SKEW_MS = 300_000;
const MAX_BODY = 64 * 1024;

export interface Contract {
  contractId: string;
  customer: string;
  sis: boolean;
}

export interface Sperrung {
  serial: string;
  contractId: string;
  reason: string;
  at: string;
}

/** The configuration data the VPN-ZugD hands out (the TI's resolvers; SIS only with SIS). */
const DNS = {
  DNS_SERVERS_INT: "10.30.0.53,10.30.0.54",
  DNS_DOMAIN_VPN_ZUGD_INT: "vpn-zugd.sim.tigw.test",
  DNS_SERVERS_TI: "10.97.0.53,10.97.1.53",
  DNS_SERVERS_SIS: "10.98.0.53",
  DNS_SERVERS_BESTANDSNETZE: "10.99.0.53",
};

export interface VpnZugdOptions {
  sql: Sql;
  schema: string;
  clock: Clock;
  /** The TI PKI (from hsm): roots and sub-CAs, to check C.NK.VPN and the SM-B and to ask OCSP. */
  trust: { rootPems: string[]; subCaPems: string[] };
  host?: string;
  port?: number;
  /** The URL other processes (hsm, which posts for the unit) use when it is not host:port, e.g. a Kubernetes Service. */
  publicUrl?: string;
  ocspTimeoutMs?: number;
}

/** The name in the simulator's server certificate; clients check it. */
export const VPNZUGD_SERVER_NAME = "vpn-zugd.sim.tigw.test";

export class VpnZugdSimulator {
  private readonly faults = new Set<FaultName>();
  private server?: Server;
  /** Every open connection, handshaking or not: close() ends them all. */
  private readonly sockets = new Set<Socket>();
  readonly caPem: string;
  private readonly serverKeyPem: string;
  private readonly serverCertPem: string;
  private readonly kompCas: X509Certificate[];
  private readonly smcbCas: X509Certificate[];
  url = "";
  /** Answers by code ("OK" for success), for metrics. */
  readonly answers = new Map<string, number>();

  private constructor(private readonly o: VpnZugdOptions) {
    // Its own small CA and server certificate (P-256): the provider's TLS identity, not the TI's.
    const ca = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const now = Date.now();
    const caCert = issueCertificate({
      subject: { cn: "VPN-ZugD Simulator CA", o: "ti-gateway test" },
      publicKey: ca.publicKey,
      issuer: "self",
      selfKey: ca.privateKey,
      notBefore: new Date(now - 86_400_000),
      notAfter: new Date(now + 10 * 365 * 86_400_000),
      ca: { pathLength: 0 },
      usage: ["keyCertSign", "cRLSign"],
    });
    const leaf = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const leafCert = issueCertificate({
      subject: { cn: VPNZUGD_SERVER_NAME, o: "ti-gateway test" },
      publicKey: leaf.publicKey,
      issuer: { name: nameOf(caCert.der), privateKey: ca.privateKey, publicKey: ca.publicKey },
      notBefore: new Date(now - 86_400_000),
      notAfter: new Date(now + 10 * 365 * 86_400_000),
      usage: ["digitalSignature", "keyAgreement"],
    });
    this.caPem = toPem(caCert.der);
    this.serverCertPem = toPem(leafCert.der);
    this.serverKeyPem = leaf.privateKey.export({ type: "pkcs8", format: "pem" }) as string;
    const subCas = o.trust.subCaPems.map((p) => new X509Certificate(p));
    this.kompCas = subCas.filter((c) => /KOMP-CA/.test(c.subject));
    this.smcbCas = subCas.filter((c) => /SMCB-CA/.test(c.subject));
  }

  static async start(o: VpnZugdOptions): Promise<VpnZugdSimulator> {
    await migrate(o.sql, o.schema, [
      {
        id: "vpnzugd-001",
        sql: `CREATE TABLE {schema}.vpnzugd_contracts (contract_id text PRIMARY KEY, customer text NOT NULL, sis boolean NOT NULL, added_at timestamptz NOT NULL);
              CREATE TABLE {schema}.vpnzugd_blocks (serial text PRIMARY KEY, contract_id text NOT NULL, reason text NOT NULL, at timestamptz NOT NULL);
              CREATE TABLE {schema}.vpnzugd_registrations (fingerprint text PRIMARY KEY, serial text NOT NULL, contract_id text NOT NULL, registered_at timestamptz NOT NULL);`,
      },
    ]);
    const sim = new VpnZugdSimulator(o);
    await sim.listen();
    return sim;
  }

  private async listen(): Promise<void> {
    const server = createServer(
      {
        key: this.serverKeyPem,
        cert: this.serverCertPem,
        // Only the component CA (and its root) is trusted: SM-B, HBA or eGK certificates do not
        // authenticate a Konnektor, nor does anything outside the TI PKI.
        ca: [...this.o.trust.rootPems, ...this.kompCas.map((c) => c.toString())],
        requestCert: true,
        rejectUnauthorized: true,
        ...TI_TLS,
      },
      (req, res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        let tooLarge = false;
        req.on("data", (c: Buffer) => {
          size += c.length;
          if (size > MAX_BODY) tooLarge = true;
          else chunks.push(c);
        });
        req.on("error", () => res.destroy());
        req.on("end", () => {
          const send = (status: number, xml: string) => {
            if (!res.headersSent) res.writeHead(status, { "content-type": "text/xml; charset=utf-8" }).end(xml);
          };
          const fail = (e: unknown) => {
            const f = e instanceof VpnZugdFault ? e : new VpnZugdFault("7071", "registration failed: internal error of the VPN-ZugD");
            this.count(f.code);
            send(500, faultXml(f, { messageId: randomUUID(), at: this.o.clock.now().toISOString() }));
          };
          if (this.faults.has("unreachable")) return void res.destroy();
          if (req.method !== "POST") return fail(new VpnZugdFault("7091", `request not schema-valid: ${req.method} instead of a SOAP POST`));
          if (tooLarge) return fail(new VpnZugdFault("7091", `request not schema-valid: larger than ${MAX_BODY} bytes`));
          const peer = (req.socket as TLSSocket).getPeerCertificate();
          let text: string;
          try {
            text = new TextDecoder("utf-8", { fatal: true }).decode(Buffer.concat(chunks));
          } catch {
            return fail(new VpnZugdFault("7091", "request not schema-valid: not UTF-8"));
          }
          this.handle(text, String(req.headers["soapaction"] ?? ""), peer?.raw).then(({ operation, answer }) => {
            this.count("OK");
            send(200, answerXml(operation, answer));
          }, fail);
        });
      },
    );
    // A handshake failure is the client's problem, not a crash of ours.
    server.on("tlsClientError", () => undefined);
    server.on("connection", (socket: Socket) => {
      this.sockets.add(socket);
      socket.once("close", () => this.sockets.delete(socket));
    });
    server.on("clientError", (_e, socket) => socket.destroy());
    await new Promise<void>((resolve, reject) => server.once("error", reject).listen(this.o.port ?? 0, this.o.host ?? "127.0.0.1", resolve));
    this.server = server;
    this.url = this.o.publicUrl ?? `https://${this.o.host ?? "127.0.0.1"}:${(server.address() as { port: number }).port}/ProvisioningService`;
  }

  private count(code: string): void {
    this.answers.set(code, (this.answers.get(code) ?? 0) + 1);
  }

  async close(): Promise<void> {
    const s = this.server;
    if (!s) return;
    await new Promise<void>((r) => {
      s.close(() => r());
      for (const socket of this.sockets) socket.destroy();
    });
  }

  // ---- operator side: contracts, Sperrung, faults -------------------------------------------

  async addContract(c: Contract): Promise<Contract> {
    checkContractId(c.contractId);
    await this.o.sql.query(
      `INSERT INTO ${this.o.schema}.vpnzugd_contracts (contract_id, customer, sis, added_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (contract_id) DO UPDATE SET customer = EXCLUDED.customer, sis = EXCLUDED.sis`,
      [c.contractId, c.customer.slice(0, 200), c.sis, this.o.clock.now().toISOString()],
    );
    return c;
  }

  async contracts(): Promise<Contract[]> {
    const rows = await this.o.sql.query<{ contract_id: string; customer: string; sis: boolean }>(
      `SELECT contract_id, customer, sis FROM ${this.o.schema}.vpnzugd_contracts ORDER BY contract_id`,
    );
    return rows.map((r) => ({ contractId: r.contract_id, customer: r.customer, sis: r.sis }));
  }

  private async contract(contractId: string): Promise<Contract | undefined> {
    return (await this.contracts()).find((c) => c.contractId === contractId);
  }

  /**
   * Sperrung (theft, tampering): needs the serial number and the contract data; the serial's
   * registration ends and new ones are refused until the Sperrung is lifted.
   */
  async block(serial: string, contractId: string, reason: string): Promise<Sperrung> {
    if (!serial) throw new ValidationError("INVALID_ARGUMENT", "serial", "the Sperrung needs the unit's serial number");
    if (!(await this.contract(contractId)))
      throw new DomainError("7041", `unknown ContractID ${contractId}: the Sperrung needs the contract data of the unit`, { field: "contractId" });
    const at = this.o.clock.now().toISOString();
    await this.o.sql.transaction(async (tx) => {
      await tx.query(`INSERT INTO ${this.o.schema}.vpnzugd_blocks (serial, contract_id, reason, at) VALUES ($1, $2, $3, $4) ON CONFLICT (serial) DO NOTHING`, [
        serial,
        contractId,
        reason,
        at,
      ]);
      await tx.query(`DELETE FROM ${this.o.schema}.vpnzugd_registrations WHERE serial = $1`, [serial]);
    });
    return (await this.blocks()).find((b) => b.serial === serial)!;
  }

  async unblock(serial: string, contractId: string): Promise<void> {
    const b = (await this.blocks()).find((x) => x.serial === serial);
    if (!b) return;
    if (b.contractId !== contractId) throw new DomainError("7041", `the Sperrung of ${serial} was made under another ContractID`, { field: "contractId" });
    await this.o.sql.query(`DELETE FROM ${this.o.schema}.vpnzugd_blocks WHERE serial = $1`, [serial]);
  }

  async blocks(): Promise<Sperrung[]> {
    const rows = await this.o.sql.query<{ serial: string; contract_id: string; reason: string; at: string | Date }>(
      `SELECT serial, contract_id, reason, at FROM ${this.o.schema}.vpnzugd_blocks ORDER BY serial`,
    );
    return rows.map((r) => ({ serial: r.serial, contractId: r.contract_id, reason: r.reason, at: new Date(r.at).toISOString() }));
  }

  setFault(fault: string, on: boolean): FaultName[] {
    if (!(FAULTS as readonly string[]).includes(fault))
      throw new ValidationError("INVALID_FAULT", "fault", `fault must be one of ${FAULTS.join(", ")}`, { value: fault });
    if (on) this.faults.add(fault as FaultName);
    else this.faults.delete(fault as FaultName);
    return this.activeFaults();
  }

  activeFaults(): FaultName[] {
    return [...this.faults].sort();
  }

  // ---- the service -------------------------------------------------------------------------

  private forced(code: keyof typeof CODES, why: string): void {
    if (this.faults.has(code)) throw new VpnZugdFault(code, `${CODES[code]} (simulated fault: ${why})`);
  }

  private async handle(xml: string, soapAction: string, peerDer: Buffer | undefined): Promise<{ operation: Operation; answer: VpnZugdAnswer }> {
    this.forced("7091", "schema check");
    const r = parseRequest(xml, soapAction);
    const now = this.o.clock.now();
    // The certificate in the request must be the one the TLS connection authenticated.
    if (!peerDer || !r.certificate.equals(peerDer))
      throw new VpnZugdFault("7021", "SMC-K certificate invalid: the request's X509Certificate is not the certificate of the TLS connection");
    const fingerprint = new X509Certificate(peerDer).fingerprint256;
    if (r.operation === "status") {
      const reg = await this.registration(fingerprint);
      return { operation: "status", answer: await this.standing(reg, now) };
    }
    this.forced("7061", "clock skew");
    const skew = Math.abs(now.getTime() - Date.parse(r.timestamp));
    if (skew > MAX_SKEW_MS)
      throw new VpnZugdFault("7061", `timestamp ${r.timestamp} is ${Math.round(skew / 1000)} s off the VPN-ZugD's time ${now.toISOString()} (at most 300 s)`);
    // An OCSP responder out of reach makes the operation fail as a whole (7071 or 7081).
    const failed = r.operation === "register" ? "7071" : "7081";
    const serial = await this.checkKonnektorCertificate(r.certificate, now, failed);
    await this.checkSmbCertificate(r.signature.signerCertificate, now, failed);
    this.checkSignature(xml, r);
    const contract = await this.contract(r.contractId);
    this.forced("7041", "contract lookup");
    if (!contract) throw new VpnZugdFault("7041", `unknown ContractID ${r.contractId}`);
    if (r.operation === "register") {
      this.forced("7071", "registration");
      const blocked = (await this.blocks()).find((b) => b.serial === serial);
      if (blocked) throw new VpnZugdFault("7071", `registration failed: Konnektor ${serial} is blocked (Sperrung of ${blocked.at.slice(0, 10)})`);
      await this.o.sql.query(
        `INSERT INTO ${this.o.schema}.vpnzugd_registrations (fingerprint, serial, contract_id, registered_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (fingerprint) DO UPDATE SET contract_id = EXCLUDED.contract_id, registered_at = EXCLUDED.registered_at`,
        [fingerprint, serial, contract.contractId, now.toISOString()],
      );
      return { operation: "register", answer: await this.standing(await this.registration(fingerprint), now) };
    }
    this.forced("7081", "deregistration");
    const reg = await this.registration(fingerprint);
    if (reg && reg.contractId !== contract.contractId)
      throw new VpnZugdFault("7081", `deregistration failed: the Konnektor is registered under another ContractID`);
    await this.o.sql.query(`DELETE FROM ${this.o.schema}.vpnzugd_registrations WHERE fingerprint = $1`, [fingerprint]);
    return { operation: "deregister", answer: { timestamp: now.toISOString(), registrationStatus: NOT_REGISTERED, contractStatus: CONTRACT_NONE } };
  }

  private async registration(fingerprint: string): Promise<{ contractId: string; registeredAt: string } | undefined> {
    const [row] = await this.o.sql.query<{ contract_id: string; registered_at: string | Date }>(
      `SELECT contract_id, registered_at FROM ${this.o.schema}.vpnzugd_registrations WHERE fingerprint = $1`,
      [fingerprint],
    );
    return row && { contractId: row.contract_id, registeredAt: new Date(row.registered_at).toISOString() };
  }

  private async standing(reg: { contractId: string; registeredAt: string } | undefined, now: Date): Promise<VpnZugdAnswer> {
    const timestamp = now.toISOString();
    const contract = reg && (await this.contract(reg.contractId));
    if (!reg || !contract) return { timestamp, registrationStatus: NOT_REGISTERED, contractStatus: CONTRACT_NONE };
    const dns = { ...DNS, DNS_SERVERS_SIS: contract.sis ? DNS.DNS_SERVERS_SIS : "" };
    return {
      timestamp,
      registrationTimestamp: reg.registeredAt,
      registrationStatus: REGISTERED,
      contractStatus: contract.sis ? CONTRACT_TI_SIS : CONTRACT_TI,
      additionalInformation: Object.entries(dns)
        .map(([k, v]) => `${k}=${v}`)
        .join(";"),
    };
  }

  /** C.NK.VPN: issued by the component CA, valid on the VPN-ZugD's clock, "good" at OCSP. 7021 otherwise. */
  private async checkKonnektorCertificate(der: Buffer, now: Date, failed: "7071" | "7081"): Promise<string> {
    this.forced("7021", "C.NK.VPN check");
    const x = new X509Certificate(der);
    const issuer = this.kompCas.find((ca) => x.checkIssued(ca) && x.verify(ca.publicKey));
    if (!issuer) throw new VpnZugdFault("7021", "SMC-K certificate invalid: not issued by the TI's component CA");
    if (now < new Date(x.validFrom) || now > new Date(x.validTo))
      throw new VpnZugdFault(
        "7021",
        `SMC-K certificate invalid: C.NK.VPN is not valid at ${now.toISOString()} (valid ${new Date(x.validFrom).toISOString().slice(0, 10)} to ${new Date(x.validTo).toISOString().slice(0, 10)})`,
      );
    const status = await this.ocsp(x, issuer, failed);
    if (status !== "good") throw new VpnZugdFault("7021", `SMC-K certificate invalid: OCSP status of C.NK.VPN is ${status}`);
    return parseCertificate(x.toString()).commonName.replace(/ C\.NK\.VPN$/, "");
  }

  /** The SM-B's certificate: issued by the SMC-B CA, valid on the VPN-ZugD's clock, "good" at OCSP. 7031 otherwise. */
  private async checkSmbCertificate(der: Buffer, now: Date, failed: "7071" | "7081"): Promise<void> {
    this.forced("7031", "SM-B certificate check");
    let x: X509Certificate;
    try {
      x = new X509Certificate(der);
    } catch {
      throw new VpnZugdFault("7031", "SMC-B certificate invalid: not an X.509 certificate");
    }
    const issuer = this.smcbCas.find((ca) => x.checkIssued(ca) && x.verify(ca.publicKey));
    if (!issuer) throw new VpnZugdFault("7031", "SMC-B certificate invalid: not issued by the TI's SMC-B CA");
    if (now < new Date(x.validFrom) || now > new Date(x.validTo))
      throw new VpnZugdFault("7031", `SMC-B certificate invalid: not valid at ${now.toISOString()}`);
    const status = await this.ocsp(x, issuer, failed);
    if (status !== "good") throw new VpnZugdFault("7031", `SMC-B certificate invalid: OCSP status ${status}`);
  }

  /** The request's XMLDSig, checked on the received text (exc-c14n): any changed signed byte is 7011. */
  private checkSignature(xml: string, r: SignedRequest): void {
    this.forced("7011", "signature check");
    const key = new X509Certificate(r.signature.signerCertificate).publicKey;
    const expected = key.asymmetricKeyType === "rsa" ? ALG.rsaSha256 : ALG.ecdsaSha256;
    if (r.signature.method !== expected)
      throw new VpnZugdFault("7011", `SMC-B signature invalid: SignatureMethod ${r.signature.method} does not fit the SM-B's key (${expected})`);
    const problem = signatureProblem(xml, r, (signedInfo) => verifySignatureValue(signedInfo, key, r.signature.value));
    if (problem) throw new VpnZugdFault("7011", `SMC-B signature invalid: ${problem}`);
  }

  private async ocsp(x: X509Certificate, issuer: X509Certificate, failed: "7071" | "7081"): Promise<string> {
    try {
      return (await askOcsp(x.toString(), issuer.toString(), { timeoutMs: this.o.ocspTimeoutMs ?? 10_000 })).status;
    } catch (e) {
      if (e instanceof OcspUnreachable)
        throw new VpnZugdFault(
          failed,
          `${failed === "7071" ? "registration" : "deregistration"} failed: the OCSP responder of the TI PKI cannot be reached (${e.message})`,
        );
      throw e;
    }
  }
}

/** The DNS parameters of a registration answer's AdditionalInformation ("KEY=v1,v2;..."). */
export function dnsOf(info: string | undefined): {
  dnsServersInt: string[];
  dnsDomainVpnZugdInt: string;
  dnsServersTi: string[];
  dnsServersSis: string[];
  dnsServersBestandsnetze: string[];
} {
  const kv = new Map((info ?? "").split(";").map((p) => p.split("=", 2) as [string, string]));
  const list = (k: string) => (kv.get(k) ?? "").split(",").filter(Boolean);
  return {
    dnsServersInt: list("DNS_SERVERS_INT"),
    dnsDomainVpnZugdInt: kv.get("DNS_DOMAIN_VPN_ZUGD_INT") ?? "",
    dnsServersTi: list("DNS_SERVERS_TI"),
    dnsServersSis: list("DNS_SERVERS_SIS"),
    dnsServersBestandsnetze: list("DNS_SERVERS_BESTANDSNETZE"),
  };
}
