/**
 * A refusal by the domain. `code` is stable and machine-readable: a gematik code such as "4010"
 * where the specification defines one, otherwise an UPPER_SNAKE name such as "KT_LIMIT_REACHED".
 * `details` names the facts (field, unit, limit ...) so the caller can tell what was wrong.
 */
export class DomainError extends Error {
  override readonly name = "DomainError";
  constructor(
    readonly code: string,
    message: string,
    readonly details: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** The stream moved on since it was read: another writer appended first. */
export class VersionConflictError extends DomainError {
  constructor(
    readonly streamId: string,
    readonly expectedVersion: number,
    readonly actualVersion: number,
  ) {
    super("VERSION_CONFLICT", `stream ${streamId}: expected version ${expectedVersion}, found ${actualVersion}`, {
      streamId,
      expectedVersion: String(expectedVersion),
      actualVersion: String(actualVersion),
    });
  }
}

/** An input that failed validation; `field` names it. */
export class ValidationError extends DomainError {
  constructor(code: string, field: string, message: string, details: Record<string, string> = {}) {
    super(code, message, { field, ...details });
  }
}
