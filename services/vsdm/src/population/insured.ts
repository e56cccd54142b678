import { kvnr } from "./kvnr.js";

/** eGK generations; anything older than G1+ is refused by VSDM (code 113). */
export type CardGeneration = "G1" | "G1+" | "G2" | "G2.1";

export interface Insurer {
  ik: string;
  name: string;
}

export interface InsuredPerson {
  kvnr: string;
  surname: string;
  givenName: string;
  prefix: string;
  birthDate: string; // YYYYMMDD
  sex: "M" | "W" | "D" | "X";
  street: string;
  houseNumber: string;
  postalCode: string;
  city: string;
  country: string;
  insurer: Insurer;
  coverageStart: string; // YYYYMMDD
  versichertenart: "1" | "3" | "5";
  kostenerstattung: boolean;
  wop: string; // two digits
  zuzahlungsbefreit: boolean;
  selektivvertraege: { aerztlich: number; zahnaerztlich: number; art: string };
  card: {
    generation: CardGeneration;
    iccsn: string;
    /** State of C.CH.AUT the simulators give this card. */
    certificate: "valid" | "expired" | "revoked";
    healthApplicationBlocked: boolean;
    /** The VSD containers on the card contradict each other (VSDM answers 3001: read again). */
    vsdInconsistent: boolean;
  };
  pruefkarte: boolean;
}

/** Fictitious insurers of the simulated population (not real IKs). */
export const INSURERS: readonly Insurer[] = [
  { ik: "109900001", name: "Test-AOK Nordost" },
  { ik: "109900002", name: "Test-Ersatzkasse" },
  { ik: "109900003", name: "Test-BKK Mitte" },
  { ik: "109900004", name: "Test-IKK Süd" },
  { ik: "109900005", name: "Test-Knappschaft" },
];

const SURNAMES = [
  "Müller",
  "Schmidt",
  "Schneider",
  "Fischer",
  "Weber",
  "Meyer",
  "Wagner",
  "Becker",
  "Schulz",
  "Hoffmann",
  "Koch",
  "Richter",
  "Klein",
  "Wolf",
  "Schröder",
  "Neumann",
  "Schwarz",
  "Braun",
  "Zimmermann",
  "Krüger",
  "Hartmann",
  "Lange",
  "Werner",
  "Krause",
  "Lehmann",
];
const GIVEN = {
  W: ["Anna", "Maria", "Sophie", "Emma", "Lena", "Hannah", "Lea", "Ursula", "Monika", "Petra", "Jana", "Sabine"],
  M: ["Lukas", "Paul", "Jonas", "Felix", "Leon", "Peter", "Klaus", "Jürgen", "Thomas", "Michael", "Stefan", "Jan"],
};
const STREETS = [
  "Hauptstraße",
  "Bahnhofstraße",
  "Gartenweg",
  "Schillerstraße",
  "Lindenallee",
  "Am Markt",
  "Goethestraße",
  "Ringstraße",
  "Waldweg",
  "Kirchplatz",
];
const CITIES = [
  { city: "Berlin", postalCode: "10115", wop: "72" },
  { city: "Hamburg", postalCode: "20095", wop: "01" },
  { city: "München", postalCode: "80331", wop: "71" },
  { city: "Köln", postalCode: "50667", wop: "38" },
  { city: "Leipzig", postalCode: "04109", wop: "98" },
  { city: "Potsdam", postalCode: "14467", wop: "83" },
  { city: "Rostock", postalCode: "18055", wop: "78" },
];

/** mulberry32: a small deterministic PRNG, so a seed always yields the same population. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pad = (n: number, w: number) => String(n).padStart(w, "0");

/**
 * The insured population: `count` persons generated from `seed` (same seed, same people).
 * Mostly ordinary cases; a few percent carry the conditions VSDM must handle: an outdated card
 * generation (G1), an expired or revoked C.CH.AUT, a blocked health application.
 */
