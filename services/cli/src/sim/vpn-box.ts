import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { BoxError, BoxTunnel, enrolBox, type BoxCredentials, type BoxSessionInfo } from "@tigw/vpn/box";
import { Api } from "../client.js";
import { type Context, parseDurationMs, UsageError } from "../commands/command.js";

/** Where a simulated box keeps its key and certificate (its "flash"), one file per account, readable by its owner only. */
export function boxStateFile(account: string, dir?: string): string {
  const base =
    dir ||
    process.env["TIGW_BOX_DIR"] ||
    join(process.env["TIGW_CONFIG_DIR"] || join(process.env["XDG_CONFIG_HOME"] || join(homedir(), ".config"), "tigw"), "boxes");
  return join(base, `${account}.json`);
}

/** host:port, the port 0-65535. */
export function parseListen(text: string): { host: string; port: number } {
  const m = /^([^:\s]+):(\d{1,5})$/.exec(text);
  if (!m || Number(m[2]) > 65535) throw new UsageError(`--listen is HOST:PORT (e.g. 127.0.0.1:8090), not ${text}`);
  return { host: m[1]!, port: Number(m[2]) };
}

/** The Zugangsmodul's address and the CAs a box trusts it by: from the options, or the portal's public answer. */
async function endpointOf(ctx: Context): Promise<{ address: string; caPems: string[] }> {
  const { o } = ctx;
  if (o.zugangsmodul && o.ca) return { address: o.zugangsmodul, caPems: [readFileSync(o.ca, "utf8")] };
  const r = await new Api(ctx.url).get<{ address: string; trustPems: string[] }>("/api/v1/portal/boxes/zugangsmodul");
  return { address: o.zugangsmodul ?? r.address, caPems: o.ca ? [readFileSync(o.ca, "utf8")] : r.trustPems };
}

const instancesText = (i: BoxSessionInfo) => i.instances.map((x) => `${x.unit} (${x.mandanten.join(", ")})`).join("; ") || "none bound yet";

/**
 * `tigw sim vpnbox`: one practice's VPN box. Enrols once with the portal's code (the key and
 * certificate are kept in a state file), connects, keeps the session and reconnects by itself,
 * and with --listen exposes the practice network's view on a local port. Runs until --duration
 * has passed or it is interrupted; exit 1 when the Zugangsmodul refuses the box for good.
 */
export async function runVpnBox(ctx: Context): Promise<number> {
  const { o, out, show } = ctx;
  const account = o.account;
  if (!account) throw new UsageError("missing --account (the practice account the box belongs to)");
  const listen = o.listen ? parseListen(o.listen) : undefined;
  const durationMs = o.duration ? parseDurationMs(o.duration) : undefined;
  const file = boxStateFile(account, o["state-dir"]);
  const { address, caPems } = await endpointOf(ctx);
  let creds: BoxCredentials;
  if (existsSync(file)) {
    creds = JSON.parse(readFileSync(file, "utf8")) as BoxCredentials;
    if (o.enrol) out(`box ${creds.boxId} of ${account} is enrolled already (${file}); the code is not used. Delete the file to enrol a new box.`);
  } else {
    if (!o.enrol) throw new UsageError(`no enrolled box for ${account} (${file}): give --enrol CODE (announce a box in the portal)`);
    creds = await enrolBox({ address, caPems, code: o.enrol });
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(file, JSON.stringify(creds, null, 2), { mode: 0o600 });
    out(`enrolled box ${creds.boxId} for ${creds.account}; key and certificate in ${file}`);
  }
  if (creds.account !== account) throw new UsageError(`the box in ${file} belongs to ${creds.account}, not ${account}`);
  const tunnel = new BoxTunnel({ ...creds, caPems }, address, { instance: o.instance });
  let refusal: { code: string; title: string } | undefined;
  const done = new Promise<void>((resolve) => {
    tunnel.on("connected", (i: BoxSessionInfo) =>
      out(`connected: session ${i.sessionId}, practice ${i.practiceName} (${i.account}); instances: ${instancesText(i)}`),
    );
    tunnel.on("disconnected", (why: string) => out(`tunnel down (${why}); reconnecting`));
    tunnel.on("refused", (r: { code: string; title: string; permanent: boolean }) => {
      out(`refused: ${r.code} ${r.title}${r.permanent ? "" : " (retrying)"}`);
      if (r.permanent) {
        refusal = r;
        resolve();
      }
    });
    if (durationMs !== undefined) setTimeout(resolve, durationMs);
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
  tunnel.start();
  const local = listen
    ? await tunnel.listen(listen.host, listen.port).catch((e: unknown) => {
        tunnel.stop();
        throw new BoxError("LISTEN_FAILED", `cannot listen on ${o.listen}: ${(e as Error).message}`);
      })
    : undefined;
  if (local) {
    out(`practice network: ${local.url} -> the Zugangsmodul at ${address} (GET /v1/session, /v1/instances)`);
    out(`Konnektor for practice software: ${local.url}/connector.sds${o.instance ? ` (instance ${o.instance})` : ""}`);
  }
  await done;
  tunnel.stop();
  local?.server.close();
  const summary = { boxId: creds.boxId, account, connects: tunnel.connects, drops: tunnel.drops, refused: refusal?.code ?? "" };
  show(summary, () => `box ${creds.boxId}: ${tunnel.connects} sessions, ${tunnel.drops} drops${refusal ? `, refused for good: ${refusal.code}` : ""}`);
  return refusal ? 1 : 0;
}
