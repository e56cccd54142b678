import { accessSync, constants, existsSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { loadMasterKey } from "./secret-vault.js";

/**
 * Configuration from environment variables, validated once at start. A bad or missing value
 * raises a ConfigError naming the variable; `exitOnConfigError` turns that into a clear message
 * and exit code 2 instead of a stack trace.
 */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
  }
}

type Env = Record<string, string | undefined>;

interface Spec<T> {
  parse(raw: string, name: string): T;
  default?: T;
  optional?: boolean;
}

type OptionalOpt = { optional?: boolean };
/** Keeps `optional: true` in a spec's type, so the loaded value's type includes undefined. */
type Optional<O> = O extends { optional: true } ? { optional: true } : OptionalOpt;

export const str = (opts: { default?: string; optional?: boolean } = {}): Spec<string> => ({
  parse: (raw) => raw,
  ...opts,
});

export const int = (opts: { default?: number; min?: number; max?: number } = {}): Spec<number> => ({
  default: opts.default,
  parse(raw, name) {
    if (!/^-?\d+$/.test(raw.trim())) throw new ConfigError(name, `expected an integer, got "${raw}"`);
    const n = Number(raw);
    if (opts.min !== undefined && n < opts.min) throw new ConfigError(name, `must be at least ${opts.min}, got ${n}`);
    if (opts.max !== undefined && n > opts.max) throw new ConfigError(name, `must be at most ${opts.max}, got ${n}`);
    return n;
  },
});

export const oneOf = <T extends string>(values: readonly T[], opts: { default?: T } = {}): Spec<T> => ({
  default: opts.default,
  parse(raw, name) {
    if (!(values as readonly string[]).includes(raw)) throw new ConfigError(name, `must be one of ${values.join(", ")}, got "${raw}"`);
    return raw as T;
  },
});

export const url = (protocols: string[], opts: { default?: string; optional?: boolean } = {}): Spec<string> => ({
  ...opts,
  parse(raw, name) {
    let u: URL;
    try {
      u = new URL(raw);
    } catch {
      throw new ConfigError(name, `not a URL: "${raw}"`);
    }
    if (!protocols.includes(u.protocol.replace(/:$/, ""))) throw new ConfigError(name, `scheme must be ${protocols.join(" or ")}, got "${u.protocol}"`);
    return raw;
  },
});

/** A 32-byte key given as 64 hex digits or base64 (master keys). */
export const secretKey = <O extends OptionalOpt>(opts?: O): Spec<Buffer> & Optional<O> => ({
  ...(opts as Optional<O>),
  parse(raw, name) {
    try {
      return loadMasterKey({ value: raw, variable: name });
    } catch (e) {
      throw new ConfigError(name, (e as Error).message);
    }
  },
});

/** Comma-separated host:port list, as in KAFKA_BROKERS. */
export const hostPorts = (opts: { optional?: boolean } = {}): Spec<string[]> => ({
  ...opts,
  parse(raw, name) {
    const list = raw
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
    for (const hp of list)
      if (!/^[\w.-]+:\d{1,5}$/.test(hp) && !/^\[[\da-f:]+\]:\d{1,5}$/i.test(hp)) throw new ConfigError(name, `expected host:port[,host:port...], got "${hp}"`);
    if (list.length === 0) throw new ConfigError(name, "is empty");
    return list;
  },
});

/** A point in time, ISO 8601 (2025-03-01 or 2025-03-01T08:00:00Z). */
export const date = <O extends OptionalOpt>(opts?: O): Spec<Date> & Optional<O> => ({
  ...(opts as Optional<O>),
  parse(raw, name) {
    const d = new Date(raw);
    if (!/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(raw.trim()) || Number.isNaN(d.getTime())) {
      throw new ConfigError(name, `not a date: "${raw}" (ISO 8601, e.g. 2025-03-01 or 2025-03-01T08:00:00Z)`);
    }
    return d;
  },
});

