import { Inject, Injectable, type CanActivate, type ExecutionContext } from "@nestjs/common";
import { Reflector } from "@nestjs/core";
import { DomainError } from "@tigw/platform";
import { OperatorStore } from "../auth/operators.js";
import { roleAtLeast, TokenIssuer, type TokenClaims } from "../auth/tokens.js";
import { ACCESS, type AccessMeta } from "./access.js";

export interface AuthedRequest {
  headers: Record<string, string | string[] | undefined>;
  operator?: TokenClaims;
}

/**
 * Every route needs a valid bearer token and the role its @Access names; only routes marked
 * public (health, login) do not. A route without @Access is refused: forgetting it fails closed.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    @Inject(Reflector) private readonly reflector: Reflector,
    @Inject(TokenIssuer) private readonly tokens: TokenIssuer,
    @Inject(OperatorStore) private readonly operators: OperatorStore,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const meta = this.reflector.get<AccessMeta | undefined>(ACCESS, ctx.getHandler());
    if (!meta) throw new DomainError("PERMISSION_DENIED", "route has no access rule");
    if (meta.role === "public") return true;
    const req = ctx.switchToHttp().getRequest<AuthedRequest>();
    const header = req.headers["authorization"];
    const m = typeof header === "string" ? /^Bearer\s+(\S+)$/i.exec(header) : null;
    if (!m) throw new DomainError("UNAUTHENTICATED", "log in first: send Authorization: Bearer <token>");
    const claims = this.tokens.verify(m[1]!);
    if (!(await this.operators.tokenValid(claims.sub, claims.gen, claims.jti))) {
      throw new DomainError("UNAUTHENTICATED", "this token has ended (logged out, password or role changed, or account removed): log in again");
    }
    if (!roleAtLeast(claims.role, meta.role)) {
      throw new DomainError("PERMISSION_DENIED", `needs role ${meta.role}; ${claims.sub} has ${claims.role}`, { need: meta.role, have: claims.role });
    }
    req.operator = claims;
    return true;
  }
}
