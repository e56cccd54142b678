import assert from "node:assert/strict";
import { generateKeyPairSync, X509Certificate, randomBytes, sign, verify } from "node:crypto";
import { request } from "node:https";
import { after, before, describe, it } from "node:test";
import { issueCertificate, TI_TLS, toPem } from "@tigw/hsm";
import { HsmServiceClient } from "@tigw/contracts/hsm/v1/hsm";
import { createClient, EmbeddedBus, embeddedSql } from "@tigw/platform";
import { eventually, refusal } from "@tigw/platform/testing";
import { rpc, setUpPractice, UNIT, type Practice } from "@tigw/vsdm/testing";
import {
  ALG,
  referenceDigest,
  requestXml,
  signatureValueOf,
  SOAP_ACTIONS,
  SOAP_NS,
  startVpn,
  toBeSigned,
  VPNZUGD_SERVER_NAME,
  VPNK_NS,
  type RunningVpn,
  type VpnZugdRequest,
} from "../src/index.js";

/**
 * The simulated VPN-ZugD at its own door: the TLS layer (a client without a certificate, with
 * one outside the TI PKI, with an expired one, or with another unit's) and the SOAP layer
 * (malformed input answered with 7091, never a crash; a tampered signature 7011; an old
 * timestamp 7061). Requests with a valid client identity go through hsm's PostOverMutualTls,
 * as the unit's own would.
 */
