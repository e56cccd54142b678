import { Api, ApiError } from "./client.js";
import { Credentials } from "./credentials.js";
import { type CommandGroup, type Context, parseCommandLine, UsageError } from "./commands/command.js";
import { account } from "./commands/account.js";
import { card } from "./commands/card.js";
import { clock } from "./commands/clock.js";
import { events } from "./commands/events.js";
import { fleet } from "./commands/fleet.js";
import { infomodell } from "./commands/infomodell.js";
import { kt } from "./commands/kt.js";
import { licence } from "./commands/licence.js";
import { mandant } from "./commands/mandant.js";
import { practice } from "./commands/practice.js";
import { pki } from "./commands/pki.js";
import { profile } from "./commands/profile.js";
import { sim } from "./commands/sim.js";
import { unit } from "./commands/unit.js";
import { user } from "./commands/user.js";
import { vpn } from "./commands/vpn.js";
import { vsd } from "./commands/vsd.js";
import { ksr } from "./commands/ksr.js";
import { box } from "./commands/box.js";

/**
 * The command table (the Command pattern): one module per command group under commands/, each a
 * CommandGroup naming its first words, its usage lines and how it runs. main only parses the command
 * line, looks the first word up here and hands over. A new group is one line in this list (and its
 * import); its usage lines join the help text in this order. One group per line (prettier-ignore
 * keeps it so), so adding a group is a one-line change that merges cleanly.
 */
// prettier-ignore
export const GROUPS: CommandGroup[] = [
  account,
  fleet,
  unit,
  mandant,
  licence,
  clock,
  kt,
  infomodell,
  card,
  sim,
  vsd,
  profile,
  user,
  events,
  vpn,
  ksr,
  practice,
  pki,
  box,
];

export const USAGE = `tigw: operate a ti-gateway fleet

${GROUPS.map((g) => g.usage).join("\n")}

Options: -o table|json (default table), --url URL (default $TIGW_URL or http://127.0.0.1:8080),
         --as USER (use that user's stored token). Exit code 0 ok, 1 refused or failed, 2 usage.`;

const byName = new Map(GROUPS.flatMap((g) => g.names.map((n) => [n, g] as const)));
const xmlCommands = GROUPS.flatMap((g) => (g.xmlVerbs ?? []).map((v) => `${g.names[0]} ${v}`));

export async function main(
  argv: string[],
  out: (s: string) => void = (s) => process.stdout.write(s + "\n"),
  err: (s: string) => void = (s) => process.stderr.write(s + "\n"),
): Promise<number> {
  try {
    const { values: o, positionals } = parseCommandLine(argv);
    const [word, verb, ...args] = positionals;
    if (o.help || !word) {
      out(USAGE);
      return o.help ? 0 : 2;
    }
    const unknown = () => new UsageError(`unknown command: tigw ${positionals.join(" ")}`);
    const group = byName.get(word);
    if (!group) throw unknown();
    if (o.output !== "table" && o.output !== "json" && !(o.output === "xml" && group.xmlVerbs?.includes(verb ?? "")))
      throw new UsageError(`-o must be table or json (xml for ${xmlCommands.join(", ")}), not ${o.output}`);
    const url = (o.url ?? process.env["TIGW_URL"] ?? "http://127.0.0.1:8080").replace(/\/+$/, "");
    const creds = new Credentials();
    const ctx: Context = {
      verb,
      args,
      o,
      url,
      output: o.output,
      out,
      show: (data, human) => out(o.output === "json" ? JSON.stringify(data, null, 2) : human()),
      creds,
      api() {
        const stored = creds.get(url, o.as);
        if (!stored) throw new ApiError(401, "UNAUTHENTICATED", `not logged in to ${url}: run tigw login --user U --password P`);
        return new Api(url, stored.token);
      },
      unknown,
    };
    return await group.run(ctx, word);
  } catch (e) {
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith?.("ERR_PARSE_ARGS")) {
      err(`usage error: ${(e as Error).message}\n\n${USAGE}`);
      return 2;
    }
    if (e instanceof ApiError) {
      const facts = Object.entries(e.details)
        .map(([k, v]) => `${k}=${v}`)
        .join(", ");
      err(`error ${e.code}: ${e.message}${facts ? ` (${facts})` : ""}`);
      if (e.code === "UNAUTHENTICATED") err("hint: tigw login --user U --password P");
      return 1;
    }
    err(`error: ${(e as Error).message}`);
    return 1;
  }
}
