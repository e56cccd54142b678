import { CONTRACT_TI_SIS, REGISTERED, type RegistrationState } from "./registration.js";

/**
 * THE rule of TI access, in one place (every service that needs the TI asks it through
 * VpnService.GetTiAccess): a unit reaches the TI when it is registered at the VPN-ZugD, not
 * blocked (Sperrung), every identity of its gSMC-K is within its validity and not revoked, and
 * no critical firmware update is past its deadline (the KSR's clause, as `blockers`).
 * TI access is off by default: a unit that never registered has none. SIS needs TI access, a
 * contract with SIS and the unit's wish for it. Pure.
 */
export interface GsmckIdentityFacts {
  name: string;
  notBefore: string;
  notAfter: string;
  /** good | revoked | unknown, as the TI PKI answers. */
  ocspStatus: string;
}

export interface TiAccessFacts {
  registration: RegistrationState;
  /** Undefined while hsm has not provisioned the gSMC-K yet. */
  identities: GsmckIdentityFacts[] | undefined;
  now: string;
  /**
   * Further blockers of the TI connection found elsewhere: a critical firmware update past its
   * deadline (ksr's GetTiBlockers). Each is a reason, and any one ends TI access.
   */
  blockers?: string[];
}

export interface TiAccessVerdict {
  tiAccess: boolean;
  sisAccess: boolean;
  reasons: string[];
}

export function decideTiAccess(f: TiAccessFacts): TiAccessVerdict {
  const r = f.registration;
  const reasons: string[] = [];
  if (r.blocked) reasons.push(`blocked at the VPN-ZugD (Sperrung${r.blockedReason ? `: ${r.blockedReason}` : ""})`);
  if (r.status !== REGISTERED)
    reasons.push(`not registered at the VPN-ZugD${r.lastResult && r.lastResult !== "OK" ? ` (last attempt: ${r.lastResult} ${r.lastMessage})` : ""}`);
  if (!f.identities) reasons.push("the gSMC-K is not provisioned yet");
  for (const id of f.identities ?? []) {
    if (f.now >= id.notAfter) reasons.push(`gSMC-K ${id.name} expired on ${id.notAfter.slice(0, 10)}`);
    else if (f.now < id.notBefore) reasons.push(`gSMC-K ${id.name} not valid before ${id.notBefore.slice(0, 10)}`);
    if (id.ocspStatus === "revoked") reasons.push(`gSMC-K ${id.name} revoked`);
  }
  reasons.push(...(f.blockers ?? []));
  const tiAccess = reasons.length === 0;
  return { tiAccess, sisAccess: tiAccess && r.contractStatus === CONTRACT_TI_SIS && r.sisRequested, reasons };
}
