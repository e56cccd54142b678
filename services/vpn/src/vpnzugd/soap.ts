import { createHash, verify, type KeyObject } from "node:crypto";
import { child, esc, excC14n, MalformedXml, parseXml, type XmlElement } from "@tigw/platform";

/**
 * The messages of the VPN-ZugD's ProvisioningService (vpnzugd/ProvisioningService.wsdl v1.1.1,
 * ProvisioningService.xsd v1.1.2) in SOAP 1.1, both ways: what the Konnektor sends and reads, and
 * what the simulated VPN-ZugD reads (checked against the schema's sequences: 7091 otherwise)
 * and answers, refusals as SOAP faults carrying a GERROR Error (TelematikError.xsd v2.0).
 */
export const SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/";
export const VPNK_NS = "http://ws.gematik.de/vpnzugd/ProvisioningService/v1.1";
export const DS_NS = "http://www.w3.org/2000/09/xmldsig#";
export const GERROR_NS = "http://ws.gematik.de/tel/error/v2.0";

export const SOAP_ACTIONS = { register: "urn:#regOperation", deregister: "urn:#deregOperation", status: "urn:#statusOperation" } as const;
export type Operation = keyof typeof SOAP_ACTIONS;
const REQUEST_ELEMENT: Record<Operation, string> = {
  register: "registerKonnektorRequest",
  deregister: "deregisterKonnektorRequest",
  status: "registerStatusRequest",
};
const RESPONSE_ELEMENT: Record<Operation, string> = {
  register: "registerKonnektorResponse",
  deregister: "deregisterKonnektorResponse",
  status: "registerStatusResponse",
};

/** The signature's algorithms (XMLDSig 1.1 identifiers). */
export const ALG = {
  c14n: "http://www.w3.org/2001/10/xml-exc-c14n#",
  enveloped: "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
  sha256: "http://www.w3.org/2001/04/xmlenc#sha256",
  ecdsaSha256: "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
  rsaSha256: "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
} as const;

/** A refusal of the VPN-ZugD: its gematik code and text. */
export class VpnZugdFault extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface SignedRequest {
  operation: "register" | "deregister";
  timestamp: string;
  /** DER of the Konnektor's C.NK.VPN. */
  certificate: Buffer;
  contractId: string;
  signature: { method: string; digest: Buffer; value: Buffer; signerCertificate: Buffer };
}

export interface StatusRequest {
  operation: "status";
  timestamp: string;
  certificate: Buffer;
}

export type VpnZugdRequest = SignedRequest | StatusRequest;

export interface VpnZugdAnswer {
  timestamp: string;
  registrationStatus: string;
  contractStatus: string;
  registrationTimestamp?: string;
  additionalInformation?: string;
}

/**
 * The request's XMLDSig (W3C XML Signature 1.1), computed alike by the Konnektor and the
 * VPN-ZugD from the document's text. The one Reference has URI="" with the enveloped-signature
 * transform: it covers the whole document, the soap:Envelope, less the ds:Signature, in exclusive
 * canonical form (exc-c14n). Why the whole document and not a Reference to the request element:
 * the schema (ProvisioningService.xsd) only places ds:Signature last in registerKonnektorRequest
 * and deregisterKonnektorRequest and the gematik material at hand names no Id attribute to point
 * at (the request types have none), so URI="" is the only Reference that needs none, and it is
 * what this request has always declared. The SignatureValue signs the exc-c14n of ds:SignedInfo.
 */
export const referenceDigest = (xml: string): Buffer =>
  createHash("sha256")
    .update(excC14n(xml, { exclude: { ns: DS_NS, local: "Signature" } }), "utf8")
    .digest();

/** The bytes the SignatureValue is computed over: ds:SignedInfo as it stands in the document, exc-c14n. */
export const signedInfoOf = (xml: string): Buffer => Buffer.from(excC14n(xml, { subtree: { ns: DS_NS, local: "SignedInfo" } }), "utf8");

/**
 * What the Konnektor has its SM-B sign for a request: the DigestValue (from the request written
 * with the signature still empty: the enveloped transform drops the ds:Signature anyway) and the
 * canonical SignedInfo carrying it.
 */
