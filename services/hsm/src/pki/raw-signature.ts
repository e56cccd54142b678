import { constants, createHash, privateEncrypt, randomBytes, type KeyObject } from "node:crypto";

/**
 * Signatures over a hash the caller computed, as a smartcard makes them (PSO Compute Digital
 * Signature / Internal Authenticate): the card never hashes a second time. node:crypto's sign()
 * always hashes its input, so the two schemes of ExternalAuthenticate are built here from the
 * primitives: RSASSA-PSS (EMSA-PSS encoding, then the raw RSA operation) and ECDSA (arithmetic on
 * brainpoolP256r1, the curve of the TI's ECC cards), the latter answered as r||s like the card.
 */

const HASH_OF_LENGTH: Record<number, string> = { 32: "sha256", 48: "sha384", 64: "sha512" };

/** Why a hash cannot be signed (a length no SHA-2 digest has, a key of another kind). */
export class RawSignatureRefused extends Error {}

function mgf1(hash: string, seed: Buffer, length: number): Buffer {
  const out: Buffer[] = [];
  for (let counter = 0; out.length * seed.length < length; counter++) {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(counter);
    out.push(createHash(hash).update(seed).update(c).digest());
  }
  return Buffer.concat(out).subarray(0, length);
}

/** RSASSA-PSS (RFC 8017 §8.1) of a SHA-2 digest: MGF1 with the same hash, salt as long as the hash. */
export function signPssDigest(key: KeyObject, digest: Buffer): Buffer {
  const hash = HASH_OF_LENGTH[digest.length];
  if (!hash) throw new RawSignatureRefused(`a SHA-256/384/512 digest has 32, 48 or 64 bytes, not ${digest.length}`);
  const modBits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  const emBits = modBits - 1;
  const emLen = Math.ceil(emBits / 8);
  const hLen = digest.length;
  const salt = randomBytes(hLen);
  if (emLen < 2 * hLen + 2) throw new RawSignatureRefused(`an RSA key of ${modBits} bits is too short for PSS with ${hash}`);
  const h = createHash(hash).update(Buffer.alloc(8)).update(digest).update(salt).digest();
  const db = Buffer.concat([Buffer.alloc(emLen - 2 * hLen - 2), Buffer.from([1]), salt]);
  const masked = mgf1(hash, h, db.length).map((b, i) => b ^ db[i]!);
  masked[0]! &= 0xff >> (8 * emLen - emBits);
  const em = Buffer.concat([masked, h, Buffer.from([0xbc])]);
  const k = Math.ceil(modBits / 8);
  return privateEncrypt({ key, padding: constants.RSA_NO_PADDING }, Buffer.concat([Buffer.alloc(k - em.length), em]));
}

// brainpoolP256r1 (RFC 5639 §3.4)
const P = 0xa9fb57dba1eea9bc3e660a909d838d726e3bf623d52620282013481d1f6e5377n;
const A = 0x7d5a0975fc2c3057eef67530417affe7fb8055c126dc5c6ce94a4b44f330b5d9n;
const N = 0xa9fb57dba1eea9bc3e660a909d838d718c397aa3b561a6f7901e0e82974856a7n;
const G: Point = [0x8bd2aeb9cb7e57cb2c4b482ffc81b7afb9de27e1e3bd23c23a4453bd9ace3262n, 0x547ef835c3dac4fd97f8461a14611dc9c27745132ded8e545c1d54c72f046997n];

type Point = [bigint, bigint] | null;
const mod = (a: bigint, m: bigint) => ((a % m) + m) % m;

function inverse(a: bigint, m: bigint): bigint {
  let [r0, r1, t0, t1] = [mod(a, m), m, 1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [t0, t1] = [t1, t0 - q * t1];
  }
  return mod(t0, m);
}

function add(p: Point, q: Point): Point {
  if (!p) return q;
  if (!q) return p;
  if (p[0] === q[0] && mod(p[1] + q[1], P) === 0n) return null;
  const l = p[0] === q[0] && p[1] === q[1] ? mod((3n * p[0] * p[0] + A) * inverse(2n * p[1], P), P) : mod((q[1] - p[1]) * inverse(q[0] - p[0], P), P);
  const x = mod(l * l - p[0] - q[0], P);
  return [x, mod(l * (p[0] - x) - p[1], P)];
}

function multiply(k: bigint, p: Point): Point {
  let r: Point = null;
  for (let q = p; k > 0n; k >>= 1n, q = add(q, q)) if (k & 1n) r = add(r, q);
  return r;
}

const toInt = (b: Buffer) => BigInt(`0x${b.toString("hex") || "0"}`);
const to32 = (n: bigint) => Buffer.from(n.toString(16).padStart(64, "0"), "hex");

/** The private scalar of a brainpoolP256r1 key (SEC 1 ECPrivateKey: version 1, then a 32-byte OCTET STRING). */
function scalarOf(key: KeyObject): bigint {
  if (key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== "brainpoolP256r1")
    throw new RawSignatureRefused(
      `ECDSA over a digest is implemented for brainpoolP256r1 keys, not ${key.asymmetricKeyDetails?.namedCurve ?? key.asymmetricKeyType}`,
    );
  const der = key.export({ type: "sec1", format: "der" });
  const at = der.indexOf(Buffer.from([0x02, 0x01, 0x01, 0x04, 0x20]));
  if (at < 0) throw new RawSignatureRefused("unexpected EC private key encoding");
  return toInt(der.subarray(at + 5, at + 37));
}

/** ECDSA (BSI TR-03111) of a digest on brainpoolP256r1, as the card answers it: r||s, 32 bytes each. */
export function signEcdsaDigest(key: KeyObject, digest: Buffer): Buffer {
  if (!HASH_OF_LENGTH[digest.length]) throw new RawSignatureRefused(`a SHA-256/384/512 digest has 32, 48 or 64 bytes, not ${digest.length}`);
  const d = scalarOf(key);
  const e = toInt(digest.subarray(0, 32)); // the leftmost bits of the order's length (256)
  for (;;) {
    const k = mod(toInt(randomBytes(40)), N - 1n) + 1n;
    const r = mod(multiply(k, G)![0], N);
    if (r === 0n) continue;
    const s = mod(inverse(k, N) * (e + r * d), N);
    if (s === 0n) continue;
    return Buffer.concat([to32(r), to32(s)]);
  }
}
