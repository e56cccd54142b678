import { createHash, randomBytes, sign, X509Certificate, type KeyObject } from "node:crypto";
import { AsnConvert, OctetString } from "@peculiar/asn1-schema";
import {
  AccessDescription,
  AlgorithmIdentifier,
  AttributeTypeAndValue,
  AttributeValue,
  AuthorityInfoAccessSyntax,
  AuthorityKeyIdentifier,
  BasicConstraints,
  Certificate,
  CertificatePolicies,
  Extension,
  Extensions,
  GeneralName,
  id_ad_ocsp,
  id_ce_authorityKeyIdentifier,
  id_ce_basicConstraints,
  id_ce_certificatePolicies,
  id_ce_extKeyUsage,
  id_ce_subjectAltName,
  ExtendedKeyUsage,
  id_kp_serverAuth,
  SubjectAlternativeName,
  id_ce_keyUsage,
  id_ce_subjectKeyIdentifier,
  id_pe_authorityInfoAccess,
  KeyIdentifier,
  KeyUsage,
  KeyUsageFlags,
  Name,
  PolicyInformation,
  RelativeDistinguishedName,
  SubjectKeyIdentifier,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
} from "@peculiar/asn1-x509";

/** The key types of the TI: ECC on brainpoolP256r1 and RSA 2048. */
export type KeyType = "ecc" | "rsa";

export const OID = {
  country: "2.5.4.6",
  organization: "2.5.4.10",
  organizationalUnit: "2.5.4.11",
  commonName: "2.5.4.3",
  /** Holds the ICCSN of the card the certificate belongs to. */
  serialNumber: "2.5.4.5",
  sha256WithRSA: "1.2.840.113549.1.1.11",
  ecdsaWithSHA256: "1.2.840.10045.4.3.2",
} as const;

export interface NameSpec {
  cn: string;
  o?: string;
  ou?: string;
  /** ICCSN of the card (20 digits), as the subject's serialNumber attribute. */
  iccsn?: string;
}

function rdn(type: string, value: AttributeValue): RelativeDistinguishedName {
  return new RelativeDistinguishedName([new AttributeTypeAndValue({ type, value })]);
}

export function buildName(n: NameSpec): Name {
  const rdns = [rdn(OID.country, new AttributeValue({ printableString: "DE" }))];
  if (n.o) rdns.push(rdn(OID.organization, new AttributeValue({ utf8String: n.o })));
  if (n.ou) rdns.push(rdn(OID.organizationalUnit, new AttributeValue({ utf8String: n.ou })));
  rdns.push(rdn(OID.commonName, new AttributeValue({ utf8String: n.cn })));
  if (n.iccsn) rdns.push(rdn(OID.serialNumber, new AttributeValue({ printableString: n.iccsn })));
  return new Name(rdns);
}

export function keyTypeOf(key: KeyObject): KeyType {
  if (key.asymmetricKeyType === "rsa") return "rsa";
  if (key.asymmetricKeyType === "ec") return "ecc";
  throw new Error(`unsupported key type ${key.asymmetricKeyType ?? "?"}`);
}

export function signatureAlgorithm(signer: KeyObject): AlgorithmIdentifier {
  return keyTypeOf(signer) === "rsa"
    ? new AlgorithmIdentifier({ algorithm: OID.sha256WithRSA, parameters: null })
    : new AlgorithmIdentifier({ algorithm: OID.ecdsaWithSHA256 });
}

/** SHA-256 with RSA PKCS#1 v1.5 or ECDSA (DER signature), as X.509 and OCSP expect. */
export const signDer = (data: Buffer, key: KeyObject): ArrayBuffer => new Uint8Array(sign("sha256", data, key)).buffer;

export function spkiOf(publicKey: KeyObject): SubjectPublicKeyInfo {
  return AsnConvert.parse(publicKey.export({ type: "spki", format: "der" }), SubjectPublicKeyInfo);
}

/**
 * Remembers a derived value by the SHA-256 of the DER it comes from: every OCSP request and answer
 * needs the hashes of the same few CAs, and parsing their ASN.1 each time cost more CPU than the
 * rest of the OCSP exchange. Bounded: emptied when full.
 */
export function memoByDer(compute: (der: Buffer) => Buffer, max = 256): (der: Buffer) => Buffer {
  const seen = new Map<string, Buffer>();
  return (der) => {
    const k = createHash("sha256").update(der).digest("base64");
    let v = seen.get(k);
    if (!v) {
      if (seen.size >= max) seen.clear();
      seen.set(k, (v = compute(der)));
    }
    return v;
  };
}

const keyHashOfSpki = memoByDer((spki) =>
  createHash("sha1")
    .update(Buffer.from(AsnConvert.parse(spki, SubjectPublicKeyInfo).subjectPublicKey))
    .digest(),
);

/** RFC 5280 method 1: SHA-1 of the subjectPublicKey bits. Also the OCSP issuerKeyHash. */
export const keyHash = (publicKey: KeyObject): Buffer => keyHashOfSpki(publicKey.export({ type: "spki", format: "der" }));

const ext = (extnID: string, critical: boolean, value: unknown) => new Extension({ extnID, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });

