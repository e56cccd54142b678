/**
 * The functional check of a unit after setup or an exchange (the checklist of seed 001/004:
 * TI access, certificates, terminals, SM-B, a working read): what a technician needs to see
 * before leaving a practice. Pure: the controller gathers the facts from the services.
 */
export type CheckStatus = "ok" | "warning" | "error";

export interface CheckItem {
  check: string;
  status: CheckStatus;
  detail: string;
}

export interface UnitFacts {
  unit: { serial: string; state: string; computeUnits: { index: number; ktsUsed: number; ktsLimit: number }[] };
  /** The VPN-ZugD registration and vpn's TI-access rule (undefined: vpn could not be asked). */
  vpn?: { registrationStatus: string; contractStatus: string; blocked: boolean; tiAccess: boolean; reasons: string[]; tiTunnel: string };
  /** Undefined while hsm still provisions the gSMC-K. */
  securityModule?: { tiAccess: boolean; identities: { name: string; daysToExpiry: number }[] };
  mandanten: string[];
  terminals: { ctId: string; correlation: string; connected: boolean }[];
  /** Managed SM-B (ICCSN) per Mandant, from the Infomodell. */
  smbs: Record<string, string[]>;
  /** Inserted SMC-B and HBA with their PIN state. */
  smcCards: { iccsn: string; ctId: string; pin: string }[];
  /** The Ablaufprotokoll of the last 24 hours. */
  reads: { outcome: string; result: number; code: string }[];
}

/** Replace or extend (LZV) at least three months before the gSMC-K expires (seed 003). */
const EXPIRY_WARNING_DAYS = 90;

const item = (check: string, status: CheckStatus, detail: string): CheckItem => ({ check, status, detail });

function unitState(f: UnitFacts): CheckItem {
  if (f.unit.state === "active") return item("unit state", "ok", "active");
  if (f.unit.state === "provisioned") return item("unit state", "warning", `provisioned, not yet active: tigw unit activate ${f.unit.serial}`);
  return item("unit state", "error", `${f.unit.state}: practices cannot work with this unit`);
}

function tiAccess(f: UnitFacts): CheckItem {
  const sm = f.securityModule;
  if (!sm) return item("TI access (gSMC-K)", "error", "no security module yet (hsm is provisioning it)");
  if (!sm.tiAccess) return item("TI access (gSMC-K)", "error", "no TI access: C.NK.VPN expired or revoked (Sperrung)");
  const days = Math.min(...sm.identities.map((i) => i.daysToExpiry));
  if (days < EXPIRY_WARNING_DAYS) return item("TI access (gSMC-K)", "warning", `certificates expire in ${days} days: plan the LZV or the exchange now`);
  return item("TI access (gSMC-K)", "ok", `certificates valid for ${days} more days`);
}

function vpnZugd(f: UnitFacts): CheckItem {
  const v = f.vpn;
  const name = "TI access (VPN-ZugD)";
  if (!v) return item(name, "warning", "the vpn service could not be asked");
  if (v.blocked) return item(name, "error", `blocked at the VPN-ZugD (Sperrung): ${v.reasons.join("; ")}`);
  if (!v.tiAccess) return item(name, "error", `no TI access: ${v.reasons.join("; ")} (tigw vpn register ${f.unit.serial} --contract-id C)`);
  if (v.tiTunnel !== "up") return item(name, "warning", "registered, but the TI tunnel is down (no heartbeat from the VPN-ZugD)");
  return item(name, "ok", `${v.registrationStatus}, ${v.contractStatus}, TI tunnel up`);
}

function ktSlots(f: UnitFacts): CheckItem {
  const full = f.unit.computeUnits.filter((c) => c.ktsLimit > 0 && c.ktsUsed / c.ktsLimit >= 0.9);
  const used = f.unit.computeUnits.map((c) => `${c.ktsUsed}/${c.ktsLimit}`).join(", ");
  if (full.length) return item("KT slots", "warning", `nearly used up (${used}): further pairings will be refused with KT_LIMIT_REACHED`);
  return item("KT slots", "ok", `used ${used}`);
}

function terminals(f: UnitFacts): CheckItem {
  const paired = f.terminals.filter((t) => ["gepairt", "aktiv", "aktualisierend"].includes(t.correlation));
  if (paired.length === 0) return item("card terminals", "warning", "no terminal is paired: no card can be read");
  const silent = paired.filter((t) => !t.connected).map((t) => t.ctId);
  if (silent.length === paired.length) return item("card terminals", "error", `none of the ${paired.length} paired terminals is connected`);
  if (silent.length)
    return item("card terminals", "warning", `${paired.length - silent.length} of ${paired.length} connected; not connected: ${silent.join(", ")}`);
  return item("card terminals", "ok", `${paired.length} paired and connected`);
}

function smb(f: UnitFacts, mandant: string): CheckItem {
  const name = `SM-B of ${mandant}`;
  const managed = f.smbs[mandant] ?? [];
  if (managed.length === 0) return item(name, "warning", "no SM-B managed in the Infomodell: ReadVSD answers 4009 (tigw infomodell UNIT smb)");
  const inserted = f.smcCards.filter((c) => managed.includes(c.iccsn));
  if (inserted.length === 0) return item(name, "warning", "its SMC-B is not inserted in any terminal");
  if (!inserted.some((c) => c.pin === "VERIFIED"))
    return item(name, "warning", `the SMC-B in ${inserted[0]!.ctId} is not unlocked: ReadVSD answers 3041 until its PIN is verified`);
  return item(name, "ok", `inserted and unlocked in ${inserted.find((c) => c.pin === "VERIFIED")!.ctId}`);
}

function vsdm(f: UnitFacts): CheckItem {
  const n = f.reads.length;
  if (n === 0) return item("VSDM (last 24 h)", "ok", "no reads yet: read the Prüfkarte eGK to prove the whole path");
  const errors = f.reads.filter((r) => r.outcome === "error").length;
  const impossible = f.reads.filter((r) => r.result === 5 || r.result === 6).length;
  const summary = `${n} reads, ${errors} refused, ${impossible} without online check`;
  if (errors / n > 0.2) {
    const codes = [...new Set(f.reads.filter((r) => r.outcome === "error").map((r) => r.code))].join(", ");
    return item("VSDM (last 24 h)", "warning", `${summary}; codes ${codes} (tigw vsd log UNIT --outcome error)`);
  }
  if (impossible / n > 0.5) return item("VSDM (last 24 h)", "warning", `${summary}: the Fachdienst or the OCSP responder is not reachable`);
  return item("VSDM (last 24 h)", "ok", summary);
}

const RANK: Record<CheckStatus, number> = { ok: 0, warning: 1, error: 2 };

export function checkUnit(f: UnitFacts): { status: CheckStatus; checks: CheckItem[] } {
  const checks = [unitState(f), tiAccess(f), vpnZugd(f), ktSlots(f), terminals(f), ...f.mandanten.map((m) => smb(f, m)), vsdm(f)];
  const status = checks.reduce<CheckStatus>((worst, c) => (RANK[c.status] > RANK[worst] ? c.status : worst), "ok");
  return { status, checks };
}
