import { ValidationError } from "@tigw/platform";

/** Reads a string field of a JSON body; a missing required or non-string one is INVALID_REQUEST naming it. */
export function field(body: unknown, name: string, opts: { optional?: boolean } = {}): string {
  const v = body && typeof body === "object" ? (body as Record<string, unknown>)[name] : undefined;
  if (v === undefined || v === null || v === "") {
    if (opts.optional) return "";
    throw new ValidationError("INVALID_REQUEST", name, `${name} is required`);
  }
  if (typeof v !== "string") throw new ValidationError("INVALID_REQUEST", name, `${name} must be a string`);
  return v;
}

const str = { type: "string" } as const;
/** JSON schema of an object body whose listed properties are strings. */
export const stringsBody = (required: string[], optional: string[] = []) => ({
  type: "object",
  required,
  properties: Object.fromEntries([...required, ...optional].map((k) => [k, str])),
});
