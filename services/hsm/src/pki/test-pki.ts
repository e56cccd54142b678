import { createPublicKey, generateKeyPairSync, randomUUID, X509Certificate, type KeyObject } from "node:crypto";
import { ANY, CommandHandler, DomainError, NO_STREAM, VersionConflictError, type Clock, type SqlEventStore } from "@tigw/platform";
import { certificateDecider, type CertificateOwner, type CertificateState } from "../domain/certificate.js";
import type { KeyVault } from "../vault.js";
import { OID_GEM_OR_CP, PROFILES, type CaKind, type ProfileName } from "./card-certificates.js";
import { answerOcsp, type OcspIssuer, type OcspStatus } from "./ocsp.js";
import { issueCertificate, nameOf, toPem, type KeyType, type NameSpec } from "./x509.js";

/**
 * Sub-CAs of the test TI PKI, as in the TI: components (Konnektor, KT), SMC-B, HBA, eGK; and the
 * TI-Gateway's VPN-box CA (created on the first start that knows it, beside the older ones).
 */
export const CA_KINDS: readonly CaKind[] = ["KOMP", "SMCB", "HBA", "EGK", "VPNBOX"];
export const KEY_TYPES: readonly KeyType[] = ["ecc", "rsa"];

interface Ca {
  name: string;
  certDer: Buffer;
  pem: string;
  serialHex: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export function generateKey(keyType: KeyType): { privateKey: KeyObject; publicKey: KeyObject } {
  return keyType === "rsa" ? generateKeyPairSync("rsa", { modulusLength: 2048 }) : generateKeyPairSync("ec", { namedCurve: "brainpoolP256r1" });
}

const rootName = (kt: KeyType) => `GEM.RCA-TIGW-TEST-${kt.toUpperCase()}`;
const subName = (kind: CaKind, kt: KeyType) => `GEM.${kind}-CA-TIGW-TEST-${kt.toUpperCase()}`;
const certStream = (serialHex: string) => `cert-${serialHex}`;
const caStream = (name: string) => `ca-${name}`;
const cardStream = (iccsn: string) => `card-${iccsn}`;

/** The CertRefs of a card's certificates besides C.AUT (CertificateService). */
export type FurtherCertRef = "C.ENC" | "C.SIG" | "C.QES";

export interface IssueLeaf {
  /** The certificate type: decides the issuing sub-CA and the policy OIDs the certificate carries. */
  profile: ProfileName;
  keyType: KeyType;
  subject: NameSpec;
  notBefore: Date;
  notAfter: Date;
  owner: CertificateOwner;
  usage?: ("digitalSignature" | "keyEncipherment" | "keyAgreement" | "nonRepudiation")[];
  /** Certify an existing key (LZV keeps the keys): its vault reference. */
  keyRef?: string;
  /**
   * Certify a public key whose private key another service holds (the gateway's TLS server key of
   * a unit's SOAP endpoint): nothing goes to the vault and this key never signs in hsm.
   */
  heldOutside?: KeyObject;
  altNames?: { dns: string[]; ip: string[] };
}

export interface Issued {
  serialHex: string;
  pem: string;
  der: Buffer;
  keyRef: string;
}

/**
 * The test TI PKI: a root CA per key type (brainpoolP256r1, RSA 2048) and below each the sub-CAs
 * KOMP, SMCB, HBA and EGK. Every certificate it issues is an event (stream cert-<serial>), its
 * key goes to the vault; OCSP answers from those streams. CAs are created on first start.
 */
export class TestPki {
  private readonly cas = new Map<string, Ca>();
  private readonly certs: CommandHandler<
    CertificateState,
    Parameters<typeof certificateDecider.decide>[0],
    ReturnType<typeof certificateDecider.decide>[number]
  >;

  private constructor(
    readonly store: SqlEventStore,
    private readonly vault: KeyVault,
    private readonly clock: Clock,
    readonly ocspUrl: string,
  ) {
    this.certs = new CommandHandler(store, certificateDecider, 5, 50_000);
  }

