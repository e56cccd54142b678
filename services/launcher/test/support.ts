import assert from "node:assert/strict";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { join, resolve } from "node:path";

export const root = resolve(__dirname, "../../../..");
const tigwBin = join(root, "services/cli/bin/tigw.js");

const handedOut = new Set<number>();
/**
 * A port free at the moment, and never one this process handed out before: asked for several in a
 * row, the kernel may offer a just-closed port again (two services on one port, EADDRINUSE).
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((res, rej) => {
      const s = createServer();
      s.once("error", rej).listen(0, "127.0.0.1", () => {
        const { port } = s.address() as { port: number };
        s.close(() => res(port));
      });
    });
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

/** Starts a node script as a child and resolves once its stdout matched `ready` (with all output so far). */
export function startProcess(
  args: string[],
  env: Record<string, string>,
  ready: RegExp,
  timeoutMs = 240_000,
): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  return new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`not ready after ${timeoutMs} ms:\n${out}`)), timeoutMs);
    const onData = (d: Buffer) => {
      out += d.toString();
      if (ready.test(out)) {
        clearTimeout(timer);
        res({ child, output: () => out });
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      rej(new Error(`exited with ${code} before ready:\n${out}`));
    });
  });
}

/**
 * `npm start`'s launcher as a child (telemetry preloaded as in production) on `port` (default a free one), with
 * the metrics and OCSP ports free too; resolves once it printed its banner.
 */
export async function startEmbedded(o: {
  dataDir: string;
  adminPassword: string;
  port?: number;
  env?: Record<string, string>;
  args?: string[];
}): Promise<{ url: string; port: number; child: ChildProcess; output: () => string }> {
  const port = o.port ?? (await freePort());
  const p = await startProcess(
    ["--require", join(root, "services/platform/dist/src/telemetry/register.js"), join(root, "services/launcher/dist/src/embedded.js"), ...(o.args ?? [])],
    {
      TIGW_DATA_DIR: o.dataDir,
      TIGW_HTTP_PORT: String(port),
      TIGW_METRICS_PORT: "0",
      TIGW_OCSP_PORT: "0",
      TIGW_VPNZUGD_PORT: "0",
      TIGW_ZUGANGSMODUL_PORT: "0",
      TIGW_SOAP_PORT_BASE: "0",
      TIGW_KSR_SOAP_PORT: "0",
      TIGW_ADMIN_PASSWORD: o.adminPassword,
      TIGW_CLOCK: "",
      ...o.env,
    },
    /CLI\s+TIGW_URL=/,
  );
  return { ...p, port, url: `http://127.0.0.1:${port}` };
}

export function stopProcess(child: ChildProcess, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((res) => {
    child.once("exit", () => res());
    child.kill(signal);
  });
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the tigw command as an operator would: a separate process, configured by environment. */
export function tigw(env: Record<string, string>, ...args: string[]): Promise<CliResult> {
  return new Promise((res) => {
    execFile(process.execPath, [tigwBin, ...args], { cwd: root, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      res({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** The CLI's stdout, after asserting it succeeded. */
export function ok(r: CliResult, what: string): string {
  assert.equal(r.code, 0, `${what}: ${r.stderr}`);
  return r.stdout;
}

/**
 * Seed 004's technician check through the tigw CLI (logged in already): a unit with a Mandant,
 * a paired terminal with a local workplace, registered at the VPN-ZugD, the SMC-B (first read refused with 3041, then
 * unlocked), Prüfkarte 0001 read with online check and receipt. Returns the handles and the
 * printed read.
 */
export async function pruefkarteCheck(
  t: (...args: string[]) => Promise<CliResult>,
  unit: string,
): Promise<{ egkHandle: string; smcbHandle: string; readOutput: string }> {
  ok(await t("unit", "create", "--serial", unit, "--profile", "rz"), "unit");
  ok(await t("mandant", "add", unit, "--id", "praxis-1", "--name", "Hausarztpraxis"), "mandant");
  ok(await t("sim", "kt", "--unit", unit, "--mandant", "praxis-1", "--count", "1", "--prefix", "KT-"), "terminal");
  ok(await t("infomodell", unit, "client-system", "--mandant", "praxis-1", "--client-system", "PVS1"), "client system");
  ok(await t("infomodell", unit, "workplace", "--mandant", "praxis-1", "--workplace", "AP1", "--client-system", "PVS1"), "workplace");
  ok(await t("infomodell", unit, "workplace-terminal", "--workplace", "AP1", "--ct-id", "KT-001", "--kind", "local"), "local terminal");
  const smcb = JSON.parse(ok(await t("sim", "card", "insert", "KT-001", "--type", "SMC-B", "--slot", "2", "--pin", "123456", "-o", "json"), "SMC-B")) as {
    cardHandle: string;
    iccsn: string;
  };
  ok(await t("infomodell", unit, "smb", "--mandant", "praxis-1", "--iccsn", smcb.iccsn), "managed SM-B");
  // TI access (off by default): the VPN-ZugD registration, signed with the managed SM-B.
  ok(await t("sim", "vpnzugd", "contract", "add", "--id", `VTR-${unit}`), "VPN-ZugD contract");
  ok(await t("vpn", "register", unit, "--contract-id", `VTR-${unit}`), "VPN-ZugD registration");
  const egk = JSON.parse(ok(await t("sim", "egk", "insert", "KT-001", "--slot", "1", "--pruefkarte", "1", "-o", "json"), "Prüfkarte")) as {
    cardHandle: string;
  };
  const read = [
    "vsd",
    "read",
    "--unit",
    unit,
    "--mandant",
    "praxis-1",
    "--workplace",
    "AP1",
    "--ct-id",
    "KT-001",
    "--slot",
    "1",
    "--online-check",
    "--receipt",
  ];
  const locked = await t(...read);
  assert.equal(locked.code, 1);
  assert.match(locked.stderr, /error 3041/);
  ok(await t("card", "pin", "verify", smcb.cardHandle, "--pin", "123456"), "PIN");
  return { egkHandle: egk.cardHandle, smcbHandle: smcb.cardHandle, readOutput: ok(await t(...read), "read") };
}
