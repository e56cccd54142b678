import { DomainError, type Decider } from "@tigw/platform";

/**
 * A certificate the test PKI issued: its stream records issuance and revocation (Sperrung).
 * The certificate itself is public and travels in the event; its private key does not (the
 * event names it by key reference only).
 */
/** box: a practice's VPN box (id = the box id of the Zugangsmodul). */
export type CertificateOwner = { kind: "ca" | "unit" | "card" | "box"; id: string };

export interface CertificateState {
  exists: boolean;
  serialHex: string;
  ca: string;
  pem: string;
  keyRef: string;
  iccsn: string;
  notBefore: string;
  notAfter: string;
  owner: CertificateOwner;
  revoked: { at: string; reason: string } | null;
}

export type CertificateCommand =
  | {
      type: "RecordIssued";
      serialHex: string;
      ca: string;
      pem: string;
      keyRef: string;
      iccsn: string;
      notBefore: string;
      notAfter: string;
      owner: CertificateOwner;
      at: string;
    }
  | { type: "Revoke"; reason: string; at: string };

export type CertificateEvent =
  | {
      type: "CertificateIssued";
      data: {
        serialHex: string;
        ca: string;
        pem: string;
        keyRef: string;
        iccsn: string;
        notBefore: string;
        notAfter: string;
        owner: CertificateOwner;
        at: string;
      };
    }
  | { type: "CertificateRevoked"; data: { serialHex: string; reason: string; at: string } };

export const REVOCATION_REASONS = ["unspecified", "keyCompromise", "superseded", "cessationOfOperation", "certificateHold"] as const;

export const initialCertificate = (): CertificateState => ({
  exists: false,
  serialHex: "",
  ca: "",
  pem: "",
  keyRef: "",
  iccsn: "",
  notBefore: "",
  notAfter: "",
  owner: { kind: "card", id: "" },
  revoked: null,
});

export const certificateDecider: Decider<CertificateState, CertificateCommand, CertificateEvent> = {
  initialState: initialCertificate,
  decide(c, s) {
    if (c.type === "RecordIssued") {
      if (s.exists) throw new DomainError("CERTIFICATE_EXISTS", `certificate ${c.serialHex} exists`);
      const { type: _t, ...data } = c;
      return [{ type: "CertificateIssued", data }];
    }
    if (!s.exists) throw new DomainError("CERTIFICATE_NOT_FOUND", "no such certificate", { field: "certSerial" });
    if (!(REVOCATION_REASONS as readonly string[]).includes(c.reason)) {
      throw new DomainError("INVALID_REVOCATION_REASON", `reason must be one of ${REVOCATION_REASONS.join(", ")}`, { field: "reason" });
    }
    if (s.revoked) return [];
    return [{ type: "CertificateRevoked", data: { serialHex: s.serialHex, reason: c.reason, at: c.at } }];
  },
  evolve(s, e) {
    if (e.type === "CertificateIssued") return { ...s, exists: true, ...e.data };
    return { ...s, revoked: { at: e.data.at, reason: e.data.reason } };
  },
};