describe("the simulated VPN-ZugD: mutual TLS and malformed input", () => {
  let practice: Practice;
  let vpn: RunningVpn;
  let unitId = "";
  let vpnCertDer: Buffer;
  let smcb: { certSerial: string; der: Buffer };

  /** POSTs `body` as a unit's C.NK.VPN (through hsm): HTTP status and body. */
  let h: HsmServiceClient;
  const post = (asUnit: string, body: string | Buffer, soapAction = "") =>
    rpc<{ status: number; body: Buffer }>(h, "postOverMutualTls", {
      unitId: asUnit,
      identity: "C.NK.VPN",
      url: vpn.vpnzugd.url,
      body: Buffer.from(body),
      contentType: "text/xml; charset=utf-8",
      soapAction,
      caPems: [vpn.vpnzugd.caPem],
      serverName: VPNZUGD_SERVER_NAME,
      timeoutMs: 240_000,
    }).then((r) => ({ status: r.status, body: Buffer.from(r.body).toString("utf8") }));
  const codeOf = (xml: string) => /<GERROR:Code>(\d+)<\/GERROR:Code>/.exec(xml)?.[1];
  const statusRequest = (certificate: Buffer) => requestXml({ operation: "status", timestamp: new Date().toISOString(), certificate });

  /** A register request signed with the practice's SM-B through hsm, then optionally altered. */
  const signedRegister = async (o: { timestamp?: string; contractId?: string } = {}): Promise<string> => {
    const base = {
      operation: "register" as const,
      timestamp: o.timestamp ?? practice.hsm.hsm.clock.now().toISOString(),
      certificate: vpnCertDer,
      contractId: o.contractId ?? "VTR-1",
    };
    const { digest, signedInfo } = toBeSigned(base, ALG.ecdsaSha256, smcb.der);
    const { signature } = await rpc<{ signature: Buffer }>(practice.clients.h, "sign", {
      certSerial: smcb.certSerial,
      data: signedInfo,
      scheme: "",
    });
    const req: VpnZugdRequest = {
      ...base,
      signature: {
        method: ALG.ecdsaSha256,
        digest,
        value: signatureValueOf(Buffer.from(signature), new X509Certificate(smcb.der).publicKey),
        signerCertificate: smcb.der,
      },
    };
    return requestXml(req);
  };

  /** A plain HTTPS client with the given (or no) client certificate: resolves "ok" or the error message. */
  const connect = (client: { cert?: string; key?: string }) =>
    new Promise<string>((resolve) => {
      const url = new URL(vpn.vpnzugd.url);
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: "POST",
          ca: [vpn.vpnzugd.caPem],
          servername: VPNZUGD_SERVER_NAME,
          agent: false,
          ...TI_TLS,
          ...client,
        },
        (res) => {
          res.resume();
          resolve(`HTTP ${res.statusCode}`);
        },
      );
      req.on("error", (e) => resolve(e.message));
      req.end(statusRequest(vpnCertDer));
    });

  before(async () => {
    practice = await setUpPractice();
    h = createClient(HsmServiceClient, practice.hsm.address, { deadlineMs: 300_000 });
    vpn = await startVpn({
      sql: await embeddedSql(),
      bus: await EmbeddedBus.open(await embeddedSql()),
      clock: practice.hsm.hsm.clock,
      tenancyAddress: practice.tenancy.address,
      hsmAddress: practice.hsm.address,
      cardTerminalAddress: practice.cardTerminal.address,
      masterKey: randomBytes(32),
      heartbeatMs: 3_600_000,
      ocspTimeoutMs: 120_000,
      callTimeoutMs: 240_000,
    });
    await vpn.vpnzugd.addContract({ contractId: "VTR-1", customer: "Praxis M1", sis: false });
    unitId = (await rpc<{ unit: { unitId: string } }>(practice.clients.t, "getUnit", { unit: UNIT })).unit.unitId;
    const sm = await rpc<{ securityModule: { identities: { name: string; certificate: { pem: string } }[] } }>(practice.clients.h, "getSecurityModule", {
      unitId,
    });
    vpnCertDer = new X509Certificate(sm.securityModule.identities.find((i) => i.name === "C.NK.VPN")!.certificate.pem).raw;
    const card = (await rpc<{ cards: { cardType: string; certSerial: string }[] }>(practice.clients.c, "listCards", { unit: UNIT })).cards.find(
      (c) => c.cardType === "SMC-B",
    )!;
    const cert = await rpc<{ certificate: { pem: string } }>(practice.clients.h, "getCertificate", { certSerial: card.certSerial });
    smcb = { certSerial: card.certSerial, der: new X509Certificate(cert.certificate.pem).raw };
  });
  after(async () => {
    h.close();
    await vpn.stop();
    await practice.stop();
  });

  it("a valid status request as the unit is answered (the baseline for the refusals below)", async () => {
    const r = await post(unitId, statusRequest(vpnCertDer), SOAP_ACTIONS.status);
    assert.equal(r.status, 200, r.body);
    assert.match(r.body, /<VPNK:RegistrationStatus>Nicht registriert<\/VPNK:RegistrationStatus>/);
  });

  it("the TLS layer refuses a client without a certificate and one outside the TI PKI", async () => {
    const REFUSED = /certificate required|handshake failure|alert|disconnected before secure TLS|socket hang up/i;
    const bare = await connect({});
    assert.doesNotMatch(bare, /^HTTP/, "a client without a certificate must not get an HTTP answer");
    assert.match(bare, REFUSED);
    const key = generateKeyPairSync("ec", { namedCurve: "brainpoolP256r1" });
    const now = Date.now();
    const self = issueCertificate({
      subject: { cn: "RZK-FAKE C.NK.VPN" },
      publicKey: key.publicKey,
      issuer: "self",
      selfKey: key.privateKey,
      notBefore: new Date(now - 86_400_000),
      notAfter: new Date(now + 86_400_000),
      usage: ["digitalSignature"],
    });
    const refused = await connect({ cert: toPem(self.der), key: key.privateKey.export({ type: "pkcs8", format: "pem" }) as string });
    assert.doesNotMatch(refused, /^HTTP/, "a certificate the TI PKI did not issue must not get an HTTP answer");
    assert.match(refused, REFUSED);
  });

  it("the TLS layer refuses an expired C.NK.VPN (a unit produced in 2019)", async () => {
    const { unit } = await rpc<{ unit: { unitId: string } }>(practice.clients.t, "createUnit", {
      serial: "RZK-OLD-2019",
      profile: "rz",
      firmware: "",
      producedOn: "2019-01-02",
    });
    await eventually(
      () =>
        rpc(practice.clients.h, "getSecurityModule", { unitId: unit.unitId }).then(
          () => true,
          () => false,
        ),
      30_000,
      "the old unit's gSMC-K",
    );
    const e = await refusal(post(unit.unitId, statusRequest(vpnCertDer), SOAP_ACTIONS.status));
    assert.equal(e.code, "TLS_REFUSED");
    assert.match(e.message, /certificate expired|alert|disconnected before secure TLS/i);
  });

  it("another unit's certificate in the request than the TLS client's is refused with 7021", async () => {
    const { unit } = await rpc<{ unit: { unitId: string } }>(practice.clients.t, "createUnit", {
      serial: "RZK-OTHER-0001",
      profile: "rz",
      firmware: "",
      producedOn: "",
    });
    await eventually(
      () =>
        rpc(practice.clients.h, "getSecurityModule", { unitId: unit.unitId }).then(
          () => true,
          () => false,
        ),
      30_000,
      "the other unit's gSMC-K",
    );
    const r = await post(unit.unitId, await signedRegister(), SOAP_ACTIONS.register);
    assert.equal(r.status, 500);
    assert.equal(codeOf(r.body), "7021");
    assert.match(r.body, /not the certificate of the TLS connection/);
  });

  it("a signature that does not cover the request is 7011; a timestamp 10 minutes old is 7061", async () => {
    const tampered = (await signedRegister({ contractId: "VTR-1" })).replace("<VPNK:ContractID>VTR-1<", "<VPNK:ContractID>VTR-2<");
    const r = await post(unitId, tampered, SOAP_ACTIONS.register);
    assert.equal(codeOf(r.body), "7011", r.body);
    const old = new Date(practice.hsm.hsm.clock.now().getTime() - 600_000).toISOString();
    const r2 = await post(unitId, await signedRegister({ timestamp: old }), SOAP_ACTIONS.register);
    assert.equal(codeOf(r2.body), "7061", r2.body);
    const ok = await post(unitId, await signedRegister(), SOAP_ACTIONS.register);
    assert.equal(ok.status, 200, ok.body);
    assert.match(ok.body, /<VPNK:ContractStatus>Zugriff auf TI erlaubt<\/VPNK:ContractStatus>/);
  });

  it("the signature is checked on exc-c14n: a request written differently but canonically the same verifies, one signed byte changed does not, nor does a signed SignedInfo copied elsewhere (signature wrapping)", async () => {
    const valid = await signedRegister();
    const vpnk = ` xmlns:VPNK="${VPNK_NS}"`;
    assert.ok(valid.includes(vpnk) && valid.includes(`<soap:Envelope xmlns:soap="${SOAP_NS}">`));
    // VPNK declared on the Envelope instead, unused declarations, other quotes and spacing in tags,
    // an empty element written out, a comment: none of it is in the canonical form.
    const rewritten = valid
      .replace(vpnk, "")
      .replace(`<soap:Envelope xmlns:soap="${SOAP_NS}">`, `<soap:Envelope xmlns:unused="urn:unused"${vpnk}\n  xmlns:soap='${SOAP_NS}' >`)
      .replace("<soap:Body>", "<soap:Body ><!-- re-serialised -->")
      .replace(/<ds:SignatureMethod Algorithm="([^"]+)"\/>/, "<ds:SignatureMethod  Algorithm='$1'></ds:SignatureMethod>");
    assert.notEqual(rewritten, valid);
    const ok = await post(unitId, rewritten, SOAP_ACTIONS.register);
    assert.equal(ok.status, 200, ok.body);
    // A prefix is part of an element's name in C14N (it rewrites no prefixes): VPNK renamed is another document.
    const renamed = valid.replace(/VPNK:/g, "K:").replace("xmlns:VPNK=", "xmlns:K=");
    assert.equal(codeOf((await post(unitId, renamed, SOAP_ACTIONS.register)).body), "7011");
    const otherContract = valid.replace("<VPNK:ContractID>VTR-1<", "<VPNK:ContractID>VTR-2<");
    const r = await post(unitId, otherContract, SOAP_ACTIONS.register);
    assert.equal(codeOf(r.body), "7011", r.body);
    assert.match(r.body, /the DigestValue does not match the request/);
    // The DigestValue or the SignatureValue tampered with.
    const digest = /<ds:DigestValue>([^<]+)</.exec(valid)![1]!;
    const tamperedDigest = valid.replace(digest, Buffer.alloc(32, 7).toString("base64"));
    assert.equal(codeOf((await post(unitId, tamperedDigest, SOAP_ACTIONS.register)).body), "7011");
    const value = /<ds:SignatureValue>([^<]+)</.exec(valid)![1]!;
    const flipped = Buffer.from(value, "base64");
    flipped[flipped.length - 5]! ^= 1;
    const tamperedValue = await post(unitId, valid.replace(value, flipped.toString("base64")), SOAP_ACTIONS.register);
    assert.equal(codeOf(tamperedValue.body), "7011", tamperedValue.body);
    assert.match(tamperedValue.body, /the SignatureValue does not verify/);
    // Signature wrapping: the signed SignedInfo copied into a soap:Header, the request changed and
    // its own DigestValue recomputed to fit: the copy must not vouch for it.
    const signedInfo = /<ds:SignedInfo>.*<\/ds:SignedInfo>/.exec(valid)![0];
    const wrapped = otherContract.replace(
      "<soap:Body>",
      `<soap:Header><w:Copy xmlns:w="urn:w" xmlns:ds="http://www.w3.org/2000/09/xmldsig#">${signedInfo}</w:Copy></soap:Header><soap:Body>`,
    );
    const at = wrapped.lastIndexOf(digest); // the request's own DigestValue, not the copy's
    const refitted = wrapped.slice(0, at) + referenceDigest(wrapped).toString("base64") + wrapped.slice(at + digest.length);
    const w = await post(unitId, refitted, SOAP_ACTIONS.register);
    assert.equal(codeOf(w.body), "7011", w.body);
    assert.match(w.body, /exactly one ds:Signature and one ds:SignedInfo/);
  });

  it("an ECDSA SignatureValue is r || s of the curve's length (XMLDSig 1.1), made from hsm's DER; RSA values pass as they are", () => {
    for (const [namedCurve, size] of [
      ["brainpoolP256r1", 32],
      ["secp384r1", 48],
      ["secp521r1", 66],
    ] as const) {
      const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve });
      for (let i = 0; i < 50; i++) {
        const data = Buffer.from(`SignedInfo ${i}`);
        const value = signatureValueOf(sign("sha256", data, privateKey), publicKey);
        assert.equal(value.length, 2 * size, namedCurve);
        assert.ok(verify("sha256", data, { key: publicKey, dsaEncoding: "ieee-p1363" }, value), namedCurve);
      }
    }
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const der = sign("sha256", Buffer.from("x"), rsa.privateKey);
    assert.ok(signatureValueOf(der, rsa.publicKey).equals(der));
  });

  it("malformed input gets 7091 with a reason, never a crash; the service answers on", async () => {
    const valid = await signedRegister();
    const cases: [string, string | Buffer, string?][] = [
      ["empty", ""],
      ["not XML", "hello"],
      ["unclosed", "<soap:Envelope xmlns:soap='http://schemas.xmlsoap.org/soap/envelope/'><soap:Body>"],
      ["DOCTYPE with entities", `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>`],
      ["not a SOAP envelope", "<Envelope><Body/></Envelope>"],
      ["missing ContractID", valid.replace(/<VPNK:ContractID>[^<]*<\/VPNK:ContractID>/, "")],
      ["bad base64", valid.replace(/<VPNK:X509Certificate>[^<]*</, "<VPNK:X509Certificate>!!notbase64!!<")],
      ["bad dateTime", valid.replace(/<VPNK:Timestamp>[^<]*</, "<VPNK:Timestamp>yesterday<")],
      ["wrong SOAPAction", valid, SOAP_ACTIONS.deregister],
      [
        "deep nesting",
        `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>${"<a>".repeat(200)}${"</a>".repeat(200)}</soap:Body></soap:Envelope>`,
      ],
      ["too large", `<x>${"a".repeat(70_000)}</x>`],
      ["not UTF-8", Buffer.from([0x3c, 0x78, 0x3e, 0xff, 0xfe, 0x3c, 0x2f, 0x78, 0x3e])],
      ["undeclared prefix", "<p:x/>"],
    ];
    for (const [name, body, action] of cases) {
      const r = await post(unitId, body, action ?? SOAP_ACTIONS.register);
      assert.equal(r.status, 500, name);
      assert.equal(codeOf(r.body), "7091", `${name}: ${r.body}`);
      assert.match(r.body, /request not schema-valid: \S/, name);
    }
    assert.equal((await post(unitId, statusRequest(vpnCertDer), SOAP_ACTIONS.status)).status, 200);
  });
});