export function toBeSigned(
  r: Pick<SignedRequest, "operation" | "timestamp" | "certificate" | "contractId">,
  method: string,
  signerCertificate: Buffer,
): { digest: Buffer; signedInfo: Buffer } {
  const unsigned = { ...r, signature: { method, digest: Buffer.alloc(0), value: Buffer.alloc(0), signerCertificate } };
  const digest = referenceDigest(requestXml(unsigned));
  return { digest, signedInfo: signedInfoOf(requestXml({ ...unsigned, signature: { ...unsigned.signature, digest } })) };
}

/** The length in bytes of r and of s for the curves an SM-B's key may be on (their order's length). */
const EC_SIZE: Record<string, number> = { brainpoolP256r1: 32, prime256v1: 32, brainpoolP384r1: 48, secp384r1: 48, brainpoolP512r1: 64, secp521r1: 66 };

/**
 * The SignatureValue from what hsm's Sign returns. XMLDSig 1.1 (§ 6.4.3) has an ECDSA value as
 * r || s, each left-padded to the curve's length, where hsm (like node:crypto) gives the DER
 * SEQUENCE of two INTEGERs; an RSA PKCS#1 v1.5 value is the same in both.
 */
export function signatureValueOf(signature: Buffer, key: KeyObject): Buffer {
  if (key.asymmetricKeyType !== "ec") return signature;
  const size = EC_SIZE[key.asymmetricKeyDetails?.namedCurve ?? ""];
  if (!size) throw new Error(`no ECDSA SignatureValue size for curve ${key.asymmetricKeyDetails?.namedCurve}`);
  // SEQUENCE (short or one-byte long length) { INTEGER r, INTEGER s }
  let i = signature[1]! & 0x80 ? 2 + (signature[1]! & 0x7f) : 2;
  const int = (): Buffer => {
    if (signature[i] !== 0x02) throw new Error("not a DER ECDSA signature");
    const len = signature[i + 1]!;
    const v = signature.subarray(i + 2, i + 2 + len);
    i += 2 + len;
    const stripped = v.subarray(v.findIndex((b) => b !== 0) < 0 ? v.length : v.findIndex((b) => b !== 0));
    if (stripped.length > size) throw new Error("ECDSA integer longer than the curve");
    return Buffer.concat([Buffer.alloc(size - stripped.length), stripped]);
  };
  if (signature[0] !== 0x30) throw new Error("not a DER ECDSA signature");
  return Buffer.concat([int(), int()]);
}

/** Verifies a SignatureValue (ECDSA as r || s, see signatureValueOf) over SHA-256 of `data`. */
export const verifySignatureValue = (data: Buffer, key: KeyObject, value: Buffer): boolean =>
  verify("sha256", data, key.asymmetricKeyType === "ec" ? { key, dsaEncoding: "ieee-p1363" } : key, value);

/**
 * The VPN-ZugD's check of a received request's XMLDSig, on the text as it arrived (parsed by
 * parseRequest before): the SignedInfo must declare what is computed here (exc-c14n, the one
 * Reference URI="" with the enveloped-signature transform, SHA-256), the DigestValue must be
 * that of the document, and the SignatureValue must verify over the canonical SignedInfo with
 * `verifyValue`. Returns why not, or undefined when it holds.
 */
