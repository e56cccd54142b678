import { createHmac, randomUUID, timingSafeEqual } from "node:crypto";
import { DomainError } from "@tigw/platform";

export type Role = "viewer" | "operator" | "admin";
export const ROLES: readonly Role[] = ["viewer", "operator", "admin"];
/** admin may do what an operator may, an operator what a viewer may. */
export const roleAtLeast = (have: Role, need: Role): boolean => ROLES.indexOf(have) >= ROLES.indexOf(need);

export interface TokenClaims {
  sub: string;
  role: Role;
  iat: number;
  exp: number;
  jti: string;
  /** The account's token generation at issue: a password or role change raises it and ends the token. */
  gen: number;
}

const b64 = (b: Buffer | string) => Buffer.from(b).toString("base64url");
const unauthenticated = (why: string) => new DomainError("UNAUTHENTICATED", why);

/**
 * Short-lived bearer tokens: "tigw1.<claims>.<HMAC-SHA256>". The signature is checked without
 * state, so every gateway replica (and a restarted one) accepts them as long as they share the
 * secret; the guard then asks the account store whether the token was ended (logout, password
 * or role change, removal).
 */
export class TokenIssuer {
  constructor(
    private readonly secret: Buffer,
    readonly ttlSeconds: number,
    private readonly now: () => number = Date.now,
  ) {}

  private mac(body: string): Buffer {
    return createHmac("sha256", this.secret).update(`tigw1.${body}`).digest();
  }

  issue(sub: string, role: Role, gen = 0): { token: string; expiresAt: string } {
    const iat = Math.floor(this.now() / 1000);
    const claims: TokenClaims = { sub, role, iat, exp: iat + this.ttlSeconds, jti: randomUUID(), gen };
    const body = b64(JSON.stringify(claims));
    return { token: `tigw1.${body}.${b64(this.mac(body))}`, expiresAt: new Date(claims.exp * 1000).toISOString() };
  }

  verify(token: string): TokenClaims {
    const [tag, body, sig] = token.split(".");
    if (tag !== "tigw1" || !body || !sig) throw unauthenticated("malformed token");
    const given = Buffer.from(sig, "base64url");
    const expected = this.mac(body);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw unauthenticated("invalid token signature");
    const claims = JSON.parse(Buffer.from(body, "base64url").toString("utf8")) as TokenClaims;
    if (claims.exp * 1000 <= this.now()) throw unauthenticated("token expired: log in again");
    return { ...claims, gen: claims.gen ?? 0 };
  }
}
