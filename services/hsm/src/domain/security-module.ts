import { DomainError, type Decider } from "@tigw/platform";

/**
 * SecurityModule: the gSMC-K of one unit. Its identities carry certificates valid 5 years from
 * the unit's production date; the decider announces the approach of their expiry (180, 90, 30
 * days), their expiry, the loss of TI access when C.NK.VPN is gone, and decides on LZV
 * (Laufzeitverlängerung, gemF_Laufzeitverlängerung_gSMC-K). Time arrives with each command.
 */
export const IDENTITIES = ["C.NK.VPN", "C.AK.AUT", "C.SAK.AUT"] as const;
export type IdentityName = (typeof IDENTITIES)[number];
export const WARNING_MARKS = [180, 90, 30] as const;
/** LZV: certificates issued before this date can be extended ... */
export const LZV_ISSUED_BEFORE = "2021-01-01T00:00:00.000Z";
/** ... until the end of 2025. */
export const LZV_UNTIL = "2025-12-31T23:59:59.000Z";
/** LZV starts this many days before C.NK.VPN expires and is retried daily. */
export const LZV_WINDOW_DAYS = 180;
/** Seeds 001/003: exchange the unit at least 3 months before the gSMC-K expires. */
export const EXCHANGE_DAYS = 90;
const DAY = 86_400_000;

export interface IdentityState {
  name: IdentityName;
  certSerial: string;
  keyRef: string;
  notBefore: string;
  notAfter: string;
  marks: number[];
  expired: boolean;
  revoked: boolean;
  extendedByLzv: boolean;
}

export interface SecurityModuleState {
  exists: boolean;
  unitId: string;
  serial: string;
  iccsn: string;
  lzvLicensed: boolean;
  identities: Record<string, IdentityState>;
  tiAccess: boolean;
  lzvLastAttempt: string;
  lzvLastOutcome: string;
}

export interface IdentitySpec {
  name: IdentityName;
  certSerial: string;
  keyRef: string;
  notBefore: string;
  notAfter: string;
}

/** What the application learnt about a renewed certificate before asking the decider. */
export interface Renewal {
  name: IdentityName;
  certSerial: string;
  notBefore: string;
  notAfter: string;
  iccsn: string;
  keyMatches: boolean;
  ocspRevoked: boolean;
}

export type SecurityModuleCommand =
  | { type: "Provision"; unitId: string; serial: string; iccsn: string; identities: IdentitySpec[]; at: string }
  | { type: "RecordLicence"; features: string[]; at: string }
  | { type: "Tick"; at: string }
  | { type: "RecordLzvFailure"; code: string; reason: string; at: string }
  | { type: "CompleteLzv"; renewals: Renewal[]; at: string }
  | { type: "RecordRevocation"; reason: string; at: string };

export type SecurityModuleEvent =
  | { type: "SecurityModuleProvisioned"; data: { unitId: string; serial: string; iccsn: string; identities: IdentitySpec[]; at: string } }
  | { type: "LzvLicenceChanged"; data: { unitId: string; licensed: boolean; at: string } }
  | {
      type: "CertificateExpiryApproaching";
      data: { unitId: string; identity: IdentityName; daysBefore: number; daysLeft: number; notAfter: string; at: string };
    }
  | { type: "CertificateExpired"; data: { unitId: string; identity: IdentityName; notAfter: string; at: string } }
  | { type: "TiAccessLost"; data: { unitId: string; reason: string; at: string } }
  | {
      type: "LzvSucceeded";
      data: { unitId: string; renewals: { name: IdentityName; certSerial: string; previousCertSerial: string; notAfter: string }[]; at: string };
    }
  | { type: "LzvFailed"; data: { unitId: string; code: string; reason: string; at: string } }
  | { type: "SecurityModuleRevoked"; data: { unitId: string; reason: string; certSerials: string[]; at: string } };

export const initialSecurityModule = (): SecurityModuleState => ({
  exists: false,
  unitId: "",
  serial: "",
  iccsn: "",
  lzvLicensed: false,
  identities: {},
  tiAccess: false,
  lzvLastAttempt: "",
  lzvLastOutcome: "",
});

