import { createHmac, randomBytes } from "node:crypto";

/**
 * Time-based one-time passwords (RFC 6238 over RFC 4226 HOTP): HMAC-SHA1, 30-second steps, six
 * digits, the parameters every authenticator app assumes.
 */
const STEP_SECONDS = 30;
const DIGITS = 6;
const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

export function base32Encode(data: Buffer): string {
  let bits = 0;
  let value = 0;
  let out = "";
  for (const byte of data) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

export function base32Decode(text: string): Buffer {
  const clean = text.replace(/[\s=]/g, "").toUpperCase();
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const ch of clean) {
    const i = BASE32.indexOf(ch);
    if (i < 0) throw new RangeError(`not base32: "${ch}"`);
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 255);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** The HOTP value of a counter (RFC 4226 section 5.3: dynamic truncation). */
export function hotp(secret: Buffer, counter: number, digits = DIGITS): string {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac("sha1", secret).update(msg).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  const code = (mac.readUInt32BE(offset) & 0x7fffffff) % 10 ** digits;
  return String(code).padStart(digits, "0");
}

export const stepOf = (unixMs: number): number => Math.floor(unixMs / 1000 / STEP_SECONDS);

export const totpAt = (secret: Buffer, unixMs: number, digits = DIGITS): string => hotp(secret, stepOf(unixMs), digits);

/**
 * The step a code belongs to, within one step either side of now (clock drift), or undefined.
 * The caller refuses steps at or before the last one accepted, so a code works once.
 */
export function matchingStep(secret: Buffer, code: string, unixMs: number): number | undefined {
  if (!/^\d{6}$/.test(code)) return undefined;
  const now = stepOf(unixMs);
  for (const step of [now, now - 1, now + 1]) if (hotp(secret, step) === code) return step;
  return undefined;
}

export function newTotpSecret(): { secret: string; uri: (account: string) => string } {
  const secret = base32Encode(randomBytes(20));
  return {
    secret,
    uri: (account) =>
      `otpauth://totp/${encodeURIComponent(`ti-gateway:${account}`)}?secret=${secret}&issuer=ti-gateway&algorithm=SHA1&digits=${DIGITS}&period=${STEP_SECONDS}`,
  };
}