export function generatePopulation(count: number, seed = 1): InsuredPerson[] {
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const people: InsuredPerson[] = [];
  for (let i = 0; i < count; i++) {
    const sex = rnd() < 0.5 ? "W" : "M";
    const place = pick(CITIES);
    const year = 1930 + Math.floor(rnd() * 90);
    const r = rnd();
    const generation: CardGeneration = r < 0.03 ? "G1" : r < 0.1 ? "G1+" : r < 0.3 ? "G2" : "G2.1";
    const c = rnd();
    people.push({
      kvnr: kvnr(String.fromCharCode(65 + Math.floor(rnd() * 25)), pad(Math.floor(rnd() * 1e8), 8)),
      surname: pick(SURNAMES),
      givenName: pick(GIVEN[sex]),
      prefix: "",
      birthDate: `${year}${pad(1 + Math.floor(rnd() * 12), 2)}${pad(1 + Math.floor(rnd() * 28), 2)}`,
      sex,
      street: pick(STREETS),
      houseNumber: String(1 + Math.floor(rnd() * 180)),
      postalCode: place.postalCode,
      city: place.city,
      country: "D",
      insurer: pick(INSURERS),
      coverageStart: `${Math.max(year, 2000 + Math.floor(rnd() * 24))}0101`,
      versichertenart: pick(["1", "1", "1", "3", "5"] as const),
      kostenerstattung: rnd() < 0.02,
      wop: place.wop,
      zuzahlungsbefreit: rnd() < 0.1,
      selektivvertraege: { aerztlich: 0, zahnaerztlich: 0, art: "0000" },
      card: {
        generation,
        iccsn: `80276${pad(seed % 1000, 3)}${pad(i + 1, 12)}`,
        certificate: c < 0.02 ? "expired" : c < 0.04 ? "revoked" : "valid",
        healthApplicationBlocked: rnd() < 0.01,
        vsdInconsistent: false,
      },
      pruefkarte: false,
    });
  }
  // Every 150th person's card holds inconsistent VSD (3001); chosen by position so the random
  // draws, and so every other person, stay as they were.
  for (let i = 149; i < people.length; i += 150) people[i]!.card.vsdInconsistent = true;
  return people;
}

/**
 * The Prüfkarte eGK number nnnn (1-5000): KVNR X0000nnnn plus check digit, IK 109500969
 * "Test GKV-SV", and exactly the fictitious identity of seed 004 (Tabelle 1); everything else
 * empty. No online update is possible for it (Prüfungsnachweis 3).
 */
/** The Prüfkarte an ICCSN belongs to (IIN 8027600311 and its number 1-5000), undefined for any other card. */
export function pruefkarteByIccsn(iccsn: string): InsuredPerson | undefined {
  const m = /^8027600311(\d{10})$/.exec(iccsn);
  const n = m ? Number(m[1]) : 0;
  return n >= 1 && n <= 5000 ? pruefkarte(n) : undefined;
}

export function pruefkarte(n: number): InsuredPerson {
  if (!Number.isInteger(n) || n < 1 || n > 5000) throw new RangeError("Prüfkarten are numbered 0001-5000");
  return {
    kvnr: kvnr("X", `0000${pad(n, 4)}`),
    surname: "Ort",
    givenName: "Dienstleister",
    prefix: "vor",
    birthDate: "19800101",
    sex: "X",
    street: "Friedrichstraße",
    houseNumber: "136",
    postalCode: "10117",
    city: "Berlin",
    country: "D",
    insurer: { ik: "109500969", name: "Test GKV-SV" },
    coverageStart: "20000101",
    versichertenart: "1",
    kostenerstattung: false,
    wop: "83",
    zuzahlungsbefreit: false,
    selektivvertraege: { aerztlich: 9, zahnaerztlich: 9, art: "0000" },
    // IIN 8027600311 (gemSpec_PK_eGK) followed by the card number.
    card: { generation: "G2.1", iccsn: `8027600311${pad(n, 10)}`, certificate: "valid", healthApplicationBlocked: false, vsdInconsistent: false },
    pruefkarte: true,
  };
}
