import { SetMetadata } from "@nestjs/common";
import type { Role } from "../auth/tokens.js";

export const ACCESS = "tigw:access";

/** Who may call a route and what it does; read by the auth guard and the OpenAPI document. */
export interface AccessMeta {
  /**
   * "public" = no token (health, login); an operator role = the least one needed; "practice" = a
   * practice's portal session after login with TOTP; "practice-enrolment" = any portal session of
   * the practice, also one that has still to enrol TOTP.
   */
  role: Role | "public" | "practice" | "practice-enrolment";
  summary: string;
  /** JSON schema of the request body, when there is one. */
  body?: Record<string, unknown>;
  /** Status of a successful answer (default 200). */
  status?: number;
}

export const Access = (meta: AccessMeta) => SetMetadata(ACCESS, meta);
