import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from "node:crypto";
import { DomainError, ValidationError } from "@tigw/platform";
import type { SignedPackage } from "./package.js";

/**
 * The offline package (seed 000: a manual update may be uploaded, "the package is
 * password-protected, the password is known to registered technicians"): the signed package,
 * encrypted with AES-256-GCM under a key derived from the password with scrypt. Decryption proves
 * nothing about the origin: the signatures inside are verified as for an online update. The
 * password is never stored or recorded; only the technician and the file carry it.
 */
export const OFFLINE_FORMAT = "tigw-ksr-offline-1";
const SCRYPT = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

interface OfflineFile {
  format: typeof OFFLINE_FORMAT;
  updateId: string;
  kdf: { name: "scrypt"; N: number; r: number; p: number; salt: string };
  iv: string;
  tag: string;
  ciphertext: string;
}

export function checkPassword(password: string): string {
  if (password.length < 10) throw new ValidationError("INVALID_PASSWORD", "password", "an offline package password has at least 10 characters");
  return password;
}

const keyOf = (password: string, salt: Buffer, k: { N: number; r: number; p: number }) =>
  scryptSync(password.normalize("NFC"), salt, 32, { N: k.N, r: k.r, p: k.p, maxmem: SCRYPT.maxmem });

/** Seals a package for offline distribution (JSON text). */
export function sealPackage(updateId: string, pkg: SignedPackage, password: string): string {
  checkPassword(password);
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", keyOf(password, salt, SCRYPT), iv);
  cipher.setAAD(Buffer.from(`${OFFLINE_FORMAT}\u0000${updateId}`));
  const ciphertext = Buffer.concat([cipher.update(JSON.stringify(pkg), "utf8"), cipher.final()]);
  const file: OfflineFile = {
    format: OFFLINE_FORMAT,
    updateId,
    kdf: { name: "scrypt", N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p, salt: salt.toString("base64") },
    iv: iv.toString("base64"),
    tag: cipher.getAuthTag().toString("base64"),
    ciphertext: ciphertext.toString("base64"),
  };
  return JSON.stringify(file);
}

/**
 * Opens an offline package. A wrong password and a damaged file look alike to AES-GCM: both are
 * INVALID_PACKAGE_PASSWORD ("wrong password or damaged file"); a file that is no offline package
 * at all is INVALID_OFFLINE_PACKAGE.
 */
export function openPackage(text: string, password: string): { updateId: string; pkg: SignedPackage } {
  const notOne = () => new ValidationError("INVALID_OFFLINE_PACKAGE", "package", `this is no offline package (${OFFLINE_FORMAT})`);
  let f: OfflineFile;
  try {
    f = JSON.parse(text) as OfflineFile;
  } catch {
    throw notOne();
  }
  if (f?.format !== OFFLINE_FORMAT || f.kdf?.name !== "scrypt" || typeof f.ciphertext !== "string") throw notOne();
  // Bounded: a file must not make the unit spend unbounded memory or time on the key.
  if (f.kdf.N !== SCRYPT.N || f.kdf.r !== SCRYPT.r || f.kdf.p !== SCRYPT.p) throw notOne();
  try {
    const decipher = createDecipheriv("aes-256-gcm", keyOf(password, Buffer.from(f.kdf.salt, "base64"), f.kdf), Buffer.from(f.iv, "base64"));
    decipher.setAAD(Buffer.from(`${OFFLINE_FORMAT}\u0000${f.updateId}`));
    decipher.setAuthTag(Buffer.from(f.tag, "base64"));
    const plain = Buffer.concat([decipher.update(Buffer.from(f.ciphertext, "base64")), decipher.final()]);
    return { updateId: f.updateId, pkg: JSON.parse(plain.toString("utf8")) as SignedPackage };
  } catch {
    throw new DomainError("INVALID_PACKAGE_PASSWORD", "the offline package cannot be opened: wrong password or damaged file", { field: "password" });
  }
}
