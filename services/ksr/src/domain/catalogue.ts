import { DomainError, ValidationError, type Decider } from "@tigw/platform";

/**
 * The firmware catalogue: every firmware version of the fleet's products with its approval
 * (Zulassung) by the gematik and that approval's date. A version is `zugelassen` until its date,
 * or its approval was revoked (`Zulassung widerrufen`) or has expired (`Zulassung abgelaufen`) on
 * that date. One stream ("catalogue") holds it: seeded from seed 000's table at the first start,
 * extended when the KSR publishes a version it did not know.
 */
export const APPROVED = "zugelassen";
export const REVOKED = "Zulassung widerrufen";
export const EXPIRED = "Zulassung abgelaufen";
export type Approval = typeof APPROVED | typeof REVOKED | typeof EXPIRED;

/** A Konnektor firmware version "5.50.4:2.0.0" is firmware 5.50.4 for hardware version 2.0.0. */
const VERSION = /^(\d{1,3}(?:\.\d{1,3}){1,3})(?::(\d{1,3}\.\d{1,3}\.\d{1,3}))?$/;

export function parseVersion(v: string): { firmware: number[]; hardware: string } {
  const m = VERSION.exec(v);
  if (!m) throw new ValidationError("INVALID_FIRMWARE_VERSION", "version", `"${v}" is no firmware version: use one like 5.50.4:2.0.0`, { value: v });
  return { firmware: m[1]!.split(".").map(Number), hardware: m[2] ?? "" };
}

/** Orders firmware versions numerically (5.50.4 > 5.1.3); the hardware part does not order. */
export function compareVersions(a: string, b: string): number {
  const x = parseVersion(a).firmware;
  const y = parseVersion(b).firmware;
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** Units created before the catalogue knew hardware versions carry "5.1.3": it names 5.1.3:2.0.0. */
export function sameVersion(a: string, b: string): boolean {
  if (a === b) return true;
  const x = parseVersion(a);
  const y = parseVersion(b);
  return (x.hardware === "" || y.hardware === "" || x.hardware === y.hardware) && compareVersions(a, b) === 0;
}

export interface CatalogueEntry {
  product: string;
  version: string;
  /** Produkttyp, e.g. "PTV5 (Wartungsrelease ePA2.0 / PTV5#WR3)". */
  productType: string;
  approval: Approval;
  /** YYYY-MM-DD: end of the approval (zugelassen) or when it was revoked or expired. */
  approvalDate: string;
  /** The vendor's advice: Aktuelle Firmware, Update empfohlen, Update erforderlich. */
  note: string;
  /** Versions of one firmware group work together; a package outside the unit's group is refused (4185). */
  group: string;
}

/** The Konnektor products of tenancy's profiles; both run the secunet konnektor 2.0.0 firmware line. */
export const KONNEKTOR_PRODUCTS = ["rz", "einbox"] as const;

/** Seed 000's table (secunet konnektor 2.0.0, hardware 2.0.0), newest first. */
const SEED_000: ReadonlyArray<[string, string, Approval, string, string]> = [
  ["PTV5 (Wartungsrelease ePA2.0 / PTV5#WR3)", "5.50.4:2.0.0", APPROVED, "2025-11-16", "Aktuelle Firmware"],
  ["PTV5 (Wartungsrelease ePA2.0 / PTV5#WR3)", "5.50.3:2.0.0", APPROVED, "2025-08-20", "Update empfohlen"],
  ["PTV5 (Update Wartungsrelease ePA2.0)", "5.1.3:2.0.0", REVOKED, "2024-11-08", "Update erforderlich"],
  ["PTV5 (Wartungsrelease ePA2.0)", "5.1.2:2.0.0", REVOKED, "2024-08-24", "Update erforderlich"],
  ["PTV5 (ePA2.0)", "5.0.5:2.0.0", EXPIRED, "2023-02-28", "Update erforderlich"],
  ["PTV4Plus (ePA + Komfortsignatur)", "4.10.1:2.0.0", EXPIRED, "2023-06-21", "Update erforderlich"],
  ["PTV4 (ePA)", "4.1.3:2.0.0", EXPIRED, "2023-05-01", "Update erforderlich"],
  ["PTV3 (eHealth)", "3.5.2:2.0.0", EXPIRED, "2021-09-30", "Update erforderlich"],
  ["PTV3 (eHealth)", "3.5.0:2.0.0", EXPIRED, "2022-08-17", "Update erforderlich"],
  ["PTV1 (VSDM)", "2.0.47:2.0.0", EXPIRED, "2021-02-28", "Update erforderlich"],
  ["PTV1 (VSDM)", "2.0.46:2.0.0", EXPIRED, "2021-10-31", "Update erforderlich"],
  ["PTV1 (VSDM)", "2.0.38:2.0.0", EXPIRED, "2019-10-31", "Update erforderlich"],
  ["PTV1 (VSDM)", "2.0.37:2.0.0", EXPIRED, "2021-01-31", "Update erforderlich"],
  ["PTV1 (VSDM)", "2.0.36:2.0.0", EXPIRED, "2020-12-31", "Update erforderlich"],
];

/**
 * Card-terminal models and their firmware groups. No seed names them: these are simulated
 * entries (the demo's terminals are "ORGA 6141 online" on 3.9.0), marked as such in the notes.
 */
const SIMULATED_TERMINALS: ReadonlyArray<[string, string, Approval, string, string]> = [
  ["ORGA 6141 online", "3.9.2", APPROVED, "2027-06-30", "simulated: current firmware"],
  ["ORGA 6141 online", "3.9.0", APPROVED, "2026-12-31", "simulated: update recommended"],
  ["ORGA 6141 online", "3.8.0", EXPIRED, "2024-03-31", "simulated: update required"],
  ["Cherry ST-1506", "4.3.1", APPROVED, "2027-03-31", "simulated: current firmware"],
  ["Cherry ST-1506", "4.2.0", REVOKED, "2025-05-15", "simulated: update required"],
];

/** The firmware group a version of a product belongs to: Konnektors by hardware version, terminals by model. */
export function groupOf(product: string, version: string): string {
  const { hardware } = parseVersion(version);
  return (KONNEKTOR_PRODUCTS as readonly string[]).includes(product)
    ? `konnektor-hw-${hardware || "2.0.0"}`
    : `kt-${product.replace(/\W+/g, "-").toLowerCase()}`;
}

export function seedEntries(): CatalogueEntry[] {
  const entries: CatalogueEntry[] = [];
  for (const product of KONNEKTOR_PRODUCTS)
    for (const [productType, version, approval, approvalDate, note] of SEED_000)
      entries.push({ product, version, productType, approval, approvalDate, note, group: groupOf(product, version) });
  for (const [product, version, approval, approvalDate, note] of SIMULATED_TERMINALS)
    entries.push({ product, version, productType: "eHealth-Kartenterminal", approval, approvalDate, note, group: groupOf(product, version) });
  return entries;
}

/** The approval as of a day: a `zugelassen` version whose date has passed is expired since then. */
export function approvalOn(e: CatalogueEntry, day: string): { approval: Approval; date: string } {
  if (e.approval === APPROVED && e.approvalDate < day) return { approval: EXPIRED, date: e.approvalDate };
  return { approval: e.approval, date: e.approvalDate };
}

export interface CatalogueState {
  /** `${product}\u0000${version}` -> entry */
  entries: Record<string, CatalogueEntry>;
}

export type CatalogueCommand =
  { type: "SeedCatalogue"; entries: CatalogueEntry[]; at: string } | { type: "CatalogueVersion"; entry: CatalogueEntry; at: string };

export type CatalogueEvent = { type: "VersionCatalogued"; data: CatalogueEntry & { at: string } };

const key = (product: string, version: string) => `${product}\u0000${version}`;

export function findEntry(s: CatalogueState, product: string, version: string): CatalogueEntry | undefined {
  return s.entries[key(product, version)] ?? Object.values(s.entries).find((e) => e.product === product && sameVersion(e.version, version));
}

export function checkDate(field: string, value: string): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || Number.isNaN(Date.parse(`${value}T00:00:00Z`)))
    throw new ValidationError("INVALID_DATE", field, `${field} must be a date YYYY-MM-DD, not "${value}"`, { value });
  return value;
}