export const daysLeft = (notAfter: string, now: string): number => Math.floor((Date.parse(notAfter) - Date.parse(now)) / DAY);

/** Why LZV cannot start now (a code and a reason), or undefined when it may. Pure. */
export function lzvBlocker(s: SecurityModuleState, now: string): { code: string; reason: string } | undefined {
  const vpn = s.identities["C.NK.VPN"];
  if (!vpn) return { code: "SECURITY_MODULE_NOT_FOUND", reason: "no gSMC-K identities" };
  if (vpn.revoked) return { code: "LZV_CERT_REVOKED", reason: "the gSMC-K certificates are revoked" };
  if (vpn.extendedByLzv) return { code: "LZV_ALREADY_EXTENDED", reason: "the certificates were extended by LZV already" };
  if (vpn.notBefore >= LZV_ISSUED_BEFORE)
    return { code: "LZV_NOT_ELIGIBLE", reason: `certificates issued ${vpn.notBefore.slice(0, 10)}, LZV covers only those issued before 2021-01-01` };
  if (!s.lzvLicensed) return { code: "LZV_NOT_LICENSED", reason: "the unit's licence does not carry the LZV feature" };
  if (now >= vpn.notAfter) return { code: "LZV_EXPIRED", reason: `C.NK.VPN expired ${vpn.notAfter.slice(0, 10)}` };
  const left = daysLeft(vpn.notAfter, now);
  if (left > LZV_WINDOW_DAYS) return { code: "LZV_TOO_EARLY", reason: `LZV starts ${LZV_WINDOW_DAYS} days before expiry; ${left} days left` };
  return undefined;
}

function decide(c: SecurityModuleCommand, s: SecurityModuleState): SecurityModuleEvent[] {
  if (c.type === "Provision") {
    if (s.exists) return [];
    const provisioned: SecurityModuleEvent = {
      type: "SecurityModuleProvisioned",
      data: { unitId: c.unitId, serial: c.serial, iccsn: c.iccsn, identities: c.identities, at: c.at },
    };
    // Marks already crossed (an old unit) are announced with the provisioning, in the same append.
    return [provisioned, ...decide({ type: "Tick", at: c.at }, evolve(s, provisioned))];
  }
  if (!s.exists) throw new DomainError("SECURITY_MODULE_NOT_FOUND", "no security module for this unit (yet)", { field: "unit" });
  const unitId = s.unitId;
  switch (c.type) {
    case "RecordLicence": {
      const licensed = c.features.includes("LZV");
      return licensed === s.lzvLicensed ? [] : [{ type: "LzvLicenceChanged", data: { unitId, licensed, at: c.at } }];
    }
    case "Tick": {
      const out: SecurityModuleEvent[] = [];
      for (const id of Object.values(s.identities)) {
        if (id.revoked || id.expired) continue;
        if (c.at >= id.notAfter) {
          out.push({ type: "CertificateExpired", data: { unitId, identity: id.name, notAfter: id.notAfter, at: c.at } });
          if (id.name === "C.NK.VPN" && s.tiAccess) out.push({ type: "TiAccessLost", data: { unitId, reason: "C.NK.VPN expired", at: c.at } });
          continue;
        }
        const left = daysLeft(id.notAfter, c.at);
        for (const mark of WARNING_MARKS) {
          if (left <= mark && !id.marks.includes(mark)) {
            out.push({
              type: "CertificateExpiryApproaching",
              data: { unitId, identity: id.name, daysBefore: mark, daysLeft: left, notAfter: id.notAfter, at: c.at },
            });
          }
        }
      }
      return out;
    }
    case "RecordLzvFailure":
      return [{ type: "LzvFailed", data: { unitId, code: c.code, reason: c.reason, at: c.at } }];
    case "CompleteLzv": {
      const blocker = lzvBlocker(s, c.at);
      const fail = (code: string, reason: string): SecurityModuleEvent[] => [{ type: "LzvFailed", data: { unitId, code, reason, at: c.at } }];
      if (blocker) return fail(blocker.code, blocker.reason);
      for (const name of IDENTITIES) {
        const r = c.renewals.find((x) => x.name === name);
        const old = s.identities[name]!;
        if (!r) return fail("LZV_INCOMPLETE", `no renewed certificate for ${name}`);
        if (r.iccsn !== s.iccsn) return fail("LZV_ICCSN_MISMATCH", `${name}: renewed certificate names ICCSN ${r.iccsn}, the gSMC-K is ${s.iccsn}`);
        if (r.notAfter <= old.notAfter)
          return fail("LZV_EXPIRY_NOT_LATER", `${name}: renewed certificate expires ${r.notAfter.slice(0, 10)}, not later than ${old.notAfter.slice(0, 10)}`);
        if (!r.keyMatches) return fail("LZV_KEY_MISMATCH", `${name}: renewed certificate is not for the gSMC-K's key`);
        if (r.ocspRevoked) return fail("LZV_CERT_REVOKED", `${name}: OCSP says the renewed certificate is revoked`);
      }
      const renewals = IDENTITIES.map((name) => {
        const r = c.renewals.find((x) => x.name === name)!;
        return { name, certSerial: r.certSerial, previousCertSerial: s.identities[name]!.certSerial, notAfter: r.notAfter };
      });
      return [{ type: "LzvSucceeded", data: { unitId, renewals, at: c.at } }];
    }
    case "RecordRevocation": {
      const live = Object.values(s.identities).filter((i) => !i.revoked);
      if (live.length === 0) return [];
      const out: SecurityModuleEvent[] = [
        { type: "SecurityModuleRevoked", data: { unitId, reason: c.reason, certSerials: live.map((i) => i.certSerial), at: c.at } },
      ];
      if (s.tiAccess) out.push({ type: "TiAccessLost", data: { unitId, reason: "gSMC-K certificates revoked", at: c.at } });
      return out;
    }
  }
}

