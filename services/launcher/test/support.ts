import { execFile, spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { join, resolve } from "node:path";

export const root = resolve(__dirname, "../../../..");
const tigwBin = join(root, "services/cli/bin/tigw.js");

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once("error", rej).listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => res(port));
    });
  });
}

/** Starts a node script as a child and resolves once its stdout matched `ready` (with all output so far). */
export function startProcess(args: string[], env: Record<string, string>, ready: RegExp, timeoutMs = 120_000): Promise<{ child: ChildProcess; output: () => string }> {
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
