/**
 * `npm run start:cluster [-- --demo]`: one process per service on real PostgreSQL and Kafka. Brings the local
 * infrastructure up with deploy/local/up.sh unless DATABASE_URL and KAFKA_BROKERS are set, starts
 * tenancy, waits for its grpc.health.v1, then the gateway. Stops everything when one exits.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { checkHealth } from "@tigw/platform";
import { loadMasterKey } from "@tigw/hsm";
import { seedDemoFleet } from "./demo.js";
import { grpcDemo } from "./demo-grpc.js";
import { ensureDemoVendorKey } from "./vendor-key.js";

const root = resolve(__dirname, "../../../..");
const register = join(root, "services/platform/dist/src/telemetry/register.js");

function infrastructure(): Record<string, string> {
  if (process.env["DATABASE_URL"] && process.env["KAFKA_BROKERS"])
    return { DATABASE_URL: process.env["DATABASE_URL"], KAFKA_BROKERS: process.env["KAFKA_BROKERS"] };
  process.stdout.write("bringing up PostgreSQL and Kafka (deploy/local/up.sh) ...\n");
  const exports = execFileSync("bash", [join(root, "deploy/local/up.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  const env: Record<string, string> = {};
  for (const m of exports.matchAll(/(\w+)=(\S+)/g)) env[m[1]!] = m[2]!;
  return env;
}

async function healthy(name: string, address: string): Promise<void> {
  for (let i = 0; ; i++) {
    if ((await checkHealth(address).catch(() => "")) === "SERVING") return;
    if (i > 240) throw new Error(`${name} did not become healthy at ${address}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function main(): Promise<void> {
  const infra = infrastructure();
  const dataDir = resolve(process.env["TIGW_DATA_DIR"] ?? "./.tigw-cluster");
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const vendor = ensureDemoVendorKey(dataDir);
  const grpcPort = process.env["TIGW_TENANCY_GRPC_PORT"] ?? "50051";
  const children: ChildProcess[] = [];
  let stopping = false;
  const stopAll = (code: number) => {
    if (stopping) return;
    stopping = true;
    for (const c of children) c.kill("SIGTERM");
    setTimeout(() => process.exit(code), 3000).unref();
    void Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once("exit", r))))).then(() => process.exit(code));
  };
  const run = (name: string, script: string, env: Record<string, string>) => {
    const child = spawn(process.execPath, ["--require", register, join(root, script)], {
      env: { ...process.env, ...infra, TIGW_SERVICE_NAME: name, ...env },
      stdio: ["ignore", "inherit", "inherit"],
    });
    child.once("exit", (code) => {
      if (!stopping) process.stderr.write(`${name} exited (${code}); stopping the cluster\n`);
      stopAll(code ?? 1);
    });
    children.push(child);
  };
  process.once("SIGINT", () => stopAll(0)).once("SIGTERM", () => stopAll(0));

  run("tenancy", "services/tenancy/dist/src/main.js", {
    TIGW_TENANCY_GRPC_PORT: grpcPort,
    TIGW_METRICS_PORT: process.env["TIGW_TENANCY_METRICS_PORT"] ?? "9464",
    TIGW_VENDOR_PUBLIC_KEY_FILE: [vendor.publicKeyFile, process.env["TIGW_VENDOR_PUBLIC_KEY_FILE"]].filter(Boolean).join(","),
  });
  const address = `127.0.0.1:${grpcPort}`;
  await healthy("tenancy", address);
  const hsmPort = process.env["TIGW_HSM_GRPC_PORT"] ?? "50052";
  run("hsm", "services/hsm/dist/src/main.js", {
    TIGW_HSM_GRPC_PORT: hsmPort,
    TIGW_METRICS_PORT: process.env["TIGW_HSM_METRICS_PORT"] ?? "9466",
    TIGW_HSM_MASTER_KEY: process.env["TIGW_HSM_MASTER_KEY"] ?? loadMasterKey({ file: join(dataDir, "secrets", "hsm-master.key") }).toString("base64"),
  });
  const hsmAddress = `127.0.0.1:${hsmPort}`;
  await healthy("hsm", hsmAddress);
  // hsm keeps the fleet's clock; with TIGW_CLOCK=simulated the services that judge validity follow it.
  const clock = { TIGW_CLOCK: process.env["TIGW_CLOCK"] === "simulated" ? "hsm" : "system" };
  const ktPort = process.env["TIGW_CARD_TERMINAL_GRPC_PORT"] ?? "50053";
  run("card-terminal", "services/card-terminal/dist/src/main.js", {
    ...clock,
    TIGW_CARD_TERMINAL_GRPC_PORT: ktPort,
    TIGW_METRICS_PORT: process.env["TIGW_CARD_TERMINAL_METRICS_PORT"] ?? "9467",
    TIGW_TENANCY_ADDR: address,
    TIGW_HSM_ADDR: hsmAddress,
    TIGW_CARD_TERMINAL_MASTER_KEY:
      process.env["TIGW_CARD_TERMINAL_MASTER_KEY"] ?? loadMasterKey({ file: join(dataDir, "secrets", "card-terminal-master.key") }).toString("base64"),
  });
  const ktAddress = `127.0.0.1:${ktPort}`;
  await healthy("card-terminal", ktAddress);
  const ksrPort = process.env["TIGW_KSR_GRPC_PORT"] ?? "50056";
  run("ksr", "services/ksr/dist/src/main.js", {
    ...clock,
    TIGW_KSR_GRPC_PORT: ksrPort,
    TIGW_KSR_SOAP_PORT: process.env["TIGW_KSR_SOAP_PORT"] ?? "8444",
    TIGW_METRICS_PORT: process.env["TIGW_KSR_METRICS_PORT"] ?? "9470",
    TIGW_TENANCY_ADDR: address,
    TIGW_HSM_ADDR: hsmAddress,
    TIGW_CARD_TERMINAL_ADDR: ktAddress,
  });
  const ksrAddress = `127.0.0.1:${ksrPort}`;
  await healthy("ksr", ksrAddress);
  const vpnPort = process.env["TIGW_VPN_GRPC_PORT"] ?? "50055";
  run("vpn", "services/vpn/dist/src/main.js", {
    ...clock,
    TIGW_VPN_GRPC_PORT: vpnPort,
    TIGW_METRICS_PORT: process.env["TIGW_VPN_METRICS_PORT"] ?? "9469",
    TIGW_VPNZUGD_PORT: process.env["TIGW_VPNZUGD_PORT"] ?? "8443",
    TIGW_ZUGANGSMODUL_PORT: process.env["TIGW_ZUGANGSMODUL_PORT"] ?? "8446",
    TIGW_VPN_MASTER_KEY: process.env["TIGW_VPN_MASTER_KEY"] ?? loadMasterKey({ file: join(dataDir, "secrets", "vpn-master.key") }).toString("base64"),
    TIGW_TENANCY_ADDR: address,
    TIGW_HSM_ADDR: hsmAddress,
    TIGW_CARD_TERMINAL_ADDR: ktAddress,
    TIGW_KSR_ADDR: ksrAddress,
  });
  const vpnAddress = `127.0.0.1:${vpnPort}`;
  await healthy("vpn", vpnAddress);
  const vsdmPort = process.env["TIGW_VSDM_GRPC_PORT"] ?? "50054";
  run("vsdm", "services/vsdm/dist/src/main.js", {
    ...clock,
    TIGW_VSDM_GRPC_PORT: vsdmPort,
    TIGW_METRICS_PORT: process.env["TIGW_VSDM_METRICS_PORT"] ?? "9468",
    TIGW_TENANCY_ADDR: address,
    TIGW_HSM_ADDR: hsmAddress,
    TIGW_CARD_TERMINAL_ADDR: ktAddress,
    TIGW_VPN_ADDR: vpnAddress,
  });
  const vsdmAddress = `127.0.0.1:${vsdmPort}`;
  await healthy("vsdm", vsdmAddress);
  run("gateway", "services/gateway/dist/src/main.js", {
    TIGW_VSDM_ADDR: vsdmAddress,
    TIGW_VPN_ADDR: vpnAddress,
    TIGW_KSR_ADDR: ksrAddress,
    TIGW_TENANCY_ADDR: address,
    TIGW_HSM_ADDR: hsmAddress,
    TIGW_CARD_TERMINAL_ADDR: ktAddress,
    TIGW_METRICS_PORT: process.env["TIGW_GATEWAY_METRICS_PORT"] ?? "9465",
  });
  if (process.argv.includes("--demo")) {
    const ports = grpcDemo({ tenancy: address, hsm: hsmAddress, cardTerminal: ktAddress, vpn: vpnAddress });
    try {
      const seeded = await seedDemoFleet(ports, vendor.privateKeyFile);
      process.stdout.write(seeded.length ? `demo fleet ${seeded.join(", ")}\n` : "demo fleet already present\n");
    } finally {
      ports.close();
    }
  }
  process.stdout.write(
    `ti-gateway (cluster): tenancy gRPC ${address}, hsm gRPC ${hsmAddress}, gateway http://127.0.0.1:${process.env["TIGW_HTTP_PORT"] ?? 8080}, demo vendor key ${vendor.privateKeyFile}\n`,
  );
}

main().catch((e: unknown) => {
  console.error("cluster start failed:", e instanceof Error ? e.message : e);
  process.exit(1);
});
