import { X509Certificate } from "node:crypto";
import { askOcsp, OcspUnreachable } from "./ocsp-client.js";
import type { OcspStatus } from "./ocsp.js";
import { policiesOf } from "./x509.js";

/** The sub-CAs of the (test) TI PKI a certificate profile belongs to. */
/** VPNBOX: the ti-gateway's own sub-CA for practices' VPN boxes (the Zugangsmodul's client certificates; no TI profile exists). */
export type CaKind = "KOMP" | "SMCB" | "HBA" | "EGK" | "VPNBOX";

/** oid_gem_or_cp (gemSpec_OID Tab_PKI_404): the gematik certificate policy every TI certificate carries. */
export const OID_GEM_OR_CP = "1.2.276.0.76.4.163";

/**
 * Certificate profiles (gemSpec_OID Tab_PKI_405, certificate types): the policy OID a certificate
 * of that type carries and the sub-CA that issues it. The test PKI encodes the profile exactly so,
 * in the certificatePolicies extension, next to oid_gem_or_cp.
 */
export const PROFILES = {
  /** eGK, authentication of the insured (oid_egk_aut). */
  "C.CH.AUT": { oid: "1.2.276.0.76.4.70", ca: "EGK" },
  /** HBA, authentication of the health professional (oid_hba_aut). */
  "C.HP.AUT": { oid: "1.2.276.0.76.4.75", ca: "HBA" },
  /** SMC-B, authentication of the institution (oid_smc_b_aut). */
  "C.HCI.AUT": { oid: "1.2.276.0.76.4.77", ca: "SMCB" },
  /** SMC-B, encryption for the institution (oid_smc_b_enc) and its organisational signature (oid_smc_b_osig). */
  "C.HCI.ENC": { oid: "1.2.276.0.76.4.76", ca: "SMCB" },
  "C.HCI.OSIG": { oid: "1.2.276.0.76.4.78", ca: "SMCB" },
  /** HBA, encryption for the health professional (oid_hba_enc) and the qualified electronic signature (oid_hba_qes). */
  "C.HP.ENC": { oid: "1.2.276.0.76.4.74", ca: "HBA" },
  "C.HP.QES": { oid: "1.2.276.0.76.4.72", ca: "HBA" },
  /** gSMC-KT, authentication of the card terminal (oid_smkt_aut). */
  "C.SMKT.AUT": { oid: "1.2.276.0.76.4.82", ca: "KOMP" },
  /** gSMC-K identities of a Konnektor (oid_ak_aut, oid_nk_vpn, oid_sak_aut). */
  "C.AK.AUT": { oid: "1.2.276.0.76.4.79", ca: "KOMP" },
  "C.NK.VPN": { oid: "1.2.276.0.76.4.80", ca: "KOMP" },
  "C.SAK.AUT": { oid: "1.2.276.0.76.4.113", ca: "KOMP" },
  /**
   * A Fachdienst's signature certificate (oid_fd_sig), issued by the component CA. The KSR signs
   * its UpdateInformation and firmware files with one (services/ksr).
   */
  "C.FD.SIG": { oid: "1.2.276.0.76.4.203", ca: "KOMP" },
  /**
   * A practice's VPN box authenticating to the TI-Gateway's Zugangsmodul (TLS client). Not a TI
   * certificate type: the OID is under the test PKI's own arc, so no TI verifier accepts it.
   */
  "C.VPNBOX.AUT": { oid: "1.3.6.1.4.1.99999.15.1", ca: "VPNBOX" },
} as const satisfies Record<string, { oid: string; ca: CaKind }>;
export type ProfileName = keyof typeof PROFILES;

/** The sub-CA kind of a CA name (GEM.KOMP-CA-TIGW-TEST-ECC -> KOMP), undefined for a root or a stranger. */
export function caKindOfName(name: string): CaKind | undefined {
  const kind = /^GEM\.([A-Z]+)-CA-/.exec(name)?.[1];
  return kind === "KOMP" || kind === "SMCB" || kind === "HBA" || kind === "EGK" || kind === "VPNBOX" ? kind : undefined;
}

/** Why a certificate does not fit: the stable codes a refusal carries (details.problem). */
export type CertificateProblem =
  "NOT_A_CERTIFICATE" | "WRONG_CA" | "WRONG_PROFILE" | "WRONG_ICCSN" | "NOT_YET_VALID" | "EXPIRED" | "REVOKED" | "OCSP_UNKNOWN" | "OCSP_UNREACHABLE";

