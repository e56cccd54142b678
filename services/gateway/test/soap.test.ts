import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { createHash, randomBytes, X509Certificate } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { createServer as createTlsServer } from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { after, before, describe, it } from "node:test";
import { embeddedSql } from "@tigw/platform";
import { startVpn, type RunningVpn } from "@tigw/vpn";
import { GEMATIK_SCHEMAS, gematikSchemaErrors, KT, rpc, setUpPractice, UNIT, type Practice } from "@tigw/vsdm/testing";
import { startGateway, type RunningGateway } from "../src/index.js";
import { NS, SOAP_SERVICES } from "../src/soap/services.js";

/**
 * The Konnektor interface of a unit as practice software uses it: discovery over HTTPS with the
 * unit's certificate of the test PKI, then each operation through the gateway to the services
 * over gRPC (tenancy, hsm, card-terminal, vsdm, vpn on the embedded adapters). Every request this
 * test sends and every answer and fault it gets is validated against the published gematik XSDs
 * (services/contracts/gematik, with all their imports).
 */
const SCHEMA_OF: Record<string, string> = {
  EventService: "conn/EventService.xsd",
  CardService: "conn/CardService_v8_1_3.xsd",
  CertificateService: "conn/CertificateService_v6_0_2.xsd",
  AuthSignatureService: "conn/SignatureService.xsd",
  VSDService: "conn/vsds/VSDService.xsd",
};
/**
 * The Python of a venv with zeep (PyPI), made once per machine under the temp dir and reused: the
 * independent client needs it, so a missing Python or an unreachable PyPI fails the test.
 */
function zeepPython(): string {
  const venv = join(tmpdir(), "tigw-zeep-4.3.1");
  const python = join(venv, "bin", "python");
  try {
    execFileSync(python, ["-c", "import zeep"], { stdio: "ignore" });
  } catch {
    execFileSync("python3", ["-m", "venv", "--clear", venv], { stdio: "inherit" });
    execFileSync(python, ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "zeep==4.3.1"], { stdio: "inherit", timeout: 300_000 });
  }
  return python;
}

const ACTION: Record<string, string> = Object.fromEntries(SOAP_SERVICES.map((s) => [s.name, s.actionPrefix]));
const LATEST: Record<string, string> = Object.fromEntries(SOAP_SERVICES.map((s) => [s.name, s.versions[s.versions.length - 1]!.version]));

const ctx = (m = "M1", cs = "PVS1", wp = "AP1") =>
  `<CCTX:Context xmlns:CCTX="${NS.cctx}" xmlns:CONN="${NS.conn}"><CONN:MandantId>${m}</CONN:MandantId><CONN:ClientSystemId>${cs}</CONN:ClientSystemId>` +
  (wp ? `<CONN:WorkplaceId>${wp}</CONN:WorkplaceId>` : "") +
  `</CCTX:Context>`;

interface Answer {
  status: number;
  text: string;
  /** The body's element as a document of its own (every prefix it uses is declared on it or inside). */
  body: string;
}