export function signatureProblem(xml: string, r: SignedRequest, verifyValue: (signedInfo: Buffer) => boolean): string | undefined {
  // Against signature wrapping: the canonical forms below take the document's first ds:Signature
  // and ds:SignedInfo, so no other may stand anywhere (a soap:Header, say) than the request's own;
  // otherwise a copied, validly signed SignedInfo could vouch for a changed request.
  const count = (el: XmlElement, local: string): number =>
    (el.ns === DS_NS && el.local === local ? 1 : 0) + el.children.reduce((n, c) => n + count(c, local), 0);
  const root = parseXml(xml);
  if (count(root, "Signature") !== 1 || count(root, "SignedInfo") !== 1)
    return "the document must hold exactly one ds:Signature and one ds:SignedInfo, the request's";
  const req = soapBody(xml).children[0]!;
  const signedInfoEl = child(child(req, DS_NS, "Signature"), DS_NS, "SignedInfo")!;
  const c14n = child(signedInfoEl, DS_NS, "CanonicalizationMethod")?.attrs["Algorithm"];
  if (c14n !== ALG.c14n) return `CanonicalizationMethod ${c14n} is not supported (only ${ALG.c14n})`;
  const refs = signedInfoEl.children.filter((c) => c.ns === DS_NS && c.local === "Reference");
  if (refs.length !== 1 || refs[0]!.attrs["URI"] !== "") return 'the SignedInfo must hold exactly one Reference, with URI=""';
  const transforms = (child(refs[0], DS_NS, "Transforms")?.children ?? []).map((t) => t.attrs["Algorithm"] ?? "");
  // The enveloped-signature transform, optionally followed by exc-c14n (what the canonicalisation does anyway).
  if (transforms[0] !== ALG.enveloped || transforms.length > 2 || (transforms.length === 2 && transforms[1] !== ALG.c14n))
    return `the Reference's transforms must be enveloped-signature (and exc-c14n), not ${transforms.join(", ") || "none"}`;
  const digestMethod = child(refs[0], DS_NS, "DigestMethod")?.attrs["Algorithm"];
  if (digestMethod !== ALG.sha256) return `DigestMethod ${digestMethod} is not supported (only ${ALG.sha256})`;
  if (!referenceDigest(xml).equals(r.signature.digest)) return "the DigestValue does not match the request";
  let ok = false;
  try {
    ok = verifyValue(signedInfoOf(xml));
  } catch {
    ok = false;
  }
  return ok ? undefined : "the SignatureValue does not verify with the SM-B's certificate";
}

const envelope = (body: string) =>
  `<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="${SOAP_NS}"><soap:Body>${body}</soap:Body></soap:Envelope>`;

export function requestXml(r: VpnZugdRequest): string {
  const name = REQUEST_ELEMENT[r.operation];
  const head = `<VPNK:Timestamp>${esc(r.timestamp)}</VPNK:Timestamp><VPNK:X509Certificate>${r.certificate.toString("base64")}</VPNK:X509Certificate>`;
  if (r.operation === "status") return envelope(`<VPNK:${name} xmlns:VPNK="${VPNK_NS}">${head}</VPNK:${name}>`);
  const s = r.signature;
  const signature =
    `<ds:Signature xmlns:ds="${DS_NS}"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="${ALG.c14n}"/><ds:SignatureMethod Algorithm="${s.method}"/>` +
    `<ds:Reference URI=""><ds:Transforms><ds:Transform Algorithm="${ALG.enveloped}"/></ds:Transforms><ds:DigestMethod Algorithm="${ALG.sha256}"/>` +
    `<ds:DigestValue>${s.digest.toString("base64")}</ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue>${s.value.toString("base64")}</ds:SignatureValue>` +
    `<ds:KeyInfo><ds:X509Data><ds:X509Certificate>${s.signerCertificate.toString("base64")}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>`;
  return envelope(`<VPNK:${name} xmlns:VPNK="${VPNK_NS}">${head}<VPNK:ContractID>${esc(r.contractId)}</VPNK:ContractID>${signature}</VPNK:${name}>`);
}

/** Not schema-valid: the VPN-ZugD answers 7091. */
const invalid = (why: string): VpnZugdFault => new VpnZugdFault("7091", `request not schema-valid: ${why}`);

function soapBody(xml: string): XmlElement {
  let root: XmlElement;
  try {
    root = parseXml(xml);
  } catch (e) {
    throw invalid(e instanceof MalformedXml ? e.message : "not XML");
  }
  if (root.ns !== SOAP_NS || root.local !== "Envelope") throw invalid("the root is not a SOAP 1.1 Envelope");
  const body = child(root, SOAP_NS, "Body");
  if (!body) throw invalid("the Envelope has no Body");
  return body;
}