  static async open(o: { store: SqlEventStore; vault: KeyVault; clock: Clock; ocspUrl: string }): Promise<TestPki> {
    const pki = new TestPki(o.store, o.vault, o.clock, o.ocspUrl);
    for (const kt of KEY_TYPES) {
      const root = await pki.ensureCa(rootName(kt), kt, undefined);
      for (const kind of CA_KINDS) await pki.ensureCa(subName(kind, kt), kt, root);
    }
    return pki;
  }

  /** Loads a CA, or creates it (claiming its name first, so two replicas starting at once agree). */
  private async ensureCa(name: string, kt: KeyType, parent: Ca | undefined): Promise<Ca> {
    for (;;) {
      const { events } = await this.store.readStream(caStream(name));
      const serialHex = (events[0]?.data as { serialHex?: string } | undefined)?.serialHex;
      if (serialHex) {
        const c = await this.certificate(serialHex);
        const ca: Ca = {
          name,
          certDer: new X509Certificate(c.pem).raw,
          pem: c.pem,
          serialHex,
          privateKey: await this.vault.get(c.keyRef),
          publicKey: createPublicKey(c.pem),
        };
        this.cas.set(name, ca);
        return ca;
      }
      const key = generateKey(kt);
      const { der, serialHex: serial } = issueCertificate({
        subject: { cn: name, o: "gematik GmbH - NOT-VALID (ti-gateway test PKI)" },
        publicKey: key.publicKey,
        issuer: parent ? { name: nameOf(parent.certDer), privateKey: parent.privateKey, publicKey: parent.publicKey } : "self",
        selfKey: key.privateKey,
        notBefore: new Date("2015-01-01T00:00:00Z"),
        notAfter: new Date(parent ? "2044-12-31T23:59:59Z" : "2049-12-31T23:59:59Z"),
        ca: parent ? { pathLength: 0 } : {},
        usage: ["keyCertSign", "cRLSign"],
      });
      const keyRef = `ca:${name}:${randomUUID()}`;
      await this.vault.put(keyRef, key.privateKey, `ca:${name}`);
      await this.record(
        serial,
        parent?.name ?? name,
        toPem(der),
        keyRef,
        "",
        { kind: "ca", id: name },
        new Date("2015-01-01T00:00:00Z"),
        new Date(parent ? "2044-12-31T23:59:59Z" : "2049-12-31T23:59:59Z"),
      );
      try {
        await this.store.append(caStream(name), NO_STREAM, [{ type: "CaCreated", data: { name, serialHex: serial } }], this.clock.now());
      } catch (e) {
        if (!(e instanceof VersionConflictError)) throw e; // another replica won: use its CA
      }
    }
  }

  private async record(
    serialHex: string,
    ca: string,
    pem: string,
    keyRef: string,
    iccsn: string,
    owner: CertificateOwner,
    notBefore: Date,
    notAfter: Date,
  ): Promise<void> {
    const at = this.clock.now();
    await this.certs.handle(
      certStream(serialHex),
      {
        type: "RecordIssued",
        serialHex,
        ca,
        pem,
        keyRef,
        iccsn,
        notBefore: notBefore.toISOString(),
        notAfter: notAfter.toISOString(),
        owner,
        at: at.toISOString(),
      },
      { unitId: owner.kind === "unit" ? owner.id : undefined, occurredAt: at },
    );
  }

  /** Issues a leaf certificate from a sub-CA, with a new key pair or for an existing key. */
  async issue(r: IssueLeaf): Promise<Issued> {
    const profile = PROFILES[r.profile];
    const ca = this.cas.get(subName(profile.ca, r.keyType))!;
    let keyRef = r.keyRef;
    let publicKey: KeyObject;
    if (r.heldOutside) {
      keyRef = `held-outside:${r.owner.kind}:${r.owner.id}`;
      publicKey = r.heldOutside;
    } else if (keyRef) {
      publicKey = createPublicKey(await this.vault.get(keyRef));
    } else {
      const key = generateKey(r.keyType);
      keyRef = `${r.owner.kind}:${r.owner.id}:${randomUUID()}`;
      await this.vault.put(keyRef, key.privateKey, `${r.owner.kind}:${r.owner.id}`);
      publicKey = key.publicKey;
    }
    const { der, serialHex } = issueCertificate({
      subject: r.subject,
      publicKey,
      issuer: { name: nameOf(ca.certDer), privateKey: ca.privateKey, publicKey: ca.publicKey },
      notBefore: r.notBefore,
      notAfter: r.notAfter,
      usage: r.usage ?? ["digitalSignature", "keyAgreement"],
      ocspUrl: this.ocspUrl,
      policies: [profile.oid, OID_GEM_OR_CP],
      altNames: r.altNames,
    });
    const pem = toPem(der);
    await this.record(serialHex, ca.name, pem, keyRef, r.subject.iccsn ?? "", r.owner, r.notBefore, r.notAfter);
    return { serialHex, pem, der, keyRef };
  }

