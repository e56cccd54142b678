import { SetMetadata } from "@nestjs/common";
import type { Role } from "../auth/tokens.js";

export const ACCESS = "tigw:access";

/** Who may call a route and what it does; read by the auth guard and the OpenAPI document. */
export interface AccessMeta {
  /** "public" = no token (health, login); otherwise the least role needed. */
  role: Role | "public";
  summary: string;
  /** JSON schema of the request body, when there is one. */
  body?: Record<string, unknown>;
  /** Status of a successful answer (default 200). */
  status?: number;
}

export const Access = (meta: AccessMeta) => SetMetadata(ACCESS, meta);