describe("SOAP Konnektor interface of a unit (connector.sds, EventService, CardService, CertificateService, AuthSignatureService, VSDService)", () => {
  const ADMIN_PW = "correct horse battery staple";
  let practice: Practice;
  let vpn: RunningVpn;
  let gw: RunningGateway;
  let token = "";
  let baseUrl = "";
  let roots: string[] = [];
  let dir = "";

  const rest = async (path: string, o: { method?: string; body?: unknown } = {}) => {
    const res = await fetch(`${gw.url}${path}`, {
      method: o.method ?? "GET",
      headers: { authorization: `Bearer ${token}`, ...(o.body ? { "content-type": "application/json" } : {}) },
      body: o.body ? JSON.stringify(o.body) : undefined,
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  /** An HTTPS request to the unit's endpoint that trusts only the test PKI's roots. */
  const https = (
    path: string,
    o: { method?: string; body?: string; headers?: Record<string, string>; ca?: string[]; cert?: Buffer; key?: Buffer } = {},
  ): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const url = new URL(path, baseUrl);
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: o.method ?? "GET",
          headers: o.headers,
          ca: o.ca ?? roots,
          cert: o.cert,
          key: o.key,
          agent: false,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            const body = /<soap:Body>([\s\S]*)<\/soap:Body>/.exec(text)?.[1] ?? "";
            resolve({ status: res.statusCode ?? 0, text, body });
          });
        },
      );
      req.on("error", reject);
      req.end(o.body);
    });

  /** A SOAP call of `op` on the newest version of `service`; the request is checked against the schema first. */
  const soap = async (service: string, op: string, element: string, o: { action?: string; skipRequestCheck?: boolean } = {}): Promise<Answer> => {
    if (!o.skipRequestCheck) assert.deepEqual(await gematikSchemaErrors(SCHEMA_OF[service]!, element), [], `request ${op} is schema-valid`);
    return https(`/soap/${service}/${LATEST[service]}`, {
      method: "POST",
      body: `<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="${NS.soapEnv}"><soap:Body>${element}</soap:Body></soap:Envelope>`,
      headers: { "content-type": "text/xml; charset=utf-8", soapaction: `"${o.action ?? `${ACTION[service]}#${op}`}"` },
    });
  };

  /** A successful answer, valid against the service's schema. */
  const ok = async (service: string, a: Answer): Promise<string> => {
    assert.equal(a.status, 200, a.text);
    assert.deepEqual(await gematikSchemaErrors(SCHEMA_OF[service]!, a.body), [], `answer is schema-valid: ${a.body.slice(0, 300)}`);
    return a.body;
  };

  /** A SOAP 1.1 fault whose detail is a GERROR Error (TelematikError.xsd) with the gematik code. */
  const fault = async (a: Answer, code: number): Promise<string> => {
    assert.equal(a.status, 500, a.text);
    assert.match(a.body, /^<soap:Fault><faultcode>soap:(Client|Server)<\/faultcode><faultstring>/);
    const error = /<GERROR:Error [\s\S]*<\/GERROR:Error>/.exec(a.body)?.[0] ?? "";
    assert.deepEqual(await gematikSchemaErrors("tel/error/TelematikError.xsd", error), [], "GERROR:Error is schema-valid");
    assert.equal(/<GERROR:Code>(\d+)<\/GERROR:Code>/.exec(error)?.[1], String(code), a.body);
    return /<faultstring>([^<]*)<\/faultstring>/.exec(a.body)![1]!;
  };

  const tag = (xml: string, name: string) => new RegExp(`<[A-Za-z]+:${name}(?: [^>]*)?>([^<]*)</`).exec(xml)?.[1];

  /** Issues a card in hsm and inserts it into the practice's terminal. */
  const insertCard = async (slot: number, cardType: "HBA" | "SMCB", keyType: "ecc" | "rsa", holder: string, pin: string) => {
    const { certificate } = await rpc<{ certificate: { certSerial: string; iccsn: string } }>(practice.clients.h, "issueCard", {
      cardType,
      keyType,
      holder,
      iccsn: "",
      notBefore: "",
      validityYears: 5,
    });
    return practice.insert(slot, cardType === "HBA" ? "HBA" : "SMC-B", certificate.iccsn, certificate.certSerial, pin);
  };

  const pinRequest = (op: string, handle: string, pinTyp: string, c = ctx()) =>
    `<CARD:${op} xmlns:CARD="${NS.card}" xmlns:CONN="${NS.conn}" xmlns:CARDCMN="${NS.cardcmn}">${c}<CONN:CardHandle>${handle}</CONN:CardHandle><CARDCMN:PinTyp>${pinTyp}</CARDCMN:PinTyp></CARD:${op}>`;
  const authRequest = (handle: string, digest: Buffer, type?: string) =>
    `<SIG:ExternalAuthenticate xmlns:SIG="${NS.sig}" xmlns:CONN="${NS.conn}" xmlns:dss="${NS.dss}"><CONN:CardHandle>${handle}</CONN:CardHandle>${ctx()}` +
    (type ? `<SIG:OptionalInputs><dss:SignatureType>${type}</dss:SignatureType></SIG:OptionalInputs>` : "") +
    `<SIG:BinaryString><dss:Base64Data>${digest.toString("base64")}</dss:Base64Data></SIG:BinaryString></SIG:ExternalAuthenticate>`;
  const readCertRequest = (handle: string, ref: string) =>
    `<CERT:ReadCardCertificate xmlns:CERT="${NS.cert}" xmlns:CONN="${NS.conn}"><CONN:CardHandle>${handle}</CONN:CardHandle>${ctx()}<CERT:CertRefList><CERT:CertRef>${ref}</CERT:CertRef></CERT:CertRefList></CERT:ReadCardCertificate>`;

  /** The card's C.AUT over ReadCardCertificate, as PEM. */
  const readCertificate = async (handle: string): Promise<X509Certificate> => {
    const body = await ok("CertificateService", await soap("CertificateService", "ReadCardCertificate", readCertRequest(handle, "C.AUT")));
    return new X509Certificate(Buffer.from(tag(body, "X509Certificate")!, "base64"));
  };

  const openssl = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] }).toString();

  /** The CETP frames' Message as a map of its keys. */
  const params = (f: string) => Object.fromEntries([...f.matchAll(/<EVT:Key>([^<]*)<\/EVT:Key><EVT:Value>([^<]*)<\/EVT:Value>/g)].map((m) => [m[1], m[2]]));

  /** A practice's CETP listener (TLS, a self-signed certificate as PVS use): collects the Event XML of every frame. */
  const cetpListener = async () => {
    if (!existsSync(join(dir, "pvs-key.pem")))
      openssl([
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "pvs-key.pem",
        "-out",
        "pvs-cert.pem",
        "-subj",
        "/CN=PVS CETP listener",
        "-days",
        "1",
      ]);
    const frames: string[] = [];
    const listener = createTlsServer({ key: readFileSync(join(dir, "pvs-key.pem")), cert: readFileSync(join(dir, "pvs-cert.pem")) }, (socket) => {
      let pending = Buffer.alloc(0);
      socket.on("data", (d: Buffer) => {
        pending = Buffer.concat([pending, d]);
        while (pending.length >= 8 && pending.subarray(0, 4).toString("ascii") === "CETP" && pending.length >= 8 + pending.readUInt32BE(4)) {
          frames.push(pending.subarray(8, 8 + pending.readUInt32BE(4)).toString("utf8"));
          pending = pending.subarray(8 + pending.readUInt32BE(4));
        }
      });
      socket.on("error", () => undefined);
    });
    await new Promise<void>((r) => listener.listen(0, "127.0.0.1", r));
    const waitFor = async (n: number) => {
      for (let i = 0; i < 200 && frames.length < n; i++) await new Promise((r) => setTimeout(r, 50));
      assert.ok(frames.length >= n, `${n} CETP frames arrived (got ${frames.length})`);
    };
    return { eventTo: `cetp://127.0.0.1:${(listener.address() as { port: number }).port}`, frames, waitFor, close: () => listener.close() };
  };

  const subscribeRequest = (eventTo: string, topic: string, o: { filter?: string; c?: string } = {}) =>
    `<EVT:Subscribe xmlns:EVT="${NS.evt}">${o.c ?? ctx()}<EVT:Subscription><EVT:EventTo>${eventTo}</EVT:EventTo><EVT:Topic>${topic}</EVT:Topic>` +
    (o.filter !== undefined ? `<EVT:Filter>${o.filter.replace(/&/g, "&amp;").replace(/</g, "&lt;")}</EVT:Filter>` : "") +
    `</EVT:Subscription></EVT:Subscribe>`;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "tigw-soap-"));
    practice = await setUpPractice({ populationSize: 200 });
    vpn = await startVpn({
      sql: await embeddedSql(),
      bus: practice.bus,
      clock: practice.clock,
      tenancyAddress: practice.tenancy.address,
      hsmAddress: practice.hsm.address,
      cardTerminalAddress: practice.cardTerminal.address,
      masterKey: randomBytes(32),
    });
    gw = await startGateway({
      sql: await embeddedSql(),
      tenancyAddress: practice.tenancy.address,
      hsmAddress: practice.hsm.address,
      cardTerminalAddress: practice.cardTerminal.address,
      vsdmAddress: practice.vsdm.address,
      vpnAddress: vpn.address,
      port: 0,
      adminPassword: ADMIN_PW,
      tokenSecret: "soap-test-secret-long-enough-for-hmac",
    });
    const login = await fetch(`${gw.url}/api/v1/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "admin", password: ADMIN_PW }),
    });
    token = String(((await login.json()) as { token: string }).token);
    const endpoint = await rest(`/api/v1/units/${UNIT}/soap`);
    assert.equal(endpoint.status, 200, JSON.stringify(endpoint.body));
    baseUrl = String(endpoint.body["baseUrl"]);
    roots = (await rest("/api/v1/pki/trust-anchors")).body["rootPems"] as string[];
  });
  after(async () => {
    await gw?.close();
    await vpn?.stop();
    await practice?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("serves connector.sds over HTTPS with the unit's certificate of the test PKI; a client without the TI roots is refused the handshake", async () => {
    assert.match(baseUrl, /^https:\/\/127\.0\.0\.1:\d+$/);
    const sds = await https("/connector.sds");
    assert.equal(sds.status, 200);
    assert.deepEqual(await gematikSchemaErrors("conn/ServiceDirectory.xsd", sds.text), [], "connector.sds is valid against ServiceDirectory.xsd");
    assert.match(sds.text, /<CONN:TLSMandatory>true<\/CONN:TLSMandatory><CONN:ClientAutMandatory>false<\/CONN:ClientAutMandatory>/);
    // The unit's firmware (tenancy default 5.50.4:2.0.0) as FWVersion, HWVersion and product type version.
    const { unit } = await rpc<{ unit: { firmware: string } }>(practice.clients.t, "getUnit", { unit: UNIT });
    assert.equal(tag(sds.text, "FWVersion"), unit.firmware.split(":")[0]);
    // Every version of a served service whose WSDL is in the gematik folder is listed, with an absolute EndpointTLS on this address.
    for (const svc of SOAP_SERVICES) {
      const folder = svc.name === "VSDService" ? "conn/vsds" : "conn";
      const wsdls = readdirSync(join(GEMATIK_SCHEMAS, folder)).filter(
        (f) => f === `${svc.name}.wsdl` || (f.startsWith(`${svc.name}_v`) && f.endsWith(".wsdl")),
      );
      assert.deepEqual(svc.versions.map((v) => v.wsdl.split("/").pop()).sort(), wsdls.sort(), `${svc.name}: a version per WSDL`);
      for (const v of svc.versions) {
        const wsdl = readFileSync(join(GEMATIK_SCHEMAS, "conn", v.wsdl), "utf8");
        assert.ok(wsdl.includes(`soapAction="${svc.actionPrefix}#`), `${v.wsdl} defines the SOAPAction prefix ${svc.actionPrefix}`);
        assert.ok(wsdl.includes(`"${svc.namespace}"`), `${v.wsdl} uses the namespace ${svc.namespace}`);
        const entry = new RegExp(
          `<SI:Version TargetNamespace="${svc.namespace}" Version="${v.version.replaceAll(".", "\\.")}">.*?<SI:EndpointTLS Location="([^"]+)"/></SI:Version>`,
        ).exec(sds.text);
        assert.equal(entry?.[1], `${baseUrl}/soap/${svc.name}/${v.version}`);
      }
    }
    // The server certificate is the unit's (C.AK.AUT profile, KOMP CA of the test PKI).
    const cert = new X509Certificate(String((await rest(`/api/v1/units/${UNIT}/soap`)).body["certificatePem"]));
    assert.match(cert.subject, /CN=RZK-VSD-0001 SOAP/);
    assert.match(cert.issuer, /GEM\.KOMP-CA-TIGW-TEST/);
    assert.match(cert.subjectAltName ?? "", /IP Address:127\.0\.0\.1/);
    await assert.rejects(https("/connector.sds", { ca: [] }), /self.signed|unable to (get|verify)/i);
  });

  it("EventService GetCards lists the context's cards with holder name, ICCSN and certificate expiry; filters and mandant-wide work", async () => {
    const all = await ok("EventService", await soap("EventService", "GetCards", `<EVT:GetCards xmlns:EVT="${NS.evt}">${ctx()}</EVT:GetCards>`));
    assert.equal(all.match(/<CARD:Card /g)?.length, 1, all);
    assert.equal(tag(all, "CardType"), "SMC-B");
    assert.equal(tag(all, "CardHolderName"), "Praxis M1");
    assert.equal(tag(all, "CardHandle"), practice.smcbHandle);
    assert.equal(tag(all, "CtId"), KT);
    assert.match(tag(all, "CertificateExpirationDate") ?? "", /^\d{4}-\d{2}-\d{2}$/);
    assert.match(tag(all, "Iccsn") ?? "", /^\d{20}$/);
    const egks = await ok(
      "EventService",
      await soap(
        "EventService",
        "GetCards",
        `<EVT:GetCards xmlns:EVT="${NS.evt}" xmlns:CARDCMN="${NS.cardcmn}" mandant-wide="true">${ctx()}<CARDCMN:CtId>${KT}</CARDCMN:CtId><CARDCMN:CardType>EGK</CARDCMN:CardType></EVT:GetCards>`,
      ),
    );
    assert.doesNotMatch(egks, /<CARD:Card /, "no eGK is inserted");
    // M2's workplace AP9 sees the terminal as remote, but the terminal is not M2's: 4012.
    const text = await fault(
      await soap(
        "EventService",
        "GetCards",
        `<EVT:GetCards xmlns:EVT="${NS.evt}" xmlns:CARDCMN="${NS.cardcmn}">${ctx("M2", "PVS2", "AP9")}<CARDCMN:CtId>${KT}</CARDCMN:CtId></EVT:GetCards>`,
      ),
      4012,
    );
    assert.match(text, /not assigned to Mandant M2/);
  });

  it("EventService GetCardTerminals and GetResourceInformation describe the terminal and the Konnektor", async () => {
    const terminals = await ok(
      "EventService",
      await soap("EventService", "GetCardTerminals", `<EVT:GetCardTerminals xmlns:EVT="${NS.evt}">${ctx()}</EVT:GetCardTerminals>`),
    );
    assert.equal(tag(terminals, "CtId"), KT);
    assert.equal(tag(terminals, "Connected"), "true");
    assert.equal(tag(terminals, "MacAddress"), "00-0D-F8-00-00-01");
    assert.equal(tag(terminals, "WorkplaceId"), "AP1");
    const info = await ok(
      "EventService",
      await soap(
        "EventService",
        "GetResourceInformation",
        `<EVT:GetResourceInformation xmlns:EVT="${NS.evt}" xmlns:CONN="${NS.conn}">${ctx()}<CONN:CardHandle>${practice.smcbHandle}</CONN:CardHandle></EVT:GetResourceInformation>`,
      ),
    );
    assert.match(info, /<CARD:Card [\s\S]*<CT:CardTerminal [\s\S]*<CONN:Connector /);
    // Not registered at the VPN-ZugD: no TI connection, and the operating state says so.
    assert.equal(tag(info, "ConnectionStatus"), "Offline");
    assert.match(info, /<CONN:ErrorCondition>EC_No_VPN_TI_Connection<\/CONN:ErrorCondition>.*<CONN:Value>true<\/CONN:Value>/);
  });

  it("EventService Subscribe pushes CARD/INSERTED and CARD/REMOVED over CETP (TLS) to EventTo; GetSubscription, RenewSubscriptions, Unsubscribe", async () => {
    const { eventTo, frames, waitFor, close } = await cetpListener();
    try {
      const sub = await ok(
        "EventService",
        await soap(
          "EventService",
          "Subscribe",
          `<EVT:Subscribe xmlns:EVT="${NS.evt}">${ctx()}<EVT:Subscription><EVT:EventTo>${eventTo}</EVT:EventTo><EVT:Topic>CARD</EVT:Topic></EVT:Subscription></EVT:Subscribe>`,
        ),
      );
      const id = tag(sub, "SubscriptionID")!;
      const until = new Date(tag(sub, "TerminationTime")!);
      assert.ok(until.getTime() > Date.now(), "TerminationTime lies ahead");
      const listed = await ok(
        "EventService",
        await soap("EventService", "GetSubscription", `<EVT:GetSubscription xmlns:EVT="${NS.evt}">${ctx()}</EVT:GetSubscription>`),
      );
      assert.equal(tag(listed, "EventTo"), eventTo);

      const egk = await rpc<{ iccsn: string; certSerial: string }>(practice.clients.v, "prepareEgk", { kvnr: "", pruefkarte: 2 });
      const handle = await practice.insert(1, "PRUEFKARTE_EGK", egk.iccsn, egk.certSerial);
      await waitFor(1);
      await rpc(practice.clients.c, "removeCard", { ctId: KT, slot: 1 });
      await waitFor(2);
      for (const f of frames) assert.deepEqual(await gematikSchemaErrors("conn/EventService.xsd", f), [], `Event is schema-valid: ${f.slice(0, 200)}`);
      assert.deepEqual(
        frames.map((f) => tag(f, "Topic")),
        ["CARD/INSERTED", "CARD/REMOVED"],
      );
      assert.equal(tag(frames[0]!, "SubscriptionID"), id);
      const inserted = params(frames[0]!);
      assert.deepEqual(
        [inserted["CardHandle"], inserted["CardType"], inserted["ICCSN"], inserted["CtID"], inserted["SlotID"]],
        [handle, "EGK", egk.iccsn, KT, "1"],
      );
      assert.match(inserted["KVNR"] ?? "", /^X0000000/);
      assert.match(inserted["InsertTime"] ?? "", /^\d{4}-\d{2}-\d{2}T/);

      const renewed = await ok(
        "EventService",
        await soap(
          "EventService",
          "RenewSubscriptions",
          `<EVT:RenewSubscriptions xmlns:EVT="${NS.evt}">${ctx()}<EVT:SubscriptionID>${id}</EVT:SubscriptionID></EVT:RenewSubscriptions>`,
        ),
      );
      assert.ok(new Date(tag(renewed, "TerminationTime")!).getTime() >= until.getTime());
      await ok(
        "EventService",
        await soap(
          "EventService",
          "Unsubscribe",
          `<EVT:Unsubscribe xmlns:EVT="${NS.evt}">${ctx()}<EVT:SubscriptionID>${id}</EVT:SubscriptionID></EVT:Unsubscribe>`,
        ),
      );
      const none = await ok(
        "EventService",
        await soap("EventService", "GetSubscription", `<EVT:GetSubscription xmlns:EVT="${NS.evt}">${ctx()}</EVT:GetSubscription>`),
      );
      assert.doesNotMatch(none, /<EVT:Subscription>/);
      assert.match(
        await fault(
          await soap(
            "EventService",
            "Subscribe",
            `<EVT:Subscribe xmlns:EVT="${NS.evt}">${ctx()}<EVT:Subscription><EVT:EventTo>cetp://nowhere</EVT:EventTo><EVT:Topic>CARD</EVT:Topic></EVT:Subscription></EVT:Subscribe>`,
          ),
          4000,
        ),
        /cetp:\/\/host:port/,
      );
    } finally {
      close();
    }
  });

  it("ExternalAuthenticate before the SMC-B is unlocked is refused with 3041, the card handle in the detail", async () => {
    const a = await soap("AuthSignatureService", "ExternalAuthenticate", authRequest(practice.smcbHandle, randomBytes(32)));
    assert.match(await fault(a, 3041), /not unlocked/);
    assert.ok(a.body.includes(`<GERROR:Detail>${practice.smcbHandle}</GERROR:Detail>`));
  });

  it("CardService GetPinStatus and VerifyPin unlock the SMC-B (the PIN is typed at the terminal, never in the request)", async () => {
    const before = await ok("CardService", await soap("CardService", "GetPinStatus", pinRequest("GetPinStatus", practice.smcbHandle, "PIN.SMC")));
    assert.deepEqual([tag(before, "PinStatus"), tag(before, "LeftTries")], ["VERIFIABLE", "3"]);
    const verified = await ok("CardService", await soap("CardService", "VerifyPin", pinRequest("VerifyPin", practice.smcbHandle, "PIN.SMC")));
    assert.equal(tag(verified, "PinResult"), "OK");
    const after = await ok("CardService", await soap("CardService", "GetPinStatus", pinRequest("GetPinStatus", practice.smcbHandle, "PIN.SMC")));
    assert.equal(tag(after, "PinStatus"), "VERIFIED");
    assert.match(await fault(await soap("CardService", "VerifyPin", pinRequest("VerifyPin", practice.smcbHandle, "PIN.CH")), 4072), /use PIN.SMC/);
  });

  it("VerifyPin with wrong entries at the PIN pad: REJECTED, REJECTED, NOWBLOCKED, WASBLOCKED; UnblockPin with the PUK and a new PIN; ChangePin", async () => {
    const hba = await insertCard(3, "HBA", "ecc", "Dr. Erika Beispiel", "4711");
    for (let i = 0; i < 4; i++) await rpc(practice.clients.c, "enterPin", { ctId: KT, pin: "0000" });
    const results: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await ok("CardService", await soap("CardService", "VerifyPin", pinRequest("VerifyPin", hba, "PIN.CH")));
      results.push(`${tag(r, "PinResult")}/${tag(r, "LeftTries") ?? "-"}`);
      assert.doesNotMatch(r, /0000|4711/, "no PIN in the answer");
    }
    assert.deepEqual(results, ["REJECTED/2", "REJECTED/1", "NOWBLOCKED/0", "WASBLOCKED/0"]);
    const status = await ok("CardService", await soap("CardService", "GetPinStatus", pinRequest("GetPinStatus", hba, "PIN.CH")));
    assert.equal(tag(status, "PinStatus"), "BLOCKED");

    // UnblockPin with the PUK (typed right at the terminal) and a new PIN; then ChangePin from it.
    const unblock = (setNewPin: boolean) =>
      `<CARD:UnblockPin xmlns:CARD="${NS.card}" xmlns:CONN="${NS.conn}" xmlns:CARDCMN="${NS.cardcmn}">${ctx()}<CONN:CardHandle>${hba}</CONN:CardHandle><CARDCMN:PinTyp>PIN.CH</CARDCMN:PinTyp><CARD:SetNewPin>${setNewPin}</CARD:SetNewPin></CARD:UnblockPin>`;
    assert.equal(tag(await ok("CardService", await soap("CardService", "UnblockPin", unblock(true))), "PinResult"), "ERROR", "no new PIN typed");
    await rpc(practice.clients.c, "enterPin", { ctId: KT, pin: "99999999" });
    const wrongPuk = await ok("CardService", await soap("CardService", "UnblockPin", unblock(false)));
    assert.equal(tag(wrongPuk, "PinResult"), "REJECTED");
    await rpc(practice.clients.c, "enterPin", { ctId: KT, pin: "2468" });
    assert.equal(tag(await ok("CardService", await soap("CardService", "UnblockPin", unblock(true))), "PinResult"), "OK");
    const unblocked = await ok("CardService", await soap("CardService", "GetPinStatus", pinRequest("GetPinStatus", hba, "PIN.CH")));
    assert.deepEqual([tag(unblocked, "PinStatus"), tag(unblocked, "LeftTries")], ["VERIFIABLE", "3"]);
    await rpc(practice.clients.c, "enterPin", { ctId: KT, pin: "2468" });
    await rpc(practice.clients.c, "enterPin", { ctId: KT, pin: "1357" });
    assert.equal(tag(await ok("CardService", await soap("CardService", "ChangePin", pinRequest("ChangePin", hba, "PIN.CH"))), "PinResult"), "OK");
    await rpc(practice.clients.c, "enterPin", { ctId: KT, pin: "2468" });
    const old = await ok("CardService", await soap("CardService", "VerifyPin", pinRequest("VerifyPin", hba, "PIN.CH")));
    assert.deepEqual([tag(old, "PinResult"), tag(old, "LeftTries")], ["REJECTED", "2"], "the old PIN no longer fits");
    await rpc(practice.clients.c, "enterPin", { ctId: KT, pin: "1357" });
    assert.equal(tag(await ok("CardService", await soap("CardService", "VerifyPin", pinRequest("VerifyPin", hba, "PIN.CH"))), "PinResult"), "OK");
  });

  it("the PIN topics over CETP: CARD/PIN/VERIFY, CHANGE and UNBLOCK _STARTED and _FINISHED around each PIN entry; no PIN in them, none to another Mandant", async () => {
    await rpc(practice.clients.c, "removeCard", { ctId: KT, slot: 3 });
    const hba = await insertCard(3, "HBA", "ecc", "Dr. Paula Pin", "5555");
    const own = await cetpListener();
    const other = await cetpListener();
    try {
      await ok("EventService", await soap("EventService", "Subscribe", subscribeRequest(own.eventTo, "CARD/PIN")));
      await ok("EventService", await soap("EventService", "Subscribe", subscribeRequest(other.eventTo, "CARD", { c: ctx("M2", "PVS2", "AP9") })));
      await ok("CardService", await soap("CardService", "VerifyPin", pinRequest("VerifyPin", hba, "PIN.CH")));
      await rpc(practice.clients.c, "enterPin", { ctId: KT, pin: "0000" });
      const wrong = await ok("CardService", await soap("CardService", "VerifyPin", pinRequest("VerifyPin", hba, "PIN.CH")));
      assert.equal(tag(wrong, "PinResult"), "REJECTED");
      await rpc(practice.clients.c, "enterPin", { ctId: KT, pin: "5555" });
      await rpc(practice.clients.c, "enterPin", { ctId: KT, pin: "6666" });
      assert.equal(tag(await ok("CardService", await soap("CardService", "ChangePin", pinRequest("ChangePin", hba, "PIN.CH"))), "PinResult"), "OK");
      const unblock = `<CARD:UnblockPin xmlns:CARD="${NS.card}" xmlns:CONN="${NS.conn}" xmlns:CARDCMN="${NS.cardcmn}">${ctx()}<CONN:CardHandle>${hba}</CONN:CardHandle><CARDCMN:PinTyp>PIN.CH</CARDCMN:PinTyp><CARD:SetNewPin>false</CARD:SetNewPin></CARD:UnblockPin>`;
      await ok("CardService", await soap("CardService", "UnblockPin", unblock));
      await own.waitFor(8);
      assert.deepEqual(
        own.frames.map((f) => tag(f, "Topic")),
        ["VERIFY", "VERIFY", "CHANGE", "UNBLOCK"].flatMap((a) => [`CARD/PIN/${a}_STARTED`, `CARD/PIN/${a}_FINISHED`]),
        "in call order, the failed entry announced as well",
      );
      for (const f of own.frames) {
        assert.deepEqual(await gematikSchemaErrors("conn/EventService.xsd", f), [], `Event is schema-valid: ${f.slice(0, 200)}`);
        const p = params(f);
        assert.deepEqual([p["CardHandle"], p["CardType"], p["CtID"], p["SlotID"], p["PinRef"]], [hba, "HBA", KT, "3", "PIN.CH"]);
        assert.ok(p["ICCSN"], "the card's ICCSN");
        assert.doesNotMatch(f, /5555|6666|0000/, "no PIN in an event");
      }
      await new Promise((r) => setTimeout(r, 500));
      assert.deepEqual(other.frames, [], "Mandant M2 has no terminal of the card: it hears nothing of it");
    } finally {
      const unsubscribe = (eventTo: string, c: string) =>
        soap("EventService", "Unsubscribe", `<EVT:Unsubscribe xmlns:EVT="${NS.evt}">${c}<EVT:EventTo>${eventTo}</EVT:EventTo></EVT:Unsubscribe>`);
      await unsubscribe(own.eventTo, ctx());
      await unsubscribe(other.eventTo, ctx("M2", "PVS2", "AP9"));
      own.close();
      other.close();
    }
  });

  it("Subscribe with a Filter (XPath on the Event, with or without the EVT prefix): only events it passes arrive; GetSubscription shows it; no XPath is 4000", async () => {
    await rpc(practice.clients.c, "removeCard", { ctId: KT, slot: 3 });
    const hba = await insertCard(3, "HBA", "ecc", "Dr. Fritz Filter", "2222");
    const finished = await cetpListener();
    const smcbOnly = await cetpListener();
    const byTopic = "/EVT:Event[EVT:Topic='CARD/PIN/VERIFY_FINISHED']";
    const bySlot = "/Event/Message/Parameter[Key='SlotID' and Value='2']";
    try {
      await ok("EventService", await soap("EventService", "Subscribe", subscribeRequest(finished.eventTo, "CARD", { filter: byTopic })));
      await ok("EventService", await soap("EventService", "Subscribe", subscribeRequest(smcbOnly.eventTo, "CARD/PIN", { filter: bySlot })));
      const listed = await ok(
        "EventService",
        await soap("EventService", "GetSubscription", `<EVT:GetSubscription xmlns:EVT="${NS.evt}">${ctx()}</EVT:GetSubscription>`),
      );
      assert.ok(listed.includes(`<EVT:Filter>/EVT:Event[EVT:Topic=&#39;CARD/PIN/VERIFY_FINISHED&#39;]</EVT:Filter>`), listed);
      for (const handle of [practice.smcbHandle, hba])
        await ok("CardService", await soap("CardService", "VerifyPin", pinRequest("VerifyPin", handle, handle === hba ? "PIN.CH" : "PIN.SMC")));
      await finished.waitFor(2);
      await smcbOnly.waitFor(2);
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(
        finished.frames.map((f) => `${tag(f, "Topic")} ${params(f)["CardType"]}`),
        ["CARD/PIN/VERIFY_FINISHED SMC-B", "CARD/PIN/VERIFY_FINISHED HBA"],
      );
      assert.deepEqual(
        smcbOnly.frames.map((f) => `${tag(f, "Topic")} ${params(f)["SlotID"]}`),
        ["CARD/PIN/VERIFY_STARTED 2", "CARD/PIN/VERIFY_FINISHED 2"],
      );
      for (const bad of ["/Event[", "/X:Event", "count(/Event) > $n"])
        assert.match(await fault(await soap("EventService", "Subscribe", subscribeRequest(finished.eventTo, "CARD", { filter: bad })), 4000), /Filter/);
    } finally {
      for (const l of [finished, smcbOnly]) {
        await soap("EventService", "Unsubscribe", `<EVT:Unsubscribe xmlns:EVT="${NS.evt}">${ctx()}<EVT:EventTo>${l.eventTo}</EVT:EventTo></EVT:Unsubscribe>`);
        l.close();
      }
    }
  });

  it("CertificateService ReadCardCertificate answers the card's C.AUT, and an SMC-B's C.ENC and C.SIG in one call; a certificate the card lacks is 4149", async () => {
    const cert = await readCertificate(practice.smcbHandle);
    assert.match(cert.subject, /CN=Praxis M1/);
    assert.match(cert.issuer, /GEM\.SMCB-CA-TIGW-TEST-ECC/);
    const refs = ["C.AUT", "C.ENC", "C.SIG"];
    const all = await ok(
      "CertificateService",
      await soap(
        "CertificateService",
        "ReadCardCertificate",
        `<CERT:ReadCardCertificate xmlns:CERT="${NS.cert}" xmlns:CONN="${NS.conn}"><CONN:CardHandle>${practice.smcbHandle}</CONN:CardHandle>${ctx()}` +
          `<CERT:CertRefList>${refs.map((r) => `<CERT:CertRef>${r}</CERT:CertRef>`).join("")}</CERT:CertRefList></CERT:ReadCardCertificate>`,
      ),
    );
    const infos = [...all.matchAll(/<CERTCMN:CertRef>([^<]+)<\/CERTCMN:CertRef>[\s\S]*?<CERTCMN:X509Certificate>([^<]+)<\/CERTCMN:X509Certificate>/g)].map(
      (m) => ({
        ref: m[1]!,
        cert: new X509Certificate(Buffer.from(m[2]!, "base64")),
      }),
    );
    assert.deepEqual(
      infos.map((i) => i.ref),
      refs,
    );
    const keys = new Set(infos.map((i) => i.cert.publicKey.export({ type: "spki", format: "der" }).toString("hex")));
    assert.equal(keys.size, 3, "each certificate has a key pair of its own");
    for (const i of infos) {
      assert.match(i.cert.subject, /CN=Praxis M1/);
      assert.equal(i.cert.issuer, cert.issuer, "issued by the SMC-B CA");
      writeFileSync(join(dir, `smcb-${i.ref}.pem`), i.cert.toString());
    }
    // The certificate types (gemSpec_OID): C.HCI.ENC and C.HCI.OSIG.
    assert.match(openssl(["x509", "-in", "smcb-C.ENC.pem", "-noout", "-text"]), /1\.2\.276\.0\.76\.4\.76/);
    assert.match(openssl(["x509", "-in", "smcb-C.SIG.pem", "-noout", "-text"]), /1\.2\.276\.0\.76\.4\.78/);
    assert.match(
      await fault(await soap("CertificateService", "ReadCardCertificate", readCertRequest(practice.smcbHandle, "C.QES")), 4149),
      /no C.QES certificate; it holds C.AUT, C.ENC, C.SIG/,
    );
  });

  it("CertificateService VerifyCertificate (VALID, then INVALID once revoked) and CheckCertificateExpiration", async () => {
    const cert = await readCertificate(practice.smcbHandle);
    const verify = (der: Buffer) =>
      soap(
        "CertificateService",
        "VerifyCertificate",
        `<CERT:VerifyCertificate xmlns:CERT="${NS.cert}" xmlns:CERTCMN="${NS.certcmn}">${ctx()}<CERTCMN:X509Certificate>${der.toString("base64")}</CERTCMN:X509Certificate></CERT:VerifyCertificate>`,
      );
    const valid = await ok("CertificateService", await verify(cert.raw));
    assert.equal(tag(valid, "VerificationResult"), "VALID");
    assert.equal(tag(valid, "Role"), "1.2.276.0.76.4.77", "the SMC-B AUT profile (oid_smc_b_aut)");
    const expiry = await ok(
      "CertificateService",
      await soap(
        "CertificateService",
        "CheckCertificateExpiration",
        `<CERT:CheckCertificateExpiration xmlns:CERT="${NS.cert}">${ctx()}</CERT:CheckCertificateExpiration>`,
      ),
    );
    assert.ok(expiry.includes(`<CONN:CardHandle>${practice.smcbHandle}</CONN:CardHandle>`));
    assert.equal(tag(expiry, "validity"), new Date(cert.validTo).toISOString().slice(0, 10));
    const smcbRows = [...expiry.matchAll(/<CERT:CertificateExpiration>([\s\S]*?)<\/CERT:CertificateExpiration>/g)]
      .map((m) => m[1]!)
      .filter((r) => r.includes(`<CONN:CardHandle>${practice.smcbHandle}</CONN:CardHandle>`));
    assert.equal(new Set(smcbRows.map((r) => tag(r, "serialNumber"))).size, 3, "the SMC-B's C.AUT, C.ENC and C.SIG, each a row");
    assert.equal(tag(smcbRows[0]!, "serialNumber"), BigInt(`0x${cert.serialNumber}`).toString(), "C.AUT first");
    // A card certificate revoked in the test PKI: INVALID from then on.
    const { certificate: other } = await rpc<{ certificate: { certSerial: string; pem: string } }>(practice.clients.h, "issueCard", {
      cardType: "HBA",
      keyType: "ecc",
      holder: "Dr. Widerruf",
      iccsn: "",
      notBefore: "",
      validityYears: 5,
    });
    const otherDer = new X509Certificate(other.pem).raw;
    assert.equal(tag(await ok("CertificateService", await verify(otherDer)), "VerificationResult"), "VALID");
    await rpc(practice.clients.h, "revokeCertificate", { certSerial: other.certSerial, reason: "keyCompromise" });
    assert.equal(tag(await ok("CertificateService", await verify(otherDer)), "VerificationResult"), "INVALID");
    // A stranger's certificate (self-signed) does not chain to the TI PKI.
    openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "stranger-key.pem", "-out", "stranger.pem", "-subj", "/CN=stranger", "-days", "1"]);
    const stranger = new X509Certificate(readFileSync(join(dir, "stranger.pem")));
    assert.equal(tag(await ok("CertificateService", await verify(stranger.raw)), "VerificationResult"), "INVALID");
  });

  it("ExternalAuthenticate signs the hash as the card does: ECDSA (r||s) with the SMC-B, RSASSA-PSS with an RSA HBA; openssl verifies both", async () => {
    const digest = createHash("sha256").update("challenge of an IdP").digest();
    writeFileSync(join(dir, "digest.bin"), digest);

    const ecc = await ok(
      "AuthSignatureService",
      await soap("AuthSignatureService", "ExternalAuthenticate", authRequest(practice.smcbHandle, digest, "urn:bsi:tr:03111:ecdsa")),
    );
    assert.match(ecc, /<dss:Base64Signature Type="urn:bsi:tr:03111:ecdsa">/);
    const rs = Buffer.from(tag(ecc, "Base64Signature")!, "base64");
    assert.equal(rs.length, 64, "r||s of brainpoolP256r1");
    const int = (b: Buffer) => {
      const v = b[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b;
      return Buffer.concat([Buffer.from([0x02, v.length]), v]);
    };
    const seq = Buffer.concat([int(rs.subarray(0, 32)), int(rs.subarray(32))]);
    writeFileSync(join(dir, "ecdsa.der"), Buffer.concat([Buffer.from([0x30, seq.length]), seq]));
    writeFileSync(join(dir, "smcb.pem"), (await readCertificate(practice.smcbHandle)).toString());
    assert.match(
      openssl(["pkeyutl", "-verify", "-certin", "-inkey", "smcb.pem", "-in", "digest.bin", "-sigfile", "ecdsa.der"]),
      /Signature Verified Successfully/,
    );

    const hba = await insertCard(4, "HBA", "rsa", "Dr. Max Muster", "1234");
    assert.equal(tag(await ok("CardService", await soap("CardService", "VerifyPin", pinRequest("VerifyPin", hba, "PIN.CH"))), "PinResult"), "OK");
    const rsa = await ok("AuthSignatureService", await soap("AuthSignatureService", "ExternalAuthenticate", authRequest(hba, digest, "urn:ietf:rfc:3447")));
    writeFileSync(join(dir, "pss.sig"), Buffer.from(tag(rsa, "Base64Signature")!, "base64"));
    writeFileSync(join(dir, "hba.pem"), (await readCertificate(hba)).toString());
    const pss = ["-pkeyopt", "digest:sha256", "-pkeyopt", "rsa_padding_mode:pss", "-pkeyopt", "rsa_pss_saltlen:32"];
    assert.match(
      openssl(["pkeyutl", "-verify", "-certin", "-inkey", "hba.pem", "-in", "digest.bin", "-sigfile", "pss.sig", ...pss]),
      /Signature Verified Successfully/,
    );
    // The card does not hash again: the signature does not verify over SHA-256(digest).
    writeFileSync(join(dir, "rehashed.bin"), createHash("sha256").update(digest).digest());
    assert.throws(() => openssl(["pkeyutl", "-verify", "-certin", "-inkey", "hba.pem", "-in", "rehashed.bin", "-sigfile", "pss.sig", ...pss]));

    assert.match(await fault(await soap("AuthSignatureService", "ExternalAuthenticate", authRequest(hba, digest, "urn:bsi:tr:03111:ecdsa")), 4111), /RSA/);
  });

  it("VSDService ReadVSD reads the Prüfkarte through the Fachmodul: gzip + Base64 documents, Prüfungsnachweis result 3", async () => {
    const egk = await rpc<{ iccsn: string; certSerial: string }>(practice.clients.v, "prepareEgk", { kvnr: "", pruefkarte: 1 });
    const ehc = await practice.insert(1, "PRUEFKARTE_EGK", egk.iccsn, egk.certSerial);
    const cards = await ok("EventService", await soap("EventService", "GetCards", `<EVT:GetCards xmlns:EVT="${NS.evt}">${ctx()}</EVT:GetCards>`));
    assert.match(cards, /<CARDCMN:CardType>EGK<\/CARDCMN:CardType>/);
    assert.match(cards, /<CARD:Kvnr>X0000000/);
    const read = await ok(
      "VSDService",
      await soap(
        "VSDService",
        "ReadVSD",
        `<VSD:ReadVSD xmlns:VSD="${NS.vsd}"><VSD:EhcHandle>${ehc}</VSD:EhcHandle><VSD:HpcHandle>${practice.smcbHandle}</VSD:HpcHandle>` +
          `<VSD:PerformOnlineCheck>true</VSD:PerformOnlineCheck><VSD:ReadOnlineReceipt>true</VSD:ReadOnlineReceipt>${ctx()}</VSD:ReadVSD>`,
      ),
    );
    const doc = (name: string) => gunzipSync(Buffer.from(tag(read, name)!, "base64")).toString("latin1");
    assert.match(doc("PersoenlicheVersichertendaten"), /<Nachname>Ort<\/Nachname>/);
    assert.match(doc("AllgemeineVersicherungsdaten"), /109500969/);
    assert.match(doc("Pruefungsnachweis"), /<E>3<\/E>/);
  });

  it("an independent client (Python zeep from the gematik WSDLs) discovers the unit, reads cards, unlocks the SMC-B, authenticates, gets CARD/INSERTED over CETP and reads the eGK", async () => {
    const python = zeepPython();
    openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "cetp-key.pem", "-out", "cetp-cert.pem", "-subj", "/CN=PVS", "-days", "1"]);
    writeFileSync(join(dir, "roots.pem"), roots.join("\n"));
    await rpc(practice.clients.c, "removeCard", { ctId: KT, slot: 1 });
    const child = spawn(
      python,
      [
        join(__dirname, "../../test/pvs/zeep_pvs.py"),
        ...["--sds", `${baseUrl}/connector.sds`, "--ca", join(dir, "roots.pem"), "--wsdl-dir", join(GEMATIK_SCHEMAS, "conn")],
        ...["--cetp-cert", join(dir, "cetp-cert.pem"), "--cetp-key", join(dir, "cetp-key.pem")],
        ...["--mandant", "M1", "--client-system", "PVS1", "--workplace", "AP1"],
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    const steps: Record<string, Record<string, unknown>> = {};
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    let egk = { iccsn: "", certSerial: "" };
    let buffered = "";
    const exited = new Promise<number>((resolve) => child.on("close", (code) => resolve(code ?? -1)));
    child.stdout.on("data", (d: Buffer) => {
      buffered += d.toString();
      for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
        const line = JSON.parse(buffered.slice(0, nl)) as { step: string } & Record<string, unknown>;
        buffered = buffered.slice(nl + 1);
        steps[line.step] = line;
        // The world: once the PVS listens, a Prüfkarte goes into the terminal.
        if (line.step === "subscribed")
          void rpc<{ iccsn: string; certSerial: string }>(practice.clients.v, "prepareEgk", { kvnr: "", pruefkarte: 3 })
            .then((e) => ((egk = e), practice.insert(1, "PRUEFKARTE_EGK", e.iccsn, e.certSerial)))
            .catch((e: unknown) => (stderr += String(e)));
      }
    });
    const code = await exited;
    assert.equal(code, 0, `zeep client: ${JSON.stringify(steps["error"] ?? {})}\n${stderr.slice(-3000)}`);
    const discovered = steps["discovered"] as { tls: string; endpoints: Record<string, [string, string]> };
    assert.equal(discovered.tls, "true");
    assert.deepEqual(discovered.endpoints["CardService"], ["8.1.2", `${baseUrl}/soap/CardService/8.1.2`]);
    const cards = (steps["cards"] as { cards: { type: string; holder: string }[] }).cards;
    assert.ok(
      cards.some((c) => c.type === "SMC-B" && c.holder === "Praxis M1"),
      JSON.stringify(cards),
    );
    assert.equal(steps["verifypin"]!["result"], "OK");
    const auth = steps["authenticated"] as { digest: string; signature: string; type: string };
    assert.equal(auth.type, "urn:bsi:tr:03111:ecdsa");
    writeFileSync(join(dir, "zeep-cert.der"), Buffer.from(String(steps["certificate"]!["der"]), "base64"));
    openssl(["x509", "-inform", "DER", "-in", "zeep-cert.der", "-out", "zeep-cert.pem"]);
    writeFileSync(join(dir, "zeep-digest.bin"), Buffer.from(auth.digest, "base64"));
    const rs = Buffer.from(auth.signature, "base64");
    const int = (b: Buffer) => {
      const v = b[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b;
      return Buffer.concat([Buffer.from([0x02, v.length]), v]);
    };
    const seq = Buffer.concat([int(rs.subarray(0, 32)), int(rs.subarray(32))]);
    writeFileSync(join(dir, "zeep-sig.der"), Buffer.concat([Buffer.from([0x30, seq.length]), seq]));
    assert.match(
      openssl(["pkeyutl", "-verify", "-certin", "-inkey", "zeep-cert.pem", "-in", "zeep-digest.bin", "-sigfile", "zeep-sig.der"]),
      /Signature Verified Successfully/,
    );
    const event = steps["event"] as { topic: string; params: Record<string, string> };
    assert.equal(event.topic, "CARD/INSERTED");
    assert.equal(event.params["ICCSN"], egk.iccsn);
    assert.deepEqual(steps["vsd"], { step: "vsd", surname: "Ort", result: "3" });
    assert.ok(steps["done"]);
  });

  it("faults: malformed XML, a DOCTYPE, SOAP 1.2, a wrong SOAPAction, a missing Context and an unknown Mandant each name the problem with their code", async () => {
    const post = (body: string, headers: Record<string, string> = {}) =>
      https(`/soap/EventService/7.2.0`, {
        method: "POST",
        body,
        headers: { "content-type": "text/xml; charset=utf-8", soapaction: `"${NS.evt}#GetCards"`, ...headers },
      });
    assert.match(await fault(await post("<soap:Envelope xmlns:soap='x'><unclosed>"), 4000), /malformed XML/);
    const xxe = `<?xml version="1.0"?><!DOCTYPE d [<!ENTITY e SYSTEM "file:///etc/passwd">]><soap:Envelope xmlns:soap="${NS.soapEnv}"><soap:Body>&e;</soap:Body></soap:Envelope>`;
    assert.match(await fault(await post(xxe), 4000), /DOCTYPE is not allowed/);
    assert.match(await fault(await post(`<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body/></e:Envelope>`), 4000), /SOAP 1\.1/);
    const getCards = `<EVT:GetCards xmlns:EVT="${NS.evt}">${ctx()}</EVT:GetCards>`;
    assert.match(await fault(await soap("EventService", "GetCards", getCards, { action: `${NS.evt}#GetCardTerminals` }), 4000), /SOAPAction/);
    assert.match(await fault(await soap("EventService", "GetCards", `<EVT:GetCards xmlns:EVT="${NS.evt}"/>`, { skipRequestCheck: true }), 4021), /no Context/);
    assert.match(await fault(await soap("EventService", "GetCards", `<EVT:GetCards xmlns:EVT="${NS.evt}">${ctx("M9")}</EVT:GetCards>`), 4004), /M9/);
    assert.equal((await https("/soap/EventService/7.2.0", { method: "POST", body: "{}", headers: { "content-type": "application/json" } })).status, 500);
    assert.equal((await https("/soap/Nothing/1.0.0", { method: "POST", body: "" })).status, 404);
  });

  it("client authentication: basic and mtls (ECC and RSA client certificates) per client system; a caller that does not authenticate gets 4204", async () => {
    const getCards = (o: { headers?: Record<string, string>; cert?: Buffer; key?: Buffer; m?: string; cs?: string; wp?: string } = {}) =>
      https("/soap/EventService/7.2.0", {
        method: "POST",
        body: `<s:Envelope xmlns:s="${NS.soapEnv}"><s:Body><EVT:GetCards xmlns:EVT="${NS.evt}">${ctx(o.m, o.cs, o.wp)}</EVT:GetCards></s:Body></s:Envelope>`,
        headers: { "content-type": "text/xml", soapaction: `"${NS.evt}#GetCards"`, ...o.headers },
        cert: o.cert,
        key: o.key,
      });
    const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}` });
    openssl([
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      "pvs1-key.pem",
      "-out",
      "pvs1.pem",
      "-subj",
      "/CN=PVS1",
      "-days",
      "1",
    ]);
    openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "pvs2-key.pem", "-out", "pvs2.pem", "-subj", "/CN=PVS2", "-days", "1"]);
    const file = (f: string) => readFileSync(join(dir, f));
    const credential = (cs: string, body: object) => rest(`/api/v1/units/${UNIT}/infomodell/client-systems/${cs}/credential`, { method: "PUT", body });
    const saved = await credential("PVS1", { password: "praxis-software-1", certPem: file("pvs1.pem").toString() });
    assert.equal(saved.status, 200, JSON.stringify(saved.body));
    assert.doesNotMatch(JSON.stringify(saved.body), /praxis-software-1/, "the answer never shows the password");
    assert.equal((await credential("PVS2", { certPem: file("pvs2.pem").toString() })).status, 200);
    assert.equal((await credential("NO-SUCH-CS", { password: "whatever-123" })).body["code"], "4005");

    try {
      assert.equal((await rest(`/api/v1/units/${UNIT}/client-auth`, { method: "POST", body: { mode: "basic" } })).status, 200);
      assert.match((await https("/connector.sds")).text, /<CONN:ClientAutMandatory>true<\/CONN:ClientAutMandatory>/);
      assert.match(await fault(await getCards(), 4204), /HTTP Basic/);
      assert.match(await fault(await getCards({ headers: basic("PVS1", "wrong-password") }), 4204), /not authenticated/);
      assert.match(
        await fault(await getCards({ headers: basic("PVS2", "praxis-software-1") }), 4204),
        /not authenticated/,
        "the user name is the Context's client system",
      );
      await ok("EventService", await getCards({ headers: basic("PVS1", "praxis-software-1") }));

      assert.equal((await rest(`/api/v1/units/${UNIT}/client-auth`, { method: "POST", body: { mode: "mtls" } })).status, 200);
      assert.match(await fault(await getCards(), 4204), /TLS client certificate/);
      assert.match(
        await fault(await getCards({ cert: file("pvs2.pem"), key: file("pvs2-key.pem") }), 4204),
        /PVS1 is not authenticated/,
        "PVS2's certificate is not PVS1's",
      );
      await ok("EventService", await getCards({ cert: file("pvs1.pem"), key: file("pvs1-key.pem") }));
      await ok("EventService", await getCards({ cert: file("pvs2.pem"), key: file("pvs2-key.pem"), m: "M2", cs: "PVS2", wp: "AP9" }));
    } finally {
      assert.equal((await rest(`/api/v1/units/${UNIT}/client-auth`, { method: "POST", body: { mode: "none" } })).status, 200);
    }
    assert.match((await https("/connector.sds")).text, /<CONN:ClientAutMandatory>false<\/CONN:ClientAutMandatory>/);
  });

  it("the unit's SOAP log lists operation, client system, code and duration, and no PIN or card data", async () => {
    const log = await rest(`/api/v1/units/${UNIT}/soap/log`);
    const calls = log.body["calls"] as { operation: string; clientSystemId: string; code: number; ms: number }[];
    assert.ok(calls.some((c) => c.operation === "VerifyPin" && c.clientSystemId === "PVS1" && c.code === 0));
    assert.ok(calls.some((c) => c.operation === "GetCards" && c.code === 4004));
    const text = JSON.stringify(log.body);
    assert.doesNotMatch(text, new RegExp(`${practice.smcbHandle}|4711|Ort`));
  });
});