export class CertificateRejected extends Error {
  constructor(
    readonly problem: CertificateProblem,
    message: string,
  ) {
    super(message);
  }
}

const commonName = (x: X509Certificate) => /(?:^|\n)CN=([^\n]*)/.exec(x.subject)?.[1] ?? "";
const iccsnOf = (x: X509Certificate) => /(?:^|\n)serialNumber=([^\n]*)/.exec(x.subject)?.[1] ?? "";

/**
 * Is this certificate the given card's certificate of the given profile? It must be issued by a
 * trusted sub-CA (issuer name and signature, RFC 5280) of the kind the profile requires, carry the
 * profile's policy OID, and name the card's ICCSN (when one is expected). Throws CertificateRejected;
 * returns the parsed certificate and its issuer.
 */
export function checkBinding(
  pem: string,
  expect: { profile: ProfileName; iccsn?: string; subCas: X509Certificate[] },
): { cert: X509Certificate; issuer: X509Certificate } {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch {
    throw new CertificateRejected("NOT_A_CERTIFICATE", "the certificate does not parse as X.509");
  }
  const profile = PROFILES[expect.profile];
  const issuer = expect.subCas.find((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey));
  if (!issuer) throw new CertificateRejected("WRONG_CA", `certificate ${cert.serialNumber} is not issued by a sub-CA of the TI PKI`);
  const kind = caKindOfName(commonName(issuer));
  if (kind !== profile.ca)
    throw new CertificateRejected(
      "WRONG_CA",
      `certificate ${cert.serialNumber} is issued by ${commonName(issuer)}; a ${expect.profile} comes from the ${profile.ca} CA`,
    );
  let policies: string[];
  try {
    policies = policiesOf(cert.raw);
  } catch {
    policies = [];
  }
  if (!policies.includes(profile.oid))
    throw new CertificateRejected("WRONG_PROFILE", `certificate ${cert.serialNumber} is not a ${expect.profile} (policy ${profile.oid} missing)`);
  if (expect.iccsn !== undefined && iccsnOf(cert) !== expect.iccsn) {
    throw new CertificateRejected("WRONG_ICCSN", `certificate ${cert.serialNumber} belongs to card ${iccsnOf(cert) || "(none)"}, not to card ${expect.iccsn}`);
  }
  return { cert, issuer };
}

/**
 * Is the certificate usable now: within its validity on `now` (the simulated clock where it runs)
 * and "good" at the OCSP responder its AIA names, asked as a relying party (askOcsp). Throws
 * CertificateRejected.
 */
export async function checkCurrent(
  cert: X509Certificate,
  issuer: X509Certificate,
  now: Date,
  o: { ocspTimeoutMs: number; ocsp?: (cert: X509Certificate, issuer: X509Certificate) => Promise<OcspStatus> },
): Promise<void> {
  if (now < new Date(cert.validFrom))
    throw new CertificateRejected("NOT_YET_VALID", `certificate ${cert.serialNumber} is valid only from ${new Date(cert.validFrom).toISOString()}`);
  if (now > new Date(cert.validTo))
    throw new CertificateRejected("EXPIRED", `certificate ${cert.serialNumber} expired on ${new Date(cert.validTo).toISOString()}`);
  let status: OcspStatus;
  try {
    status = o.ocsp ? await o.ocsp(cert, issuer) : await askOcsp(cert.toString(), issuer.toString(), { timeoutMs: o.ocspTimeoutMs });
  } catch (e) {
    if (e instanceof OcspUnreachable)
      throw new CertificateRejected("OCSP_UNREACHABLE", `revocation of certificate ${cert.serialNumber} cannot be checked: ${e.message}`);
    throw e;
  }
  if (status.status === "revoked")
    throw new CertificateRejected("REVOKED", `certificate ${cert.serialNumber} is revoked (${status.reason}) since ${status.revokedAt.toISOString()}`);
  if (status.status !== "good") throw new CertificateRejected("OCSP_UNKNOWN", `OCSP does not know certificate ${cert.serialNumber}`);
}

/**
 * What a card terminal signs with its gSMC-KT key to prove it on connect: the challenge bound to
 * the terminal and to this purpose, so the proof is no signature over data of the caller's choosing.
 */
export function ktConnectMessage(ctId: string, challenge: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`tigw.kt.connect.v1\0${ctId}\0`, "utf8"), challenge]);
}