function mapIdentities(s: SecurityModuleState, f: (i: IdentityState) => IdentityState): Record<string, IdentityState> {
  return Object.fromEntries(Object.entries(s.identities).map(([k, v]) => [k, f(v)]));
}

function evolve(s: SecurityModuleState, e: SecurityModuleEvent): SecurityModuleState {
  switch (e.type) {
    case "SecurityModuleProvisioned": {
      const d = e.data;
      const identities = Object.fromEntries(d.identities.map((i) => [i.name, { ...i, marks: [], expired: false, revoked: false, extendedByLzv: false }]));
      return { ...s, exists: true, unitId: d.unitId, serial: d.serial, iccsn: d.iccsn, identities, tiAccess: true };
    }
    case "LzvLicenceChanged":
      return { ...s, lzvLicensed: e.data.licensed };
    case "CertificateExpiryApproaching":
      return { ...s, identities: mapIdentities(s, (i) => (i.name === e.data.identity ? { ...i, marks: [...i.marks, e.data.daysBefore] } : i)) };
    case "CertificateExpired":
      return { ...s, identities: mapIdentities(s, (i) => (i.name === e.data.identity ? { ...i, expired: true } : i)) };
    case "TiAccessLost":
      return { ...s, tiAccess: false };
    case "LzvFailed":
      return { ...s, lzvLastAttempt: e.data.at, lzvLastOutcome: e.data.code };
    case "LzvSucceeded": {
      const byName = new Map(e.data.renewals.map((r) => [r.name, r]));
      return {
        ...s,
        lzvLastAttempt: e.data.at,
        lzvLastOutcome: "SUCCESS",
        // The new expiry gets its own warnings.
        identities: mapIdentities(s, (i) =>
          byName.has(i.name) ? { ...i, certSerial: byName.get(i.name)!.certSerial, notAfter: byName.get(i.name)!.notAfter, marks: [], extendedByLzv: true } : i,
        ),
      };
    }
    case "SecurityModuleRevoked":
      return { ...s, identities: mapIdentities(s, (i) => ({ ...i, revoked: true })) };
  }
}

export const securityModuleDecider: Decider<SecurityModuleState, SecurityModuleCommand, SecurityModuleEvent> = {
  decide,
  evolve,
  initialState: initialSecurityModule,
};
