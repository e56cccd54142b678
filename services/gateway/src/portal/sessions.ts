import { createHmac, randomUUID, timingSafeEqual } from "node:crypto";
import { DomainError } from "@tigw/platform";

/**
 * What a practice's portal session may do: only finish its TOTP enrolment ("enrolment"), or
 * everything a practice may ("practice") once it logged in with password and code.
 */
export type PortalStage = "enrolment" | "practice";

export interface PortalClaims {
  /** The practice account: the session's tenant, the only source of a practice's identity. */
  sub: string;
  stage: PortalStage;
  /** The account's TOTP generation at issue (absent in sessions from before it existed: 0). */
  tg?: number;
  iat: number;
  exp: number;
  jti: string;
}

const b64 = (b: Buffer | string) => Buffer.from(b).toString("base64url");
const TAG = "tigwp1";

/**
 * Bearer tokens of practice portal sessions: "tigwp1.<claims>.<HMAC-SHA256>", under a key derived
 * from the gateway's token secret for this purpose only. An operator token is no portal token and
 * a portal token no operator token: the tag and the key differ, so neither verifies as the other.
 */
export class PortalSessions {
  private readonly key: Buffer;

  constructor(
    secret: Buffer,
    readonly ttlSeconds: number,
    private readonly now: () => number = Date.now,
  ) {
    this.key = createHmac("sha256", secret).update("tigw practice portal sessions v1").digest();
  }

  private mac(body: string): Buffer {
    return createHmac("sha256", this.key).update(`${TAG}.${body}`).digest();
  }

  issue(account: string, stage: PortalStage, totpGeneration = 0): { token: string; expiresAt: string; stage: PortalStage } {
    const iat = Math.floor(this.now() / 1000);
    // An enrolment session is short: enough to scan a code and type the first one.
    const claims: PortalClaims = {
      sub: account,
      stage,
      tg: totpGeneration,
      iat,
      exp: iat + (stage === "enrolment" ? Math.min(this.ttlSeconds, 600) : this.ttlSeconds),
      jti: randomUUID(),
    };
    const body = b64(JSON.stringify(claims));
    return { token: `${TAG}.${body}.${b64(this.mac(body))}`, expiresAt: new Date(claims.exp * 1000).toISOString(), stage };
  }

  verify(token: string): PortalClaims {
    const [tag, body, sig] = token.split(".");
    if (tag !== TAG || !body || !sig) throw new DomainError("UNAUTHENTICATED", "not a practice portal session: log in at /portal/");
    const given = Buffer.from(sig, "base64url");
    const expected = this.mac(body);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new DomainError("UNAUTHENTICATED", "invalid session signature");
    const claims = JSON.parse(Buffer.from(body, "base64url").toString("utf8")) as PortalClaims;
    if (claims.exp * 1000 <= this.now()) throw new DomainError("UNAUTHENTICATED", "session expired: log in again");
    return claims;
  }
}
