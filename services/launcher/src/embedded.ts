/**
 * `npm start`: every service in one process in embedded mode. PGlite databases (one per service)
 * and the in-process bus live under TIGW_DATA_DIR (default ./.tigw); a restart keeps all state.
 * `npm start -- --demo` seeds a small fleet. Telemetry comes from the --require preload.
 */
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import {
  createLogger,
  date,
  directory,
  EmbeddedBus,
  embeddedSql,
  exitOnConfigError,
  host,
  int,
  loadConfig,
  logLevel,
  oneOf,
  parsed,
  secretKey,
  SystemClock,
} from "@tigw/platform";
import { checkPassword, startGateway } from "@tigw/gateway";
import { ClockControl, loadMasterKey, startHsm } from "@tigw/hsm";
import { startCardTerminal } from "@tigw/card-terminal";
import { startVsdm } from "@tigw/vsdm";
import { startVpn } from "@tigw/vpn";
import { startKsr } from "@tigw/ksr";
import { loadProfiles, readVendorKeys, startTenancy } from "@tigw/tenancy";
import { inProcessDemo, seedDemoFleet } from "./demo.js";
import { ensureDemoVendorKey } from "./vendor-key.js";

const cfg = exitOnConfigError(() =>
  loadConfig({
    TIGW_DATA_DIR: directory({ default: "./.tigw" }),
    TIGW_HTTP_HOST: host({ default: "127.0.0.1" }),
    TIGW_HTTP_PORT: int({ default: 8080, min: 0, max: 65535 }),
    TIGW_SOAP_HOST: host({ default: "" }),
    TIGW_SOAP_PUBLIC_HOST: host({ default: "" }),
    TIGW_SOAP_PORT_BASE: int({ default: 18443, min: 0, max: 65535 }),
    TIGW_ADMIN_PASSWORD: parsed(checkPassword, { optional: true }),
    TIGW_TOKEN_TTL_SECONDS: int({ default: 900, min: 30, max: 86_400 }),
    TIGW_VENDOR_PUBLIC_KEY_FILE: parsed((raw) => readVendorKeys(raw.split(",")), { optional: true }),
    TIGW_PROFILES_FILE: parsed((raw) => loadProfiles(raw), { optional: true }),
    TIGW_METRICS_PORT: int({ default: 9464, min: 0, max: 65535 }),
    TIGW_OCSP_PORT: int({ default: 8081, min: 0, max: 65535 }),
    TIGW_CLOCK: oneOf(["system", "simulated"] as const, { default: "system" }),
    TIGW_CLOCK_START: date({ optional: true }),
    TIGW_HSM_MASTER_KEY: secretKey({ optional: true }),
    TIGW_HSM_TICK_SECONDS: int({ default: 60, min: 1 }),
    TIGW_VSDM_MAX_OFFLINE_DAYS: int({ default: 90, min: 0, max: 3650 }),
    TIGW_LOG_LEVEL: logLevel(),
    TIGW_VPNZUGD_PORT: int({ default: 8443, min: 0, max: 65535 }),
    TIGW_VPN_HEARTBEAT_SECONDS: int({ default: 30, min: 1 }),
    /** The Zugangsmodul's TLS endpoint for the practices' VPN boxes. */
    TIGW_ZUGANGSMODUL_HOST: host({ default: "127.0.0.1" }),
    TIGW_ZUGANGSMODUL_PORT: int({ default: 8446, min: 0, max: 65535 }),
    TIGW_ZUGANGSMODUL_HEARTBEAT_SECONDS: int({ default: 30, min: 1, max: 3600 }),
    /** How often the KSR's update scheduler walks the clock (downloads, weekly windows). */
    TIGW_KSR_TICK_SECONDS: int({ default: 60, min: 1 }),
    /** The simulated KSR's SOAP port (list_Updates, Konfigurationsdienst.wsdl). */
    TIGW_KSR_SOAP_PORT: int({ default: 8444, min: 0, max: 65535 }),
  }),
);