function checkEntry(e: CatalogueEntry): void {
  parseVersion(e.version);
  if (!e.product) throw new ValidationError("INVALID_PRODUCT", "product", "the product is missing");
  if (![APPROVED, REVOKED, EXPIRED].includes(e.approval))
    throw new ValidationError("INVALID_APPROVAL", "approval", `approval is ${APPROVED}, ${REVOKED} or ${EXPIRED}`, { value: e.approval });
  checkDate("approvalDate", e.approvalDate);
}

function decide(c: CatalogueCommand, s: CatalogueState): CatalogueEvent[] {
  switch (c.type) {
    case "SeedCatalogue":
      // Only what is missing: a restart (or a second process) seeds nothing twice.
      return c.entries
        .filter((e) => !s.entries[key(e.product, e.version)])
        .map((e) => (checkEntry(e), { type: "VersionCatalogued", data: { ...e, at: c.at } }));
    case "CatalogueVersion": {
      checkEntry(c.entry);
      const known = findEntry(s, c.entry.product, c.entry.version);
      if (known)
        throw new DomainError("VERSION_EXISTS", `${c.entry.product} ${c.entry.version} is catalogued already (${known.approval} ${known.approvalDate})`, {
          field: "version",
        });
      return [{ type: "VersionCatalogued", data: { ...c.entry, at: c.at } }];
    }
  }
}

function evolve(s: CatalogueState, e: CatalogueEvent): CatalogueState {
  const { at: _at, ...entry } = e.data;
  return { entries: { ...s.entries, [key(entry.product, entry.version)]: entry } };
}

export const catalogueDecider: Decider<CatalogueState, CatalogueCommand, CatalogueEvent> = { initialState: () => ({ entries: {} }), decide, evolve };