export interface IssueRequest {
  subject: NameSpec;
  publicKey: KeyObject;
  notBefore: Date;
  notAfter: Date;
  issuer: { name: Name; privateKey: KeyObject; publicKey: KeyObject } | "self";
  /** Signs with this key when self-signed. */
  selfKey?: KeyObject;
  ca?: { pathLength?: number };
  usage: (keyof typeof KeyUsageFlags)[];
  ocspUrl?: string;
  serial?: Buffer;
  /** Certificate policy OIDs (gemSpec_OID: the certificate type, e.g. oid_smkt_aut, and oid_gem_or_cp). */
  policies?: string[];
  /** subjectAltName for a TLS server: the host names and IP addresses clients reach it by (then also extKeyUsage serverAuth). */
  altNames?: { dns: string[]; ip: string[] };
}

/** Issues an X.509 v3 certificate (DER), signed by the issuer's key with node:crypto. */
export function issueCertificate(r: IssueRequest): { der: Buffer; serialHex: string } {
  const serial = r.serial ?? randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x10; // positive and full length
  const signer = r.issuer === "self" ? r.selfKey! : r.issuer.privateKey;
  const issuerName = r.issuer === "self" ? buildName(r.subject) : r.issuer.name;
  const issuerPublic = r.issuer === "self" ? r.publicKey : r.issuer.publicKey;
  const flags = r.usage.reduce((a, u) => a | KeyUsageFlags[u], 0);
  const extensions = [
    ext(id_ce_basicConstraints, true, new BasicConstraints(r.ca ? { cA: true, pathLenConstraint: r.ca.pathLength } : { cA: false })),
    ext(id_ce_keyUsage, true, new KeyUsage(flags)),
    ext(id_ce_subjectKeyIdentifier, false, new SubjectKeyIdentifier(keyHash(r.publicKey))),
    ext(id_ce_authorityKeyIdentifier, false, new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(keyHash(issuerPublic)) })),
  ];
  if (r.policies?.length) {
    extensions.push(
      ext(id_ce_certificatePolicies, false, new CertificatePolicies(r.policies.map((policyIdentifier) => new PolicyInformation({ policyIdentifier })))),
    );
  }
  if (r.altNames) {
    const names = [...r.altNames.dns.map((dNSName) => new GeneralName({ dNSName })), ...r.altNames.ip.map((ip) => new GeneralName({ iPAddress: ip }))];
    extensions.push(ext(id_ce_subjectAltName, false, new SubjectAlternativeName(names)));
    extensions.push(ext(id_ce_extKeyUsage, false, new ExtendedKeyUsage([id_kp_serverAuth])));
  }
  if (r.ocspUrl) {
    extensions.push(
      ext(
        id_pe_authorityInfoAccess,
        false,
        new AuthorityInfoAccessSyntax([
          new AccessDescription({ accessMethod: id_ad_ocsp, accessLocation: new GeneralName({ uniformResourceIdentifier: r.ocspUrl }) }),
        ]),
      ),
    );
  }
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: new Uint8Array(serial).buffer,
    signature: signatureAlgorithm(signer),
    issuer: issuerName,
    validity: new Validity({ notBefore: r.notBefore, notAfter: r.notAfter }),
    subject: buildName(r.subject),
    subjectPublicKeyInfo: spkiOf(r.publicKey),
    extensions: new Extensions(extensions),
  });
  const tbsDer = Buffer.from(AsnConvert.serialize(tbs));
  const cert = new Certificate({ tbsCertificate: tbs, signatureAlgorithm: signatureAlgorithm(signer), signatureValue: signDer(tbsDer, signer) });
  return { der: Buffer.from(AsnConvert.serialize(cert)), serialHex: serial.toString("hex").toUpperCase() };
}

/** The certificate policy OIDs of a certificate (DER), [] when it has none. */
export function policiesOf(certDer: Buffer): string[] {
  const e = AsnConvert.parse(certDer, Certificate).tbsCertificate.extensions?.find((x) => x.extnID === id_ce_certificatePolicies);
  return e ? AsnConvert.parse(e.extnValue.buffer, CertificatePolicies).map((p) => p.policyIdentifier) : [];
}

export const toPem = (der: Buffer): string =>
  `-----BEGIN CERTIFICATE-----\n${der
    .toString("base64")
    .match(/.{1,64}/g)!
    .join("\n")}\n-----END CERTIFICATE-----\n`;

export function nameOf(certDer: Buffer): Name {
  return AsnConvert.parse(certDer, Certificate).tbsCertificate.subject;
}

export interface ParsedCertificate {
  serialHex: string;
  subject: string;
  issuer: string;
  commonName: string;
  iccsn: string;
  notBefore: string;
  notAfter: string;
  keyType: string;
  curve: string;
  fingerprint256: string;
}

/** The facts of a certificate an operator or a service needs, read with node:crypto. */
export function parseCertificate(pem: string): ParsedCertificate {
  const x = new X509Certificate(pem);
  const field = (dn: string, key: string) =>
    dn
      .split("\n")
      .find((l) => l.startsWith(`${key}=`))
      ?.slice(key.length + 1) ?? "";
  const details = x.publicKey.asymmetricKeyDetails ?? {};
  return {
    serialHex: x.serialNumber.toUpperCase(),
    subject: x.subject.replaceAll("\n", ", "),
    issuer: x.issuer.replaceAll("\n", ", "),
    commonName: field(x.subject, "CN"),
    iccsn: field(x.subject, "serialNumber"),
    notBefore: new Date(x.validFrom).toISOString(),
    notAfter: new Date(x.validTo).toISOString(),
    keyType: x.publicKey.asymmetricKeyType === "rsa" ? `RSA ${details.modulusLength ?? ""}`.trim() : `ECC ${details.namedCurve ?? ""}`.trim(),
    curve: details.namedCurve ?? "",
    fingerprint256: x.fingerprint256,
  };
}