/** The children of `el` must be exactly these names, in this order (an xs:sequence without optionals). */
function sequence(el: XmlElement, names: [string, string][]): XmlElement[] {
  const got = el.children.map((c) => `${c.ns === VPNK_NS ? "VPNK:" : c.ns === DS_NS ? "ds:" : `{${c.ns}}`}${c.local}`);
  const want = names.map(([ns, l]) => `${ns === VPNK_NS ? "VPNK:" : "ds:"}${l}`);
  if (got.join(",") !== want.join(",")) throw invalid(`${el.local} must contain ${want.join(", ")} in this order, found ${got.join(", ") || "nothing"}`);
  return el.children;
}

const DATE_TIME = /^-?\d{4,}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$/;
function dateTime(el: XmlElement, what: string): string {
  const t = el.text.trim();
  if (!DATE_TIME.test(t) || Number.isNaN(Date.parse(t))) throw invalid(`${what} is not an xs:dateTime: "${t.slice(0, 40)}"`);
  return t;
}

function base64(el: XmlElement, what: string): Buffer {
  const t = el.text.replace(/\s+/g, "");
  if (!t || !/^[A-Za-z0-9+/]*={0,2}$/.test(t) || t.length % 4 !== 0) throw invalid(`${what} is not xs:base64Binary`);
  return Buffer.from(t, "base64");
}

/** Reads a request as the VPN-ZugD does; anything off the schema is a 7091 VpnZugdFault. */
export function parseRequest(xml: string, soapAction?: string): VpnZugdRequest {
  const body = soapBody(xml);
  if (body.children.length !== 1) throw invalid("the Body must hold exactly one request element");
  const req = body.children[0]!;
  const operation = (Object.keys(REQUEST_ELEMENT) as Operation[]).find((op) => req.ns === VPNK_NS && REQUEST_ELEMENT[op] === req.local);
  if (!operation) throw invalid(`unknown request element {${req.ns}}${req.local}`);
  const action = soapAction?.replace(/^"|"$/g, "");
  if (action && action !== SOAP_ACTIONS[operation]) throw invalid(`SOAPAction ${action} does not fit ${req.local}`);
  if (operation === "status") {
    const [ts, cert] = sequence(req, [
      [VPNK_NS, "Timestamp"],
      [VPNK_NS, "X509Certificate"],
    ]);
    return { operation, timestamp: dateTime(ts!, "Timestamp"), certificate: base64(cert!, "X509Certificate") };
  }
  const [ts, cert, contract, sig] = sequence(req, [
    [VPNK_NS, "Timestamp"],
    [VPNK_NS, "X509Certificate"],
    [VPNK_NS, "ContractID"],
    [DS_NS, "Signature"],
  ]);
  const [signedInfoEl, valueEl, keyInfo] = sequence(sig!, [
    [DS_NS, "SignedInfo"],
    [DS_NS, "SignatureValue"],
    [DS_NS, "KeyInfo"],
  ]);
  const [, methodEl, ref] = sequence(signedInfoEl!, [
    [DS_NS, "CanonicalizationMethod"],
    [DS_NS, "SignatureMethod"],
    [DS_NS, "Reference"],
  ]);
  const [, , digestEl] = sequence(ref!, [
    [DS_NS, "Transforms"],
    [DS_NS, "DigestMethod"],
    [DS_NS, "DigestValue"],
  ]);
  const x509Data = child(keyInfo!, DS_NS, "X509Data");
  const signerEl = x509Data && child(x509Data, DS_NS, "X509Certificate");
  if (!signerEl) throw invalid("the Signature's KeyInfo carries no X509Data/X509Certificate of the SM-B");
  const method = methodEl!.attrs["Algorithm"] ?? "";
  if (!method) throw invalid("SignatureMethod has no Algorithm");
  return {
    operation,
    timestamp: dateTime(ts!, "Timestamp"),
    certificate: base64(cert!, "X509Certificate"),
    contractId: contract!.text.trim(),
    signature: {
      method,
      digest: base64(digestEl!, "DigestValue"),
      value: base64(valueEl!, "SignatureValue"),
      signerCertificate: base64(signerEl, "the SM-B's X509Certificate"),
    },
  };
}

