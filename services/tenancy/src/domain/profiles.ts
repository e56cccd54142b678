import { readFileSync } from "node:fs";

/**
 * A product profile: the vendor figures of a Konnektor product (seed 000). Units take a copy of
 * their profile's figures when they are created, so changing the catalogue never rewrites a
 * unit's history. A new profile is a data change: add it here or in TIGW_PROFILES_FILE.
 */
export interface Profile {
  name: string;
  description: string;
  /** Recheneinheiten: a Rechenzentrumskonnektor has 2, an Einboxkonnektor 1. */
  computeUnits: number;
  /** The base licence: KTs per compute unit (raised by an imported licence file). */
  ktPerComputeUnit: number;
  recommendedKts: number;
  /** BTRS (Mandanten) per unit. */
  maxMandanten: number;
  /** Firmware a new unit ships with unless told otherwise. */
  firmware: string;
}

export const DEFAULT_PROFILES: readonly Profile[] = [
  {
    name: "rz",
    description: "Rechenzentrumskonnektor: 2 compute units, licence 50 KTs each (100), up to 10 BTRS",
    computeUnits: 2,
    ktPerComputeUnit: 50,
    recommendedKts: 50,
    maxMandanten: 10,
    firmware: "5.50.4:2.0.0",
  },
  {
    name: "einbox",
    description: "Einboxkonnektor: 1 compute unit, licence 50 KTs, 25 recommended, up to 10 BTRS",
    computeUnits: 1,
    ktPerComputeUnit: 50,
    recommendedKts: 25,
    maxMandanten: 10,
    firmware: "5.50.4:2.0.0",
  },
];

/** The default catalogue plus the profiles of a JSON file (an array of Profile), which win by name. */
export function loadProfiles(file?: string): Profile[] {
  const byName = new Map(DEFAULT_PROFILES.map((p) => [p.name, p]));
  if (file) {
    const extra = JSON.parse(readFileSync(file, "utf8")) as Profile[];
    if (!Array.isArray(extra)) throw new Error(`${file}: expected a JSON array of profiles`);
    for (const p of extra) {
      for (const k of ["computeUnits", "ktPerComputeUnit", "recommendedKts", "maxMandanten"] as const) {
        if (!Number.isInteger(p[k]) || p[k] < 1) throw new Error(`${file}: profile "${p.name}": ${k} must be a positive integer`);
      }
      byName.set(p.name, p);
    }
  }
  return [...byName.values()];
}