async function main(): Promise<void> {
  const demo = process.argv.includes("--demo");
  const log = createLogger("ti-gateway", { level: cfg.TIGW_LOG_LEVEL });
  const dataDir = resolve(cfg.TIGW_DATA_DIR);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const vendor = ensureDemoVendorKey(dataDir);

  const [busSql, tenancySql, hsmSql, ktSql, vsdmSql, gatewaySql, vpnSql, ksrSql] = await Promise.all(
    ["bus", "tenancy", "hsm", "card-terminal", "vsdm", "gateway", "vpn", "ksr"].map((name) => embeddedSql(join(dataDir, name))),
  );
  const bus = await EmbeddedBus.open(busSql!);
  // One clock for every service; a simulated one keeps its time in the hsm database.
  const clock =
    cfg.TIGW_CLOCK === "simulated" ? await ClockControl.simulated(hsmSql!, "hsm", cfg.TIGW_CLOCK_START ?? new Date()) : ClockControl.system(new SystemClock());
  const tenancy = await startTenancy({
    sql: tenancySql!,
    bus,
    clock,
    profiles: cfg.TIGW_PROFILES_FILE ?? loadProfiles(),
    vendorKeys: [...readVendorKeys([vendor.publicKeyFile]), ...(cfg.TIGW_VENDOR_PUBLIC_KEY_FILE ?? [])],
    logger: log,
  });
  const hsm = await startHsm({
    sql: hsmSql!,
    bus,
    clock,
    masterKey: cfg.TIGW_HSM_MASTER_KEY ?? loadMasterKey({ file: join(dataDir, "secrets", "hsm-master.key") }),
    ocsp: { port: cfg.TIGW_OCSP_PORT },
    tickMs: cfg.TIGW_HSM_TICK_SECONDS * 1000,
    logger: log,
  });
  const cardTerminal = await startCardTerminal({
    sql: ktSql!,
    bus,
    clock,
    masterKey: loadMasterKey({ file: join(dataDir, "secrets", "card-terminal-master.key") }),
    tenancyAddress: tenancy.address,
    hsmAddress: hsm.address,
    logger: log,
  });
  const ksr = await startKsr({
    sql: ksrSql!,
    bus,
    clock,
    tenancyAddress: tenancy.address,
    hsmAddress: hsm.address,
    cardTerminalAddress: cardTerminal.address,
    tickMs: cfg.TIGW_KSR_TICK_SECONDS * 1000,
    soap: { port: cfg.TIGW_KSR_SOAP_PORT },
    logger: log,
  });
  const vpn = await startVpn({
    sql: vpnSql!,
    bus,
    clock,
    tenancyAddress: tenancy.address,
    hsmAddress: hsm.address,
    cardTerminalAddress: cardTerminal.address,
    ksrAddress: ksr.address,
    masterKey: loadMasterKey({ file: join(dataDir, "secrets", "vpn-master.key") }),
    vpnzugd: { port: cfg.TIGW_VPNZUGD_PORT },
    heartbeatMs: cfg.TIGW_VPN_HEARTBEAT_SECONDS * 1000,
    boxes: { host: cfg.TIGW_ZUGANGSMODUL_HOST, port: cfg.TIGW_ZUGANGSMODUL_PORT, heartbeatMs: cfg.TIGW_ZUGANGSMODUL_HEARTBEAT_SECONDS * 1000 },
    logger: log,
  });
  const vsdm = await startVsdm({
    sql: vsdmSql!,
    bus,
    clock,
    tenancyAddress: tenancy.address,
    hsmAddress: hsm.address,
    cardTerminalAddress: cardTerminal.address,
    vpnAddress: vpn.address,
    maxOfflineDays: cfg.TIGW_VSDM_MAX_OFFLINE_DAYS,
    logger: log,
  });
  const gateway = await startGateway({
    sql: gatewaySql!,
    tenancyAddress: tenancy.address,
    hsmAddress: hsm.address,
    cardTerminalAddress: cardTerminal.address,
    vsdmAddress: vsdm.address,
    vpnAddress: vpn.address,
    ksrAddress: ksr.address,
    host: cfg.TIGW_HTTP_HOST,
    port: cfg.TIGW_HTTP_PORT,
    adminPassword: cfg.TIGW_ADMIN_PASSWORD,
    tokenTtlSeconds: cfg.TIGW_TOKEN_TTL_SECONDS,
    soap: { host: cfg.TIGW_SOAP_HOST || cfg.TIGW_HTTP_HOST, publicHost: cfg.TIGW_SOAP_PUBLIC_HOST || undefined, portBase: cfg.TIGW_SOAP_PORT_BASE },
    logger: log,
  });
  const seeded = demo
    ? await seedDemoFleet(inProcessDemo({ tenancy: tenancy.tenancy, cardTerminals: cardTerminal.cardTerminals, hsm: hsm.hsm, vpn }), vendor.privateKeyFile)
    : [];

  const lines = [
    "",
    `ti-gateway (embedded) is up: ${gateway.url}`,
    `  admin UI   ${gateway.url}/admin/`,
    `  API        ${gateway.url}/api/v1   (OpenAPI: ${gateway.url}/api/docs)`,
    `  metrics    http://127.0.0.1:${cfg.TIGW_METRICS_PORT}/metrics`,
    `  OCSP       ${hsm.ocspUrl}`,
    `  gRPC       tenancy ${tenancy.address}, hsm ${hsm.address}, card-terminal ${cardTerminal.address}, vsdm ${vsdm.address}, vpn ${vpn.address}, ksr ${ksr.address}`,
    `  VPN-ZugD   ${vpn.vpnzugd.url}   (simulated, mutual TLS)`,
    `  VPN boxes  ${vpn.endpoint.address}   (the Zugangsmodul, mutual TLS: a box from the portal's code, tigw sim vpnbox)`,
    `  SOAP       per unit for practice software: tigw unit soap UNIT (HTTPS, ports from ${cfg.TIGW_SOAP_PORT_BASE || "free ones"}; trust: tigw pki roots --out FILE)`,
    `  KSR        ${ksr.soapUrl}   (simulated, SOAP list_Updates)`,
    `  clock      ${clock.simulated ? `simulated, now ${clock.now().toISOString()} (tigw clock advance 30d)` : "system"}`,
    `  data       ${dataDir}`,
    `  vendor key ${vendor.privateKeyFile}  (signs demo licences: tigw licence issue --key ...)`,
  ];
  if (gateway.generatedAdminPassword) lines.push(`  login      user admin, password ${gateway.generatedAdminPassword}   (shown once)`);
  else if (cfg.TIGW_ADMIN_PASSWORD) lines.push("  login      user admin, password from TIGW_ADMIN_PASSWORD");
  if (demo) lines.push(seeded.length ? `  demo fleet ${seeded.join(", ")}` : "  demo fleet already present");
  lines.push(`  CLI        TIGW_URL=${gateway.url} npx tigw login --user admin --password ...`, "");
  process.stdout.write(lines.join("\n") + "\n");

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await gateway.close();
    await vsdm.stop();
    await vpn.stop();
    await ksr.stop();
    await cardTerminal.stop();
    await hsm.stop();
    await tenancy.stop();
    await bus.close();
    for (const sql of [busSql, tenancySql, hsmSql, ktSql, vsdmSql, gatewaySql, vpnSql, ksrSql]) await sql!.close();
    process.exit(0);
  };
  process.once("SIGTERM", () => void stop()).once("SIGINT", () => void stop());
}

main().catch((e: unknown) => {
  console.error("ti-gateway failed to start:", e instanceof Error ? e.message : e);
  process.exit(1);
});
