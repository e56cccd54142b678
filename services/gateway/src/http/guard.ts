import { Inject, Injectable, type CanActivate, type ExecutionContext } from "@nestjs/common";
import { Reflector } from "@nestjs/core";
import { DomainError } from "@tigw/platform";
import type { Practice } from "@tigw/contracts/vpn/v1/zugangsmodul";
import { OperatorStore } from "../auth/operators.js";
import { roleAtLeast, TokenIssuer, type TokenClaims } from "../auth/tokens.js";
import type { ZugangsmodulApi } from "../grpc-clients.js";
import { PortalSessions, type PortalClaims } from "../portal/sessions.js";
import { ZUGANGSMODUL } from "../tokens.js";
import { ACCESS, type AccessMeta } from "./access.js";
import { redactForViewer } from "./redact.js";

/** A practice's portal session: the claims of its token and the account as vpn has it now. */
export interface PracticeSession {
  claims: PortalClaims;
  practice: Practice;
}

export interface AuthedRequest {
  headers: Record<string, string | string[] | undefined>;
  operator?: TokenClaims;
  /** Set on practice routes only; the tenant every answer of the route is scoped by. */
  practice?: PracticeSession;
}

const bearer = (req: AuthedRequest, where: string): string => {
  const header = req.headers["authorization"];
  const m = typeof header === "string" ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  if (!m) throw new DomainError("UNAUTHENTICATED", `log in first (${where}): send Authorization: Bearer <token>`);
  return m[1]!;
};

/**
 * Every route needs a valid bearer token and the role its @Access names; only routes marked
 * public (health, login) do not. A route without @Access is refused: forgetting it fails closed.
 * Operator routes take operator tokens only, practice routes portal sessions only. A viewer's
 * answers lose KVNRs and card handles on the way out.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    @Inject(Reflector) private readonly reflector: Reflector,
    @Inject(TokenIssuer) private readonly tokens: TokenIssuer,
    @Inject(OperatorStore) private readonly operators: OperatorStore,
    @Inject(PortalSessions) private readonly sessions: PortalSessions,
    @Inject(ZUGANGSMODUL) private readonly zugangsmodul: ZugangsmodulApi,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const meta = this.reflector.get<AccessMeta | undefined>(ACCESS, ctx.getHandler());
    if (!meta) throw new DomainError("PERMISSION_DENIED", "route has no access rule");
    if (meta.role === "public") return true;
    const req = ctx.switchToHttp().getRequest<AuthedRequest>();
    if (meta.role === "practice" || meta.role === "practice-enrolment") {
      req.practice = await this.practiceSession(bearer(req, "at /portal/"), meta.role);
      return true;
    }
    const token = bearer(req, "tigw login");
    if (token.startsWith("tigwp1.")) throw new DomainError("PERMISSION_DENIED", "a practice session cannot use the operators' API", { need: meta.role });
    const claims = this.tokens.verify(token);
    if (!(await this.operators.tokenValid(claims.sub, claims.gen, claims.jti))) {
      throw new DomainError("UNAUTHENTICATED", "this token has ended (logged out, password or role changed, or account removed): log in again");
    }
    if (!roleAtLeast(claims.role, meta.role)) {
      throw new DomainError("PERMISSION_DENIED", `needs role ${meta.role}; ${claims.sub} has ${claims.role}`, { need: meta.role, have: claims.role });
    }
    req.operator = claims;
    if (claims.role === "viewer") {
      const res = ctx.switchToHttp().getResponse<{ json(body: unknown): unknown }>();
      const json = res.json.bind(res);
      res.json = (body: unknown) => json(redactForViewer(body));
    }
    return true;
  }

  /**
   * The practice behind a portal token, as the Zugangsmodul has it now (a block ends its sessions
   * at once); an enrolment session reaches the enrolment routes only.
   */
  private async practiceSession(token: string, need: "practice" | "practice-enrolment"): Promise<PracticeSession> {
    const claims = this.sessions.verify(token);
    if (await this.operators.isRevoked(claims.jti)) throw new DomainError("UNAUTHENTICATED", "this session has ended (logged out): log in again");
    const practice = await this.zugangsmodul.getPractice({ account: claims.sub }).then(
      (r) => r.practice!,
      (e: unknown) => {
        if (e instanceof DomainError && e.code === "PRACTICE_NOT_FOUND") throw new DomainError("UNAUTHENTICATED", "this session's account is gone");
        throw e;
      },
    );
    if (practice.status === "blocked") throw new DomainError("ACCOUNT_BLOCKED", "this practice account is blocked: ask your TI-Gateway operator");
    // A session from before a TOTP reset (a lost phone) ends once a new phone is enrolled; an
    // enrolment session from before an earlier enrolment cannot put in another phone either.
    if ((claims.tg ?? 0) !== practice.totpGeneration)
      throw new DomainError("UNAUTHENTICATED", "this session is from before the account's authenticator was enrolled again: log in again");
    if (need === "practice" && (claims.stage !== "practice" || practice.status !== "active"))
      throw new DomainError("TOTP_ENROLMENT_REQUIRED", "enrol TOTP (an authenticator app) before anything else, then log in with a code");
    return { claims, practice };
  }
}
