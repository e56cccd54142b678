import { unary, type GrpcServiceBinding } from "@tigw/platform";
import * as pb from "@tigw/contracts/hsm/v1/hsm";
import { daysLeft, type SecurityModuleState } from "../domain/security-module.js";
import type { CertificateState } from "../domain/certificate.js";
import type { ClockControl } from "../application/clock.js";
import type { Hsm, SignScheme } from "../application/hsm.js";
import { parseCertificate } from "../pki/x509.js";

export async function certificateInfo(h: Hsm, c: CertificateState): Promise<pb.CertificateInfo> {
  const p = parseCertificate(c.pem);
  const st = await h.pki.status(c.serialHex);
  return {
    certSerial: c.serialHex,
    pem: c.pem,
    subject: p.subject,
    commonName: p.commonName,
    iccsn: p.iccsn,
    notBefore: p.notBefore,
    notAfter: p.notAfter,
    keyType: p.keyType,
    issuer: p.issuer,
    ocspStatus: st.status,
    revokedAt: st.status === "revoked" ? st.revokedAt.toISOString() : "",
    revocationReason: st.status === "revoked" ? st.reason : "",
  };
}

async function securityModule(h: Hsm, sm: SecurityModuleState): Promise<pb.SecurityModule> {
  const now = h.clock.now().toISOString();
  const identities: pb.Identity[] = [];
  for (const id of Object.values(sm.identities)) {
    identities.push({
      name: id.name,
      certificate: await certificateInfo(h, await h.pki.certificate(id.certSerial)),
      daysToExpiry: daysLeft(id.notAfter, now),
      warnings: id.marks,
      expired: id.expired,
      extendedByLzv: id.extendedByLzv,
    });
  }
  return {
    unitId: sm.unitId,
    serial: sm.serial,
    iccsn: sm.iccsn,
    tiAccess: sm.tiAccess,
    lzvLicensed: sm.lzvLicensed,
    identities,
    lzvLastAttempt: sm.lzvLastAttempt,
    lzvLastOutcome: sm.lzvLastOutcome,
  };
}

/** tigw.hsm.v1.HsmService over the application. */
export function hsmGrpc(h: Hsm, clock: ClockControl): GrpcServiceBinding {
  const impl: pb.HsmServiceServer = {
    getSecurityModule: unary(async (r: pb.GetSecurityModuleRequest) => ({ securityModule: await securityModule(h, await h.module(r.unitId)) })),
    listExpiries: unary(async (r: pb.ListExpiriesRequest) => ({ expiries: await h.expiries(r.withinDays), now: clock.now().toISOString() })),
    attemptLzv: unary(async (r: pb.AttemptLzvRequest) => ({ securityModule: await securityModule(h, await h.attemptLzv(r.unitId)) })),
    revokeUnit: unary(async (r: pb.RevokeUnitRequest) => ({ securityModule: await securityModule(h, await h.revokeUnit(r.unitId, r.reason)) })),
    getCertificate: unary(async (r: pb.GetCertificateRequest) => ({ certificate: await certificateInfo(h, await h.pki.certificate(r.certSerial)) })),
    revokeCertificate: unary(async (r: pb.RevokeCertificateRequest) => ({
      certificate: await certificateInfo(h, await h.pki.revoke(r.certSerial, r.reason || "unspecified")),
    })),
    getOcspStatus: unary(async (r: pb.GetOcspStatusRequest) => {
      const st = await h.pki.status(r.certSerial);
      return {
        status: st.status,
        revokedAt: st.status === "revoked" ? st.revokedAt.toISOString() : "",
        reason: st.status === "revoked" ? st.reason : "",
        checkedAt: clock.now().toISOString(),
      };
    }),
    sign: unary(async (r: pb.SignRequest) => h.sign(r.certSerial, Buffer.from(r.data), r.scheme as SignScheme)),
    proveTerminalKey: unary(async (r: pb.ProveTerminalKeyRequest) => ({ signature: await h.proveTerminalKey(r.certSerial, r.ctId, Buffer.from(r.challenge)) })),
    verify: unary(async (r: pb.VerifyRequest) => ({ valid: await h.verify(r.certSerial, Buffer.from(r.data), Buffer.from(r.signature)) })),
    issueCard: unary(async (r: pb.IssueCardRequest) => ({ certificate: await certificateInfo(h, await h.issueCard(r)) })),
    getCardCertificates: unary(async (r: pb.GetCardCertificatesRequest) => ({
      certificates: await Promise.all(
        (await h.cardCertificates(r.iccsn)).map(async (c) => ({ ref: c.ref, certificate: await certificateInfo(h, c.certificate) })),
      ),
    })),
    cardToCardAuthenticate: unary(async (r: pb.CardToCardAuthenticateRequest) => ({
      authenticated: true,
      steps: await h.cardToCard(r.sourceCertSerial, r.targetCertSerial),
    })),
    getTrustAnchors: unary(async () => ({ rootPems: h.pki.roots(), subCaPems: h.pki.subCas(), ocspUrl: h.pki.ocspUrl })),
    getClock: unary(async () => ({ now: clock.now().toISOString(), simulated: clock.simulated })),
    advanceClock: unary(async (r: pb.AdvanceClockRequest) => {
      const now = await clock.advance(r.duration);
      await h.tick();
      return { now: now.toISOString() };
    }),
    postOverMutualTls: unary(async (r: pb.PostOverMutualTlsRequest) =>
      h.postOverMutualTls(r.unitId, r.identity, {
        url: r.url,
        body: Buffer.from(r.body),
        contentType: r.contentType || "text/xml; charset=utf-8",
        soapAction: r.soapAction,
        caPems: r.caPems,
        serverName: r.serverName,
        timeoutMs: r.timeoutMs,
      }),
    ),
    issueTlsServerCertificate: unary(async (r: pb.IssueTlsServerCertificateRequest) => {
      const cert = await h.issueTlsServerCertificate(r.unitId, Buffer.from(r.publicKey), r.dnsNames, r.ipAddresses);
      return { certificate: await certificateInfo(h, cert), chainPems: [h.pki.caOf(cert).pem] };
    }),
    issueVpnBoxCertificate: unary(async (r: pb.IssueVpnBoxCertificateRequest) => {
      const cert = await h.issueVpnBoxCertificate(r.boxId, r.account, Buffer.from(r.publicKey), r.validDays, r.dnsNames);
      const ca = h.pki.caOf(cert);
      return { certificate: await certificateInfo(h, cert), chainPems: [ca.pem, h.pki.rootOf(ca.certDer)] };
    }),
  };
  return { name: "tigw.hsm.v1.HsmService", definition: pb.HsmServiceService, implementation: impl };
}
