import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { root } from "./support.js";
import { tempDir } from "@tigw/platform/testing";

/**
 * Every process checks every variable it reads before it does anything: started with one bad
 * value it exits with code 2 and a message naming the variable, in cluster mode (each service's
 * main.js, with the telemetry preload as deploy starts them) and in embedded mode alike.
 */
const register = join(root, "services/platform/dist/src/telemetry/register.js");
const dir = tempDir("tigw-config-");
const vendorKey = join(dir, "vendor.pem");
writeFileSync(vendorKey, generateKeyPairSync("ed25519").publicKey.export({ type: "spki", format: "pem" }));
const notAKey = join(dir, "not-a-key.pem");
writeFileSync(notAKey, "not a PEM\n");
const badProfiles = join(dir, "profiles.json");
writeFileSync(badProfiles, JSON.stringify([{ name: "tiny", computeUnits: 0, ktPerComputeUnit: 1, recommendedKts: 1, maxMandanten: 1 }]));
const key = randomBytes(32).toString("base64");

/** Bad values of what the telemetry preload reads (first, in every process). */
const PRELOAD: [string, string][] = [
  ["TIGW_SERVICE_NAME", "no spaces please"],
  ["TIGW_METRICS_PORT", "70000"],
  ["OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"],
];
const DB: [string, string][] = [
  ["DATABASE_URL", "mysql://db/tigw"],
  ["KAFKA_BROKERS", "kafka"],
];
const LOG: [string, string] = ["TIGW_LOG_LEVEL", "loud"];
const addr = (name: string): [string, string] => [name, "no-port"];

interface ProcessCase {
  name: string;
  script: string;
  /** Valid values of the variables it requires. */
  env: Record<string, string>;
  bad: [string, string][];
}

const PROCESSES: ProcessCase[] = [
  {
    name: "tenancy",
    script: "services/tenancy/dist/src/main.js",
    env: { DATABASE_URL: "postgres://127.0.0.1:1/x", KAFKA_BROKERS: "127.0.0.1:1", TIGW_VENDOR_PUBLIC_KEY_FILE: vendorKey },
    bad: [
      ...DB,
      LOG,
      ["TIGW_TENANCY_GRPC_HOST", "bad host!"],
      ["TIGW_TENANCY_GRPC_PORT", "port"],
      ["TIGW_VENDOR_PUBLIC_KEY_FILE", notAKey],
      ["TIGW_PROFILES_FILE", badProfiles],
    ],
  },
  {
    name: "hsm",
    script: "services/hsm/dist/src/main.js",
    env: { DATABASE_URL: "postgres://127.0.0.1:1/x", KAFKA_BROKERS: "127.0.0.1:1", TIGW_HSM_MASTER_KEY: key },
    bad: [
      ...DB,
      LOG,
      ["TIGW_HSM_GRPC_HOST", "bad host!"],
      ["TIGW_HSM_GRPC_PORT", "-1"],
      ["TIGW_HSM_MASTER_KEY", "c2hvcnQ="],
      ["TIGW_HSM_KEY_TYPE", "dsa"],
      ["TIGW_OCSP_HOST", "bad host!"],
      ["TIGW_OCSP_PORT", "eighty"],
      ["TIGW_OCSP_URL", "ftp://ocsp.example/"],
      ["TIGW_CLOCK", "fast"],
      ["TIGW_CLOCK_START", "first of March"],
      ["TIGW_HSM_TICK_SECONDS", "0"],
    ],
  },
  {
    name: "card-terminal",
    script: "services/card-terminal/dist/src/main.js",
    env: { DATABASE_URL: "postgres://127.0.0.1:1/x", KAFKA_BROKERS: "127.0.0.1:1", TIGW_CARD_TERMINAL_MASTER_KEY: key },
    bad: [
      ...DB,
      LOG,
      ["TIGW_CARD_TERMINAL_GRPC_HOST", "bad host!"],
      ["TIGW_CARD_TERMINAL_GRPC_PORT", "65536"],
      addr("TIGW_TENANCY_ADDR"),
      addr("TIGW_HSM_ADDR"),
      ["TIGW_CARD_TERMINAL_MASTER_KEY", "abc"],
      ["TIGW_CLOCK", "simulated"],
    ],
  },
  {
    name: "ksr",
    script: "services/ksr/dist/src/main.js",
    env: { DATABASE_URL: "postgres://127.0.0.1:1/x", KAFKA_BROKERS: "127.0.0.1:1" },
    bad: [
      ...DB,
      LOG,
      ["TIGW_KSR_GRPC_HOST", "bad host!"],
      ["TIGW_KSR_GRPC_PORT", "65536"],
      addr("TIGW_TENANCY_ADDR"),
      addr("TIGW_HSM_ADDR"),
      ["TIGW_KSR_TICK_SECONDS", "0"],
      ["TIGW_KSR_SOAP_PORT", "soap"],
      ["TIGW_CLOCK", "simulated"],
    ],
  },
  {
    name: "vpn",
    script: "services/vpn/dist/src/main.js",
    env: { DATABASE_URL: "postgres://127.0.0.1:1/x", KAFKA_BROKERS: "127.0.0.1:1", TIGW_VPN_MASTER_KEY: key },
    bad: [
      ...DB,
      ["TIGW_VPN_GRPC_PORT", "65536"],
      ["TIGW_VPNZUGD_PORT", "port"],
      ["TIGW_VPN_HEARTBEAT_SECONDS", "0"],
      ["TIGW_VPN_MASTER_KEY", "abc"],
      ["TIGW_ZUGANGSMODUL_PORT", "box"],
      ["TIGW_ZUGANGSMODUL_HEARTBEAT_SECONDS", "0"],
      ["TIGW_CLOCK", "simulated"],
    ],
  },
  {
    name: "vsdm",
    script: "services/vsdm/dist/src/main.js",
    env: { DATABASE_URL: "postgres://127.0.0.1:1/x", KAFKA_BROKERS: "127.0.0.1:1" },
    bad: [
      ...DB,
      LOG,
      ["TIGW_VSDM_GRPC_HOST", "bad host!"],
      ["TIGW_VSDM_GRPC_PORT", "x"],
      addr("TIGW_TENANCY_ADDR"),
      addr("TIGW_HSM_ADDR"),
      addr("TIGW_CARD_TERMINAL_ADDR"),
      ["TIGW_VSDM_POPULATION", "0"],
      ["TIGW_VSDM_POPULATION_SEED", "seed"],
      ["TIGW_FACHDIENST_LATENCY_MS", "-5"],
      ["TIGW_VSDM_MAX_OFFLINE_DAYS", "ninety"],
      ["TIGW_CLOCK", "simulated"],
    ],
  },
  {
    name: "gateway",
    script: "services/gateway/dist/src/main.js",
    env: { DATABASE_URL: "postgres://127.0.0.1:1/x" },
    bad: [
      ["DATABASE_URL", "not a url"],
      LOG,
      addr("TIGW_TENANCY_ADDR"),
      addr("TIGW_HSM_ADDR"),
      addr("TIGW_CARD_TERMINAL_ADDR"),
      addr("TIGW_VSDM_ADDR"),
      addr("TIGW_KSR_ADDR"),
      ["TIGW_HTTP_HOST", "bad host!"],
      ["TIGW_HTTP_PORT", "http"],
      ["TIGW_ADMIN_PASSWORD", "Pw-4711"],
      ["TIGW_TOKEN_SECRET", "tok-0815-secret"],
      ["TIGW_TOKEN_TTL_SECONDS", "5"],
    ],
  },
  {
    name: "embedded",
    script: "services/launcher/dist/src/embedded.js",
    env: { TIGW_DATA_DIR: join(dir, "data"), TIGW_HTTP_PORT: "0", TIGW_OCSP_PORT: "0" },
    bad: [
      LOG,
      ["TIGW_DATA_DIR", vendorKey],
      ["TIGW_HTTP_HOST", "bad host!"],
      ["TIGW_HTTP_PORT", "99999"],
      ["TIGW_ADMIN_PASSWORD", "Pw-4711"],
      ["TIGW_TOKEN_TTL_SECONDS", "1"],
      ["TIGW_VENDOR_PUBLIC_KEY_FILE", join(dir, "missing.pem")],
      ["TIGW_PROFILES_FILE", badProfiles],
      ["TIGW_OCSP_PORT", "ocsp"],
      ["TIGW_CLOCK", "fast"],
      ["TIGW_CLOCK_START", "2025-13-45"],
      ["TIGW_HSM_MASTER_KEY", "abc"],
      ["TIGW_HSM_TICK_SECONDS", "-1"],
      ["TIGW_VSDM_MAX_OFFLINE_DAYS", "9999"],
      ["TIGW_KSR_TICK_SECONDS", "soon"],
      ["TIGW_KSR_SOAP_PORT", "-2"],
    ],
  },
];

