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
export const secretKey = (): Spec<Buffer> => ({
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
    const list = raw.split(",").map((s) => s.trim()).filter(Boolean);
    for (const hp of list) if (!/^[\w.-]+:\d{1,5}$/.test(hp) && !/^\[[\da-f:]+\]:\d{1,5}$/i.test(hp)) throw new ConfigError(name, `expected host:port[,host:port...], got "${hp}"`);
    if (list.length === 0) throw new ConfigError(name, "is empty");
    return list;
  },
});

type Result<S> = { [K in keyof S]: S[K] extends Spec<infer T> ? (S[K] extends { optional: true } ? T | undefined : T) : never };

export function loadConfig<S extends Record<string, Spec<unknown>>>(spec: S, env: Env = process.env): Result<S> {
  const out: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(spec)) {
    const raw = env[name];
    if (raw === undefined || raw === "") {
      if (s.default !== undefined) out[name] = s.default;
      else if (s.optional) out[name] = undefined;
      else throw new ConfigError(name, "is required but not set");
      continue;
    }
    out[name] = s.parse(raw, name);
  }
  return out as Result<S>;
}

export function exitOnConfigError<T>(load: () => T): T {
  try {
    return load();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`configuration error: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
}
