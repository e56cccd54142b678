import type { InsuredPerson } from "../population/insured.js";
import type { FachdienstAnswer } from "./fachdienst.js";
import type { PruefungsErgebnis } from "./pruefungsnachweis.js";

/** The facts a ReadVSD has gathered before deciding its answer. */
export interface ReadFacts {
  person: InsuredPerson;
  performOnlineCheck: boolean;
  /** OCSP status of the eGK's C.CH.AUT: good, revoked, unknown; "unreachable" when OCSP could not be asked. */
  autCertificate: "good" | "revoked" | "expired" | "unknown" | "unreachable";
  /** The Fachdienst's answer (online check only). */
  fachdienst?: FachdienstAnswer;
  /** Days since the last successful online check of this card (for result 6). */
  daysOffline: number;
  /** The unit's maximum offline period in days (gemSpec: configurable). */
  maxOfflineDays: number;
  /** The unit's TI access (vpn's rule); false: no tunnel, so Fachdienst and OCSP are out of reach. */
  tiAccess?: boolean;
}

/** What ReadVSD answers: VSD with an optional Prüfungsnachweis, or a fault with a gematik code. */
export type ReadOutcome =
  | { kind: "vsd"; result?: PruefungsErgebnis; errorCode?: number; pruefziffer?: Buffer; updated: boolean; person: InsuredPerson }
  | { kind: "fault"; code: number; message: string; result?: PruefungsErgebnis };

/**
 * The decisions of the VSDM Fachmodul after card access worked (gemSpec_SST_PS_VSDM, DOMAIN.md):
 * outdated generation 113, blocked health application 114, inconsistent VSD 3001, invalid AUT certificate 106 (online)
 * or 107 (offline) with result 4, online check results 1 (updated), 2 (no update), 3 (not
 * possible: Prüfkarte, UFS error code in EC), 5 (online check impossible) or 6 (as 3, maximum
 * offline period exceeded). Pure.
 */
export function decideRead(f: ReadFacts): ReadOutcome {
  const p = f.person;
  if (p.card.generation === "G1") return { kind: "fault", code: 113, message: "the eGK generation is outdated (older than G1+)" };
  if (p.card.healthApplicationBlocked) return { kind: "fault", code: 114, message: "the health application (Gesundheitsanwendung) on the eGK is blocked" };
  if (p.card.vsdInconsistent) return { kind: "fault", code: 3001, message: "the VSD on the eGK are inconsistent; read the card again" };
  if (f.autCertificate === "revoked" || f.autCertificate === "expired") {
    return {
      kind: "fault",
      code: f.performOnlineCheck ? 106 : 107,
      message: `the eGK's authentication certificate C.CH.AUT is ${f.autCertificate}`,
      result: 4,
    };
  }
  if (!f.performOnlineCheck) return { kind: "vsd", updated: false, person: p };
  // Without TI access the online check cannot happen at all, as at a Konnektor without tunnel.
  if (f.tiAccess === false) return { kind: "vsd", result: f.daysOffline > f.maxOfflineDays ? 6 : 5, updated: false, person: p };
  const impossible = (errorCode?: number): ReadOutcome => ({
    kind: "vsd",
    result: f.daysOffline > f.maxOfflineDays ? 6 : 3,
    errorCode,
    updated: false,
    person: p,
  });
  if (f.autCertificate === "unreachable" || f.autCertificate === "unknown") return { kind: "vsd", result: 5, updated: false, person: p };
  const a = f.fachdienst;
  if (!a || a.kind === "unreachable") return { kind: "vsd", result: f.daysOffline > f.maxOfflineDays ? 6 : 5, updated: false, person: p };
  if (a.kind === "error") return impossible(a.code);
  if (a.kind === "update") return { kind: "vsd", result: 1, pruefziffer: a.pruefziffer, updated: true, person: { ...p, ...a.changes } };
  return { kind: "vsd", result: 2, pruefziffer: a.pruefziffer, updated: false, person: p };
}