/** Runs a node script (after the preload) to its end; killed after 3 minutes: one that starts did not check. */
function run(args: string[], env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  // Only PATH from this environment: the test's own DATABASE_URL and the like must not leak in.
  const child = spawn(process.execPath, ["--require", register, ...args], {
    cwd: dir,
    env: { PATH: process.env["PATH"] ?? "", TIGW_METRICS_PORT: "0", ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), 180_000);
  return new Promise((res) =>
    child.once("exit", (code) => {
      clearTimeout(timer);
      res({ code, stderr });
    }),
  );
}

/**
 * Started with every variable bad at once, the process exits 2 with one line naming each: every
 * variable is checked (a process reports all bad ones together, so one start per process suffices).
 */
async function assertRefused(args: string[], env: Record<string, string>, bad: [string, string][]): Promise<void> {
  const r = await run(args, { ...env, ...Object.fromEntries(bad) });
  const lines = r.stderr.split("\n").filter((l) => l.startsWith("configuration error: "));
  assert.equal(r.code, 2, r.stderr.slice(0, 2000));
  assert.deepEqual(
    bad.map(([variable]) => variable).filter((v) => !lines.some((l) => l.startsWith(`configuration error: ${v}: `))),
    [],
    `variables not named:\n${r.stderr}`,
  );
  assert.equal(lines.length, bad.length, r.stderr);
  // A secret's value never reaches the message.
  for (const [variable, value] of bad)
    if (/SECRET|PASSWORD|MASTER_KEY/.test(variable)) assert.ok(!r.stderr.includes(value), `${variable}'s value is in the message`);
}

describe("every process checks every variable it reads (exit 2 naming it)", () => {
  it("the telemetry preload every process starts with", async () => {
    await assertRefused(["-e", ""], {}, PRELOAD);
  });
  for (const p of PROCESSES) {
    it(`${p.name}: ${p.bad.length} variables`, async () => {
      await assertRefused([join(root, p.script)], p.env, p.bad);
    });
  }
});
