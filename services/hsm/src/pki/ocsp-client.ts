import { randomBytes, verify, X509Certificate } from "node:crypto";
import { AsnConvert, OctetString } from "@peculiar/asn1-schema";
import { BasicOCSPResponse, CertID, OCSPRequest, OCSPResponse, OCSPResponseStatus, Request, TBSRequest } from "@peculiar/asn1-ocsp";
import { AlgorithmIdentifier, Certificate, CRLReasons, Extension } from "@peculiar/asn1-x509";
import { nameHash, type OcspStatus } from "./ocsp.js";
import { keyHash } from "./x509.js";

const SHA1 = "1.3.14.3.2.26";
const NONCE = "1.3.6.1.5.5.7.48.1.2";

/** The OCSP responder could not be asked (network, timeout, HTTP error): the check is impossible, not failed. */
export class OcspUnreachable extends Error {}

/** The OCSP URL a certificate names in its Authority Information Access extension ("" when none). */
export function ocspUrlOf(cert: X509Certificate): string {
  return /OCSP - URI:(\S+)/.exec(cert.infoAccess ?? "")?.[1] ?? "";
}

/**
 * Asks the OCSP responder the certificate names for its status, as a relying party does
 * (RFC 6960): a request with a fresh nonce, and an answer accepted only when signed by the
 * issuing CA, for this certificate, with the nonce echoed. An answer that fails these checks
 * counts as "unknown"; a responder that cannot be reached throws OcspUnreachable.
 */
export async function askOcsp(certPem: string, issuerPem: string, o: { timeoutMs: number }): Promise<OcspStatus> {
  const issuer = new X509Certificate(issuerPem);
  const q = ocspQuery(new X509Certificate(certPem), issuer);
  if (!q.url) return { status: "unknown" };
  return readAnswer(await postOcsp(q.url, q.der, o.timeoutMs), q.certId, q.nonce, issuer);
}

/** The request for one certificate, with a fresh nonce, and the responder URL the certificate names. */
export function ocspQuery(cert: X509Certificate, issuer: X509Certificate): { url: string; der: Buffer; certId: CertID; nonce: Buffer } {
  const nonce = randomBytes(16);
  const certId = new CertID({
    hashAlgorithm: new AlgorithmIdentifier({ algorithm: SHA1, parameters: null }),
    issuerNameHash: new OctetString(nameHash(issuer.raw)),
    issuerKeyHash: new OctetString(keyHash(issuer.publicKey)),
    serialNumber: AsnConvert.parse(cert.raw, Certificate).tbsCertificate.serialNumber,
  });
  const request = new OCSPRequest({
    tbsRequest: new TBSRequest({
      requestList: [new Request({ reqCert: certId })],
      requestExtensions: [new Extension({ extnID: NONCE, critical: false, extnValue: new OctetString(AsnConvert.serialize(new OctetString(nonce))) })],
    }),
  });
  return { url: ocspUrlOf(cert), der: Buffer.from(AsnConvert.serialize(request)), certId, nonce };
}

/** POSTs a DER request to an OCSP responder (RFC 6960 appendix A) and returns its DER answer. */
export async function postOcsp(url: string, der: Buffer, timeoutMs: number): Promise<Buffer> {
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/ocsp-request" },
      body: der,
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return Buffer.from(await res.arrayBuffer());
  } catch (e) {
    throw new OcspUnreachable(`OCSP responder ${url} not reachable: ${(e as Error).message}`);
  }
}

function readAnswer(der: Buffer, asked: CertID, nonce: Buffer, issuer: X509Certificate): OcspStatus {
  try {
    const res = AsnConvert.parse(der, OCSPResponse);
    if (res.responseStatus !== OCSPResponseStatus.successful || !res.responseBytes) return { status: "unknown" };
    const basic = AsnConvert.parse(res.responseBytes.response.buffer, BasicOCSPResponse);
    const tbs = Buffer.from(AsnConvert.serialize(basic.tbsResponseData));
    if (!verify("sha256", tbs, issuer.publicKey, Buffer.from(basic.signature))) return { status: "unknown" };
    const echoed = basic.tbsResponseData.responseExtensions?.find((e) => e.extnID === NONCE);
    if (!echoed || !Buffer.from(echoed.extnValue.buffer).equals(Buffer.from(AsnConvert.serialize(new OctetString(nonce))))) return { status: "unknown" };
    const same = (a: ArrayBuffer, b: ArrayBuffer) => Buffer.from(a).equals(Buffer.from(b));
    const single = basic.tbsResponseData.responses.find(
      (r) => same(r.certID.serialNumber, asked.serialNumber) && same(r.certID.issuerKeyHash.buffer, asked.issuerKeyHash.buffer),
    );
    const s = single?.certStatus;
    if (s?.revoked)
      return {
        status: "revoked",
        revokedAt: s.revoked.revocationTime,
        reason: s.revoked.revocationReason ? (CRLReasons[s.revoked.revocationReason.reason] ?? "unspecified") : "unspecified",
      };
    if (s && s.good !== undefined) return { status: "good" };
    return { status: "unknown" };
  } catch {
    return { status: "unknown" };
  }
}