  /**
   * Records which further certificates (C.ENC, C.SIG, C.QES) a card holds besides its C.AUT, in
   * the card's stream card-<ICCSN>; the newest record counts (a card issued again under its ICCSN).
   */
  async recordCardCertificates(iccsn: string, certificates: Partial<Record<FurtherCertRef, string>>): Promise<void> {
    await this.store.append(cardStream(iccsn), ANY, [{ type: "CardCertificatesIssued", data: { iccsn, certificates } }], this.clock.now());
  }

  /** The further certificates of a card by CertRef (serials); none for a card issued without them. */
  async cardCertificates(iccsn: string): Promise<Partial<Record<FurtherCertRef, string>>> {
    const { events } = await this.store.readStream(cardStream(iccsn));
    return (events[events.length - 1]?.data as { certificates?: Partial<Record<FurtherCertRef, string>> } | undefined)?.certificates ?? {};
  }

  async certificate(serialHex: string): Promise<CertificateState> {
    const { state } = await this.certs.load(certStream(serialHex.toUpperCase()));
    if (!state.exists) throw new DomainError("CERTIFICATE_NOT_FOUND", `no certificate with serial ${serialHex}`, { field: "certSerial", value: serialHex });
    return state;
  }

  async revoke(serialHex: string, reason: string): Promise<CertificateState> {
    await this.certificate(serialHex);
    const at = this.clock.now();
    return (await this.certs.handle(certStream(serialHex.toUpperCase()), { type: "Revoke", reason, at: at.toISOString() }, { occurredAt: at })).state;
  }

  /** OCSP status; with `issuedBy`, a certificate of another CA is "unknown". */
  async status(serialHex: string, issuedBy?: string): Promise<OcspStatus> {
    const { state } = await this.certs.load(certStream(serialHex.toUpperCase()));
    if (!state.exists || (issuedBy && state.ca !== issuedBy)) return { status: "unknown" };
    if (state.revoked) return { status: "revoked", revokedAt: new Date(state.revoked.at), reason: state.revoked.reason };
    return { status: "good" };
  }

  /** The CA (root or sub-CA) that issued a certificate, as a verifier needs it. */
  caOf(cert: CertificateState): { pem: string; publicKey: KeyObject; certDer: Buffer } {
    const ca = this.cas.get(cert.ca)!;
    return { pem: ca.pem, publicKey: ca.publicKey, certDer: ca.certDer };
  }

  /** The root above a sub-CA (by the sub-CA's issuer), PEM. */
  rootOf(subCaDer: Buffer): string {
    const issuer = new X509Certificate(subCaDer).issuer;
    return [...this.cas.values()].find((c) => new X509Certificate(c.certDer).subject === issuer)!.pem;
  }

  roots(): string[] {
    return KEY_TYPES.map((kt) => this.cas.get(rootName(kt))!.pem);
  }

  subCas(): string[] {
    return KEY_TYPES.flatMap((kt) => CA_KINDS.map((k) => this.cas.get(subName(k, kt))!.pem));
  }

  /** RFC 6960 over the sub-CAs (each signs the answers about its own certificates). */
  answerOcsp(requestDer: Buffer): Promise<Buffer> {
    const issuers: OcspIssuer[] = [...this.cas.values()].map((ca) => ({
      certDer: ca.certDer,
      privateKey: ca.privateKey,
      publicKey: ca.publicKey,
      status: (serial) => this.status(serial, ca.name),
    }));
    return answerOcsp(requestDer, issuers, this.clock.now());
  }
}
