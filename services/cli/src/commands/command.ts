import { parseArgs } from "node:util";
import type { Api } from "../client.js";
import type { Credentials } from "../credentials.js";

/** A mistake in the command line: exit 2 with the usage text. */
export class UsageError extends Error {}

/**
 * Every option any command takes. One table for all groups, so `tigw` parses the command line
 * once (strictly: an unknown option is a usage error) before it knows the group.
 */
export const OPTIONS = {
  output: { type: "string", short: "o", default: "table" },
  url: { type: "string" },
  as: { type: "string" },
  user: { type: "string" },
  password: { type: "string" },
  serial: { type: "string" },
  profile: { type: "string" },
  firmware: { type: "string" },
  produced: { type: "string" },
  reason: { type: "string" },
  id: { type: "string" },
  name: { type: "string" },
  bsnr: { type: "string" },
  iccsn: { type: "string" },
  role: { type: "string" },
  "kt-per-compute-unit": { type: "string" },
  feature: { type: "string", multiple: true },
  key: { type: "string" },
  out: { type: "string" },
  within: { type: "string" },
  "ct-id": { type: "string" },
  mac: { type: "string" },
  address: { type: "string" },
  vendor: { type: "string" },
  model: { type: "string" },
  unit: { type: "string" },
  cert: { type: "string" },
  mandant: { type: "string" },
  "client-system": { type: "string" },
  workplace: { type: "string" },
  kind: { type: "string" },
  count: { type: "string" },
  prefix: { type: "string" },
  hold: { type: "string" },
  pin: { type: "string" },
  kvnr: { type: "string" },
  pruefkarte: { type: "string" },
  "online-check": { type: "boolean" },
  receipt: { type: "boolean" },
  outcome: { type: "string" },
  from: { type: "string" },
  to: { type: "string" },
  limit: { type: "string" },
  totp: { type: "string" },
  "new-password": { type: "string" },
  type: { type: "string" },
  slot: { type: "string" },
  mode: { type: "string" },
  help: { type: "boolean", short: "h" },
  // vpn: tigw vpn register --contract-id C [--sis], tigw sim vpnzugd contract add --customer N
  "contract-id": { type: "string" },
  sis: { type: "boolean" },
  customer: { type: "string" },
  // ksr: tigw ksr publish ..., tigw unit update UNIT --version V, tigw unit update-settings UNIT --window W --auto on|off
  "update-id": { type: "string" },
  "after-terminals": { type: "boolean" },
  product: { type: "string" },
  version: { type: "string" },
  priority: { type: "string" },
  start: { type: "string" },
  deadline: { type: "string" },
  notes: { type: "string" },
  "approved-until": { type: "string" },
  window: { type: "string" },
  auto: { type: "string" },
  "auto-download": { type: "string" },
  offline: { type: "string" },
  // VPN boxes: tigw box list --account A, tigw sim vpnbox --account A --enrol CODE --listen H:P
  account: { type: "string" },
  enrol: { type: "string" },
  listen: { type: "string" },
  zugangsmodul: { type: "string" },
  ca: { type: "string" },
  "state-dir": { type: "string" },
  instance: { type: "string" },
  via: { type: "string" },
  duration: { type: "string" },
  rate: { type: "string" },
} as const;

/** The parsed command line: options by name, positionals in order. */
export function parseCommandLine(argv: string[]) {
  return parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
}
export type Options = ReturnType<typeof parseCommandLine>["values"];

/** What a command group gets: its words, the options, where to print, and the API. */
export interface Context {
  /** The word after the group (`create` in `tigw unit create`), if any. */
  verb: string | undefined;
  /** The positionals after the verb. */
  args: (string | undefined)[];
  o: Options;
  url: string;
  /** -o xml (only where the group allows it). */
  output: string;
  out(text: string): void;
  /** Prints `data` as JSON with -o json, else the human text. */
  show(data: unknown, human: () => string): void;
  creds: Credentials;
  /** The admin API with the stored token; an ApiError UNAUTHENTICATED when not logged in. */
  api(): Api;
  /** The usage error for a command line no group knows (`unknown command: tigw ...`). */
  unknown(): UsageError;
}

/**
 * A command group: the module behind the first word(s) of a command line. `main` looks the first
 * word up in its command table and hands over; the group does the rest.
 */
export interface CommandGroup {
  /** The first words this group answers to (`unit`; the account group has login, logout, ...). */
  names: string[];
  /** Its lines of the usage text. */
  usage: string;
  /** The verbs that may print -o xml (the gematik XML shapes). */
  xmlVerbs?: string[];
  /** Runs the command; the exit code (0 ok, 1 refused or failed). */
  run(ctx: Context, group: string): Promise<number>;
}

export function need(v: string | undefined, flag: string): string {
  if (!v) throw new UsageError(`missing ${flag}`);
  return v;
}

const UNITS_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
export function parseDurationMs(text: string): number {
  const m = /^(\d+)(s|m|h|d)$/.exec(text);
  if (!m) throw new UsageError(`not a duration: ${text} (e.g. 30s, 5m, 24h, 7d)`);
  return Number(m[1]) * UNITS_MS[m[2]!]!;
}

/** A time option: ISO 8601 as given, or a span back from now (24h, 7d) as an ISO time. */
export function timeArg(text: string | undefined, now = Date.now()): string | undefined {
  if (!text) return undefined;
  return /^\d+[smhd]$/.test(text) ? new Date(now - parseDurationMs(text)).toISOString() : text;
}

/** The REST path of a unit (by id or serial). */
export const unitPath = (u: string | undefined) => `/api/v1/units/${encodeURIComponent(need(u, "UNIT"))}`;

/** The day of an ISO time. */
export const day = (iso: string) => iso.slice(0, 10);
