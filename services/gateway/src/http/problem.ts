import { status } from "@grpc/grpc-js";
import { Catch, HttpException, type ArgumentsHost, type ExceptionFilter } from "@nestjs/common";
import { DomainError, grpcStatusOf, type Logger } from "@tigw/platform";

const HTTP_OF_GRPC: Partial<Record<status, number>> = {
  [status.INVALID_ARGUMENT]: 400,
  [status.UNAUTHENTICATED]: 401,
  [status.PERMISSION_DENIED]: 403,
  [status.NOT_FOUND]: 404,
  [status.ALREADY_EXISTS]: 409,
  [status.ABORTED]: 409,
  [status.FAILED_PRECONDITION]: 409,
};

/**
 * A practice asked for something that is not its own (another practice's Mandant, terminal, card,
 * protocol, grant): always 403, with the access-check code where gematik has one (4010-4013). The
 * same answer whether the thing exists or not, and it names only what the request named.
 */
export class TenantRefusal extends DomainError {}

/** The HTTP status of a domain refusal (the same classification as its gRPC status). */
export function httpStatusOf(e: DomainError): number {
  if (e instanceof TenantRefusal || e.code === "ACCOUNT_BLOCKED" || e.code === "TOTP_ENROLMENT_REQUIRED") return 403;
  if (e.code === "LOGIN_RATE_LIMITED") return 429;
  if (e.code === "INVALID_CREDENTIALS" || e.code === "TOTP_REQUIRED") return 401;
  if (e.code.startsWith("LICENCE_")) return 422;
  return HTTP_OF_GRPC[grpcStatusOf(e)] ?? 409;
}

const CODE_OF_HTTP: Record<number, string> = { 400: "BAD_REQUEST", 404: "NOT_FOUND", 413: "PAYLOAD_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE" };

/** An http-errors client error (4xx, marked safe to show), as Express and body-parser raise them. */
function clientFault(e: unknown): { status: number; message: string } | undefined {
  const { status: s, expose, message } = (e ?? {}) as { status?: unknown; expose?: unknown; message?: unknown };
  if (typeof s !== "number" || s < 400 || s > 499 || expose !== true) return undefined;
  return { status: s, message: typeof message === "string" ? message : "bad request" };
}

/** A gRPC transport failure (the service is down or slow), not a refusal. */
function transportStatus(e: unknown): number | undefined {
  const code = (e as { code?: unknown })?.code;
  if (code === status.UNAVAILABLE) return 503;
  if (code === status.DEADLINE_EXCEEDED) return 504;
  return undefined;
}

/**
 * Every error as RFC 9457 application/problem+json with a stable `code` (the domain's, or a
 * gematik code where one exists) and the domain's details; internals never reach the client.
 */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  constructor(private readonly log?: Logger) {}

  catch(e: unknown, host: ArgumentsHost): void {
    const res = host
      .switchToHttp()
      .getResponse<{ status(n: number): { setHeader(k: string, v: string): void; json(b: unknown): void }; setHeader(k: string, v: string): void }>();
    let body: { status: number; code: string; title: string; detail: string; details?: Record<string, string> };
    if (e instanceof DomainError) {
      body = { status: httpStatusOf(e), code: e.code, title: e.code, detail: e.message, details: e.details };
      if (e.code === "LOGIN_RATE_LIMITED" && e.details["retryAfter"]) res.setHeader("Retry-After", e.details["retryAfter"]);
    } else if (e instanceof HttpException) {
      const s = e.getStatus();
      body = { status: s, code: CODE_OF_HTTP[s] ?? `HTTP_${s}`, title: e.message, detail: e.message };
    } else if (clientFault(e)) {
      // Express and its body parser refuse malformed requests with http-errors (400 invalid JSON or
      // encoding, 413 too large, 415 unsupported charset); their message names the problem.
      const { status: s, message } = clientFault(e)!;
      body = { status: s, code: CODE_OF_HTTP[s] ?? `HTTP_${s}`, title: message, detail: message };
    } else if (transportStatus(e)) {
      const s = transportStatus(e)!;
      body = {
        status: s,
        code: s === 503 ? "SERVICE_UNAVAILABLE" : "SERVICE_TIMEOUT",
        title: "a backend service did not answer",
        detail: "a backend service did not answer; try again",
      };
      this.log?.warn({ err: e }, "backend call failed");
    } else {
      body = { status: 500, code: "INTERNAL", title: "internal error", detail: "internal error" };
      this.log?.error({ err: e }, "unexpected error");
    }
    res.setHeader("Content-Type", "application/problem+json");
    res.status(body.status).json({ type: "about:blank", ...body });
  }
}