const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[?[\da-fA-F:]+\]?)$/;

/** A host name or IP address to listen on or to reach. */
export const host = (opts: { default?: string } = {}): Spec<string> => ({
  ...opts,
  parse(raw, name) {
    if (!HOST.test(raw)) throw new ConfigError(name, `not a host name or IP address: "${raw}"`);
    return raw;
  },
});

/** One host:port, the address of another service. */
export const address = (opts: { default?: string } = {}): Spec<string> => ({
  ...opts,
  parse(raw, name) {
    const m = /^(.+):(\d{1,5})$/.exec(raw);
    if (!m || !HOST.test(m[1]!) || Number(m[2]) > 65535) throw new ConfigError(name, `expected host:port, got "${raw}"`);
    return raw;
  },
});

/** A directory the process writes to: an existing one, or one it can create. */
export const directory = (opts: { default?: string } = {}): Spec<string> => ({
  ...opts,
  parse(raw, name) {
    let dir = resolve(raw);
    while (!existsSync(dir)) dir = dirname(dir);
    if (!statSync(dir).isDirectory()) throw new ConfigError(name, `not a directory: "${dir}"`);
    try {
      accessSync(dir, constants.W_OK);
    } catch {
      throw new ConfigError(name, `directory not writable: "${dir}"`);
    }
    return raw;
  },
});

/**
 * A value read by a function from the raw text (a file's contents, a password's rules); whatever
 * it throws becomes a ConfigError naming the variable.
 */
export const parsed = <T, O extends OptionalOpt & { default?: T } = OptionalOpt>(read: (raw: string) => T, opts?: O): Spec<T> & Optional<O> => ({
  ...(opts as Optional<O>),
  parse(raw, name) {
    try {
      return read(raw);
    } catch (e) {
      throw e instanceof ConfigError ? e : new ConfigError(name, (e as Error).message);
    }
  },
});

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
/** TIGW_LOG_LEVEL, read by every process: pass it to createLogger. */
export const logLevel = (): Spec<(typeof LOG_LEVELS)[number]> => oneOf(LOG_LEVELS, { default: "info" });

type Result<S> = { [K in keyof S]: S[K] extends Spec<infer T> ? (S[K] extends { optional: true } ? T | undefined : T) : never };

/**
 * Reads every variable of the spec. All bad ones are reported together (a ConfigErrors), so an
 * operator fixes them in one go; one bad variable is a plain ConfigError.
 */
export function loadConfig<S extends Record<string, Spec<unknown>>>(spec: S, env: Env = process.env): Result<S> {
  const out: Record<string, unknown> = {};
  const errors: ConfigError[] = [];
  for (const [name, s] of Object.entries(spec)) {
    const raw = env[name];
    try {
      if (raw === undefined || raw === "") {
        if (s.default !== undefined) out[name] = s.default;
        else if (s.optional) out[name] = undefined;
        else throw new ConfigError(name, "is required but not set");
        continue;
      }
      out[name] = s.parse(raw, name);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      errors.push(e);
    }
  }
  if (errors.length === 1) throw errors[0]!;
  if (errors.length > 1) throw new ConfigErrors(errors);
  return out as Result<S>;
}

/** Several bad variables at once. */
export class ConfigErrors extends ConfigError {
  constructor(readonly errors: ConfigError[]) {
    super(errors.map((e) => e.variable).join(", "), `${errors.length} variables are bad:\n${errors.map((e) => e.message).join("\n")}`);
  }
}

/** Loads the configuration; on a ConfigError prints one line per bad variable and exits with code 2. */
export function exitOnConfigError<T>(load: () => T): T {
  try {
    return load();
  } catch (e) {
    if (e instanceof ConfigError) exitWithConfigError(e);
    throw e;
  }
}

export function exitWithConfigError(e: ConfigError): never {
  for (const one of e instanceof ConfigErrors ? e.errors : [e]) process.stderr.write(`configuration error: ${one.message}\n`);
  process.exit(2);
}
