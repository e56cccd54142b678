import { createHash, type KeyObject } from "node:crypto";
import { AsnConvert, OctetString } from "@peculiar/asn1-schema";
import {
  BasicOCSPResponse,
  CertStatus,
  id_pkix_ocsp_basic,
  OCSPRequest,
  OCSPResponse,
  OCSPResponseStatus,
  ResponderID,
  ResponseBytes,
  ResponseData,
  RevokedInfo,
  SingleResponse,
} from "@peculiar/asn1-ocsp";
import { Certificate, CRLReason, CRLReasons, Extension } from "@peculiar/asn1-x509";
import { keyHash, memoByDer, signatureAlgorithm, signDer } from "./x509.js";

const NONCE = "1.3.6.1.5.5.7.48.1.2";

export type OcspStatus = { status: "good" } | { status: "revoked"; revokedAt: Date; reason: string } | { status: "unknown" };

/** An issuing CA as the OCSP responder sees it: its certificate, key and how to look up status. */
export interface OcspIssuer {
  certDer: Buffer;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** Status of a certificate this CA issued, by serial (upper-case hex). */
  status(serialHex: string): Promise<OcspStatus>;
}

const serialHexOf = (serial: ArrayBuffer) =>
  Buffer.from(serial)
    .toString("hex")
    .toUpperCase()
    .replace(/^(00)+(?=.)/, "");
/** SHA-1 of a CA certificate's subject, as OCSP's CertID names the issuer. */
export const nameHash = memoByDer((certDer) =>
  createHash("sha1")
    .update(Buffer.from(AsnConvert.serialize(AsnConvert.parse(certDer, Certificate).tbsCertificate.subject)))
    .digest(),
);

const REASONS: Record<string, CRLReasons> = {
  unspecified: CRLReasons.unspecified,
  keyCompromise: CRLReasons.keyCompromise,
  superseded: CRLReasons.superseded,
  cessationOfOperation: CRLReasons.cessationOfOperation,
  certificateHold: CRLReasons.certificateHold,
};

/**
 * Answers an RFC 6960 OCSP request (DER) with a BasicOCSPResponse signed by the CA that issued
 * the certificates asked about (so clients need no delegated responder certificate). A request
 * for a CA we do not run gets "unknown"; a request that does not parse gets malformedRequest.
 */
export async function answerOcsp(requestDer: Buffer, issuers: OcspIssuer[], now: Date): Promise<Buffer> {
  let req: OCSPRequest;
  try {
    req = AsnConvert.parse(requestDer, OCSPRequest);
  } catch {
    return Buffer.from(AsnConvert.serialize(new OCSPResponse({ responseStatus: OCSPResponseStatus.malformedRequest })));
  }
  const list = req.tbsRequest.requestList;
  const first = list[0]?.reqCert;
  const issuer =
    first &&
    issuers.find(
      (i) => Buffer.from(first.issuerKeyHash.buffer).equals(keyHash(i.publicKey)) && Buffer.from(first.issuerNameHash.buffer).equals(nameHash(i.certDer)),
    );
  // All answers of one response are signed by one CA: answer "unknown" for others.
  const responses: SingleResponse[] = [];
  for (const { reqCert } of list) {
    const mine = issuer && Buffer.from(reqCert.issuerKeyHash.buffer).equals(keyHash(issuer.publicKey));
    const st: OcspStatus = mine ? await issuer.status(serialHexOf(reqCert.serialNumber)) : { status: "unknown" };
    const certStatus =
      st.status === "good"
        ? new CertStatus({ good: null })
        : st.status === "revoked"
          ? new CertStatus({
              revoked: new RevokedInfo({ revocationTime: st.revokedAt, revocationReason: new CRLReason(REASONS[st.reason] ?? CRLReasons.unspecified) }),
            })
          : new CertStatus({ unknown: null });
    responses.push(new SingleResponse({ certID: reqCert, certStatus, thisUpdate: now, nextUpdate: new Date(now.getTime() + 3_600_000) }));
  }
  const signer = issuer ?? issuers[0]!;
  const nonce = req.tbsRequest.requestExtensions?.find((e) => e.extnID === NONCE);
  const data = new ResponseData({
    responderID: new ResponderID({ byKey: new OctetString(keyHash(signer.publicKey)) }),
    producedAt: now,
    responses,
    responseExtensions: nonce ? [new Extension({ extnID: NONCE, critical: false, extnValue: nonce.extnValue })] : undefined,
  });
  const tbs = Buffer.from(AsnConvert.serialize(data));
  const basic = new BasicOCSPResponse({
    tbsResponseData: data,
    signatureAlgorithm: signatureAlgorithm(signer.privateKey),
    signature: signDer(tbs, signer.privateKey),
    certs: [AsnConvert.parse(signer.certDer, Certificate)],
  });
  return Buffer.from(
    AsnConvert.serialize(
      new OCSPResponse({
        responseStatus: OCSPResponseStatus.successful,
        responseBytes: new ResponseBytes({ responseType: id_pkix_ocsp_basic, response: new OctetString(AsnConvert.serialize(basic)) }),
      }),
    ),
  );
}
