/**
 * The gateway as its own process (cluster mode). Start with
 * `node --require @tigw/platform/telemetry/register dist/src/main.js`.
 */
import { address, createLogger, exitOnConfigError, host, int, loadConfig, logLevel, parsed, postgresSql, runServiceProcess, url } from "@tigw/platform";
import { startGateway } from "./app.js";
import { checkPassword } from "./auth/passwords.js";

/** The HMAC key of the session tokens: at least 32 characters (never echoed in the error). */
function checkTokenSecret(secret: string): string {
  if (secret.length < 32) throw new Error("the token signing secret needs at least 32 characters");
  return secret;
}

const cfg = exitOnConfigError(() =>
  loadConfig({
    DATABASE_URL: url(["postgres", "postgresql"]),
    TIGW_TENANCY_ADDR: address({ default: "127.0.0.1:50051" }),
    TIGW_HSM_ADDR: address({ default: "127.0.0.1:50052" }),
    TIGW_CARD_TERMINAL_ADDR: address({ default: "127.0.0.1:50053" }),
    TIGW_VSDM_ADDR: address({ default: "127.0.0.1:50054" }),
    TIGW_VPN_ADDR: address({ default: "127.0.0.1:50055" }),
    TIGW_KSR_ADDR: address({ default: "127.0.0.1:50056" }),
    TIGW_HTTP_HOST: host({ default: "127.0.0.1" }),
    TIGW_HTTP_PORT: int({ default: 8080, min: 0, max: 65535 }),
    // The units' SOAP endpoints for practice software: a port per unit from the base (0: free ports).
    TIGW_SOAP_HOST: host({ default: "" }),
    TIGW_SOAP_PUBLIC_HOST: host({ default: "" }),
    // Where the vpn service (the Zugangsmodul) reaches the endpoints: in a cluster, the pod's IP.
    TIGW_SOAP_INTERNAL_HOST: host({ default: "" }),
    TIGW_SOAP_PORT_BASE: int({ default: 18443, min: 0, max: 65535 }),
    TIGW_ADMIN_PASSWORD: parsed(checkPassword, { optional: true }),
    TIGW_TOKEN_SECRET: parsed(checkTokenSecret, { optional: true }),
    TIGW_TOKEN_TTL_SECONDS: int({ default: 900, min: 30, max: 86_400 }),
    TIGW_LOG_LEVEL: logLevel(),
  }),
);

async function main(): Promise<{ stop(): Promise<void> }> {
  const log = createLogger("gateway", { level: cfg.TIGW_LOG_LEVEL });
  const gw = await startGateway({
    sql: postgresSql(cfg.DATABASE_URL, { max: 10 }),
    tenancyAddress: cfg.TIGW_TENANCY_ADDR,
    hsmAddress: cfg.TIGW_HSM_ADDR,
    cardTerminalAddress: cfg.TIGW_CARD_TERMINAL_ADDR,
    vsdmAddress: cfg.TIGW_VSDM_ADDR,
    vpnAddress: cfg.TIGW_VPN_ADDR,
    ksrAddress: cfg.TIGW_KSR_ADDR,
    host: cfg.TIGW_HTTP_HOST,
    port: cfg.TIGW_HTTP_PORT,
    adminPassword: cfg.TIGW_ADMIN_PASSWORD,
    tokenSecret: cfg.TIGW_TOKEN_SECRET,
    tokenTtlSeconds: cfg.TIGW_TOKEN_TTL_SECONDS,
    soap: {
      host: cfg.TIGW_SOAP_HOST || cfg.TIGW_HTTP_HOST,
      publicHost: cfg.TIGW_SOAP_PUBLIC_HOST || undefined,
      internalHost: cfg.TIGW_SOAP_INTERNAL_HOST || undefined,
      portBase: cfg.TIGW_SOAP_PORT_BASE,
    },
    logger: log,
  });
  log.info({ url: gw.url }, "gateway serving /api/v1");
  // Shown once, on the very first start, on the terminal only (not in the JSON log).
  if (gw.generatedAdminPassword)
    process.stdout.write(`\nFirst start: user admin, password ${gw.generatedAdminPassword}\n(shown once; set TIGW_ADMIN_PASSWORD to choose it)\n\n`);
  return { stop: () => gw.close() };
}

runServiceProcess("gateway", main);
