import { Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { DomainError, ValidationError, VersionConflictError } from "../errors.js";
import { ErrorDetail } from "@tigw/contracts/errors/v1/error";

const DETAIL_KEY = "tigw-error-bin";

/** Which gRPC status a domain refusal maps to. */
export function grpcStatusOf(e: DomainError): status {
  if (e instanceof VersionConflictError) return status.ABORTED;
  if (e instanceof ValidationError || e.code.startsWith("INVALID_")) return status.INVALID_ARGUMENT;
  if (e.code.endsWith("_NOT_FOUND")) return status.NOT_FOUND;
  if (e.code.endsWith("_EXISTS") || e.code.startsWith("DUPLICATE_")) return status.ALREADY_EXISTS;
  if (e.code === "UNAUTHENTICATED") return status.UNAUTHENTICATED;
  if (e.code === "PERMISSION_DENIED" || e.code.endsWith("_NOT_PERMITTED")) return status.PERMISSION_DENIED;
  return status.FAILED_PRECONDITION;
}

/** A call to another service that failed because it could not be reached or did not answer in time. */
export function isUnreachable(e: unknown): boolean {
  if (typeof e !== "object" || e === null || !("code" in e) || !("metadata" in e)) return false;
  return e.code === status.UNAVAILABLE || e.code === status.DEADLINE_EXCEEDED;
}

/**
 * A thrown error as a gRPC error. Domain errors keep their code and details (in the trailing
 * metadata "tigw-error-bin" as tigw.errors.v1.ErrorDetail); a service this one called that could
 * not be reached becomes UNAVAILABLE (the caller may retry; the gateway answers 503), one that did
 * not answer in time DEADLINE_EXCEEDED (gateway: 504); anything
 * else becomes INTERNAL. Neither carries the original message, which may hold internals.
 */
export function toGrpcError(e: unknown): Partial<ServiceError> {
  const metadata = new Metadata();
  if (e instanceof DomainError) {
    metadata.set(DETAIL_KEY, Buffer.from(ErrorDetail.encode({ code: e.code, message: e.message, details: e.details }).finish()));
    return { code: grpcStatusOf(e), details: `${e.code}: ${e.message}`, metadata };
  }
  // A timed-out call may have taken effect, so it is not "try again": it stays a timeout (gateway: 504).
  if (isUnreachable(e))
    return (e as ServiceError).code === status.UNAVAILABLE
      ? { code: status.UNAVAILABLE, details: "a service this one depends on is unavailable: try again", metadata }
      : { code: status.DEADLINE_EXCEEDED, details: "a service this one depends on did not answer in time", metadata };
  return { code: status.INTERNAL, details: "internal error", metadata };
}

/** A failed call's error back as the DomainError the server raised, when it was one. */
export function fromGrpcError(e: ServiceError): Error {
  const raw = e.metadata?.get(DETAIL_KEY)[0];
  if (raw instanceof Buffer) {
    const d = ErrorDetail.decode(raw);
    if (d.code === "VERSION_CONFLICT")
      return new VersionConflictError(d.details["streamId"] ?? "", Number(d.details["expectedVersion"]), Number(d.details["actualVersion"]));
    if (e.code === status.INVALID_ARGUMENT) return new ValidationError(d.code, d.details["field"] ?? "", d.message, d.details);
    return new DomainError(d.code, d.message, d.details);
  }
  return e;
}