export function answerXml(operation: Operation, a: VpnZugdAnswer): string {
  const name = RESPONSE_ELEMENT[operation];
  const regTs = operation === "status" ? `<VPNK:RegistrationTimestamp>${esc(a.registrationTimestamp || a.timestamp)}</VPNK:RegistrationTimestamp>` : "";
  const info = a.additionalInformation ? `<VPNK:AdditionalInformation>${esc(a.additionalInformation.slice(0, 4096))}</VPNK:AdditionalInformation>` : "";
  return envelope(
    `<VPNK:${name} xmlns:VPNK="${VPNK_NS}"><VPNK:Timestamp>${esc(a.timestamp)}</VPNK:Timestamp>${regTs}` +
      `<VPNK:RegistrationStatus>${esc(a.registrationStatus)}</VPNK:RegistrationStatus><VPNK:ContractStatus>${esc(a.contractStatus)}</VPNK:ContractStatus>${info}</VPNK:${name}>`,
  );
}

/** The SOAP fault of a refusal, its detail the GERROR Error with the gematik code. */
export function faultXml(f: { code: string; message: string }, o: { messageId: string; at: string }): string {
  const security = ["7011", "7021", "7031"].includes(f.code);
  return envelope(
    `<soap:Fault><faultcode>soap:${f.code === "7091" ? "Client" : "Server"}</faultcode><faultstring>${esc(f.message)}</faultstring><detail>` +
      `<GERROR:Error xmlns:GERROR="${GERROR_NS}"><GERROR:MessageID>${esc(o.messageId)}</GERROR:MessageID><GERROR:Timestamp>${esc(o.at)}</GERROR:Timestamp>` +
      `<GERROR:Trace><GERROR:EventID>${esc(o.messageId)}</GERROR:EventID><GERROR:Instance>vpnzugd-sim</GERROR:Instance><GERROR:LogReference>${esc(o.messageId)}</GERROR:LogReference>` +
      `<GERROR:CompType>VPN-ZugD</GERROR:CompType><GERROR:Code>${esc(f.code)}</GERROR:Code><GERROR:Severity>Error</GERROR:Severity>` +
      `<GERROR:ErrorType>${security ? "Security" : "Technical"}</GERROR:ErrorType><GERROR:ErrorText>${esc(f.message)}</GERROR:ErrorText></GERROR:Trace></GERROR:Error>` +
      `</detail></soap:Fault>`,
  );
}

/**
 * Reads the VPN-ZugD's answer as the Konnektor does: the response, or a VpnZugdFault with the
 * GERROR code. An answer that is neither is a VpnZugdFault "7071" (the registration could not
 * be completed) naming what was wrong with it.
 */
export function parseAnswer(operation: Operation, xml: string): VpnZugdAnswer {
  let body: XmlElement;
  try {
    body = soapBody(xml);
  } catch (e) {
    throw new VpnZugdFault(operation === "deregister" ? "7081" : "7071", `unreadable answer of the VPN-ZugD: ${(e as Error).message}`);
  }
  const first = body.children[0];
  if (first && first.ns === SOAP_NS && first.local === "Fault") {
    const detail = first.children.find((c) => c.local === "detail");
    const error = detail && child(detail, GERROR_NS, "Error");
    const trace = error && child(error, GERROR_NS, "Trace");
    const code = trace && child(trace, GERROR_NS, "Code")?.text.trim();
    const text = (trace && child(trace, GERROR_NS, "ErrorText")?.text.trim()) || first.children.find((c) => c.local === "faultstring")?.text.trim() || "";
    throw new VpnZugdFault(code || (operation === "deregister" ? "7081" : "7071"), text || "the VPN-ZugD refused without a reason");
  }
  if (!first || first.ns !== VPNK_NS || first.local !== RESPONSE_ELEMENT[operation]) {
    throw new VpnZugdFault(
      operation === "deregister" ? "7081" : "7071",
      `the VPN-ZugD answered with ${first ? first.local : "nothing"} instead of ${RESPONSE_ELEMENT[operation]}`,
    );
  }
  const text = (local: string) => child(first, VPNK_NS, local)?.text.trim() ?? "";
  return {
    timestamp: text("Timestamp"),
    registrationTimestamp: text("RegistrationTimestamp") || undefined,
    registrationStatus: text("RegistrationStatus"),
    contractStatus: text("ContractStatus"),
    additionalInformation: text("AdditionalInformation") || undefined,
  };
}
