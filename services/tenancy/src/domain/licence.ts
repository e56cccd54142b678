import { createHash, createPublicKey, randomUUID, sign, verify, type KeyObject } from "node:crypto";
import { DomainError } from "@tigw/platform";

/**
 * A licence file: what the vendor grants one unit (by serial number), signed with the vendor's
 * key (Ed25519 or ECDSA P-256). The signature covers the canonical JSON of `licence`, so any
 * change to the granted figures, the serial or the dates breaks it.
 */
export interface LicenceGrant {
  licenceId: string;
  serial: string;
  issuedAt: string;
  /** KTs per compute unit (Recheneinheit). */
  ktPerComputeUnit: number;
  /** Further features, e.g. "PTV5" (the PTV5 Fachmodule), "LZV" (Laufzeitverlängerung). */
  features: string[];
}

export interface LicenceFile {
  format: "tigw-licence/1";
  licence: LicenceGrant;
  signature: { alg: "Ed25519" | "ECDSA-SHA256"; keyId: string; value: string };
}

export const KNOWN_FEATURES = ["PTV5", "LZV"] as const;

/** JSON with sorted keys at every level: the bytes a signature covers. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** Short fingerprint of a public key: the first 16 hex digits of SHA-256 over its SPKI DER. */
export function keyId(key: KeyObject): string {
  const pub = key.type === "private" ? createPublicKey(key) : key;
  return createHash("sha256")
    .update(pub.export({ type: "spki", format: "der" }))
    .digest("hex")
    .slice(0, 16);
}

function algOf(key: KeyObject): LicenceFile["signature"]["alg"] {
  if (key.asymmetricKeyType === "ed25519") return "Ed25519";
  if (key.asymmetricKeyType === "ec") return "ECDSA-SHA256";
  throw new Error(`vendor key type ${key.asymmetricKeyType ?? "?"} not supported: use Ed25519 or ECDSA`);
}

export function issueLicence(
  privateKey: KeyObject,
  grant: { serial: string; ktPerComputeUnit: number; features?: string[]; issuedAt?: Date; licenceId?: string },
): LicenceFile {
  if (!Number.isInteger(grant.ktPerComputeUnit) || grant.ktPerComputeUnit < 1 || grant.ktPerComputeUnit > 1000) {
    throw new DomainError("INVALID_KT_CAPACITY", "ktPerComputeUnit must be an integer 1-1000", { field: "ktPerComputeUnit" });
  }
  const licence: LicenceGrant = {
    licenceId: grant.licenceId ?? randomUUID(),
    serial: grant.serial,
    issuedAt: (grant.issuedAt ?? new Date()).toISOString(),
    ktPerComputeUnit: grant.ktPerComputeUnit,
    features: [...new Set(grant.features ?? [])].sort(),
  };
  const alg = algOf(privateKey);
  const value = sign(alg === "Ed25519" ? null : "sha256", Buffer.from(canonicalJson(licence)), privateKey).toString("base64");
  return { format: "tigw-licence/1", licence, signature: { alg, keyId: keyId(privateKey), value } };
}

const invalid = (why: string): DomainError => new DomainError("LICENCE_INVALID", `licence invalid: ${why}`, { field: "licence", reason: why });

/** Parses a licence file's text; anything malformed is LICENCE_INVALID. */
export function parseLicenceFile(text: string): LicenceFile {
  let f: LicenceFile;
  try {
    f = JSON.parse(text) as LicenceFile;
  } catch {
    throw invalid("not JSON");
  }
  const l = f?.licence;
  if (f?.format !== "tigw-licence/1") throw invalid("unknown format (expected tigw-licence/1)");
  if (!l || typeof l.serial !== "string" || typeof l.licenceId !== "string" || typeof l.issuedAt !== "string") throw invalid("licence fields missing");
  if (Number.isNaN(Date.parse(l.issuedAt))) throw invalid("issuedAt is not a time");
  if (!Number.isInteger(l.ktPerComputeUnit) || l.ktPerComputeUnit < 1) throw invalid("ktPerComputeUnit is not a positive integer");
  if (!Array.isArray(l.features) || !l.features.every((x) => typeof x === "string")) throw invalid("features is not a list of names");
  if (!f.signature || typeof f.signature.value !== "string") throw invalid("signature missing");
  return f;
}

/**
 * Checks a licence file against the trusted vendor keys and the unit's serial number: a broken
 * or unknown signature is LICENCE_INVALID, another unit's licence LICENCE_SERIAL_MISMATCH.
 */
export function verifyLicence(file: LicenceFile, vendorKeys: readonly KeyObject[], serial: string): LicenceGrant {
  const key = vendorKeys.find((k) => keyId(k) === file.signature.keyId);
  if (!key) throw invalid(`signed by an unknown key ${file.signature.keyId}`);
  const data = Buffer.from(canonicalJson(file.licence));
  let ok = false;
  try {
    ok = verify(algOf(key) === "Ed25519" ? null : "sha256", data, key, Buffer.from(file.signature.value, "base64"));
  } catch {
    ok = false;
  }
  if (!ok) throw invalid("signature does not match the content");
  if (file.licence.serial !== serial) {
    throw new DomainError("LICENCE_SERIAL_MISMATCH", `licence is for serial ${file.licence.serial}, not for this unit's ${serial}`, {
      field: "serial",
      licenceSerial: file.licence.serial,
      unitSerial: serial,
    });
  }
  return file.licence;
}

/**
 * A licence replaces the unit's current one only if it was issued later: an older file (or one
 * replaced earlier) would otherwise roll the unit back to fewer KTs or features. The profile's
 * base licence is no file, so any signed licence may replace it.
 */
export function mustSupersede(grant: LicenceGrant, current: { licenceId: string; issuedAt: string; source: string }): void {
  if (current.source !== "file") return;
  const issued = Date.parse(grant.issuedAt);
  if (Number.isNaN(issued)) throw invalid("issuedAt is not a time");
  if (issued > Date.parse(current.issuedAt)) return;
  throw new DomainError(
    "LICENCE_OUTDATED",
    `licence ${grant.licenceId} was issued ${grant.issuedAt}, not after the unit's current licence ${current.licenceId} (issued ${current.issuedAt}): only a newer licence can replace it`,
    { field: "licence", licenceId: grant.licenceId, issuedAt: grant.issuedAt, currentLicenceId: current.licenceId, currentIssuedAt: current.issuedAt },
  );
}
