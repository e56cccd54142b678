/**
 * The vsdm service as its own process (cluster mode): real PostgreSQL and Kafka.
 * Start with `node --require @tigw/platform/telemetry/register dist/src/main.js`.
 */
import {
  address,
  createLogger,
  exitOnConfigError,
  host,
  hostPorts,
  int,
  KafkaBus,
  str,
  loadConfig,
  logLevel,
  postgresSql,
  runServiceProcess,
  SystemClock,
  url,
  followHsmClock,
  oneOf,
} from "@tigw/platform";
import { startVsdm } from "./service.js";

const cfg = exitOnConfigError(() =>
  loadConfig({
    DATABASE_URL: url(["postgres", "postgresql"]),
    KAFKA_BROKERS: hostPorts(),
    TIGW_VSDM_GRPC_HOST: host({ default: "127.0.0.1" }),
    TIGW_VSDM_GRPC_PORT: int({ default: 50054, min: 0, max: 65535 }),
    TIGW_TENANCY_ADDR: address({ default: "127.0.0.1:50051" }),
    TIGW_HSM_ADDR: address({ default: "127.0.0.1:50052" }),
    /** "hsm": follow hsm's clock (simulated there to rehearse expiries); "system": this host's. */
    TIGW_CLOCK: oneOf(["system", "hsm"] as const, { default: "system" }),
    TIGW_CARD_TERMINAL_ADDR: address({ default: "127.0.0.1:50053" }),
    /** The vpn service (TI-access rule); empty: TI access is assumed. */
    TIGW_VPN_ADDR: str({ default: "127.0.0.1:50055" }),
    TIGW_VSDM_POPULATION: int({ default: 5000, min: 1, max: 1_000_000 }),
    TIGW_VSDM_POPULATION_SEED: int({ default: 1 }),
    TIGW_FACHDIENST_LATENCY_MS: int({ default: 0, min: 0 }),
    TIGW_VSDM_MAX_OFFLINE_DAYS: int({ default: 90, min: 0, max: 3650 }),
    TIGW_LOG_LEVEL: logLevel(),
  }),
);

async function main(): Promise<{ stop(): Promise<void> }> {
  const log = createLogger("vsdm", { level: cfg.TIGW_LOG_LEVEL });
  const running = await startVsdm({
    sql: postgresSql(cfg.DATABASE_URL, { max: 10 }),
    bus: new KafkaBus({ brokers: cfg.KAFKA_BROKERS, clientId: "tigw-vsdm" }),
    clock:
      cfg.TIGW_CLOCK === "hsm"
        ? await followHsmClock(cfg.TIGW_HSM_ADDR, { onError: (e) => log.warn({ err: e }, "hsm's clock did not answer") })
        : new SystemClock(),
    tenancyAddress: cfg.TIGW_TENANCY_ADDR,
    hsmAddress: cfg.TIGW_HSM_ADDR,
    cardTerminalAddress: cfg.TIGW_CARD_TERMINAL_ADDR,
    vpnAddress: cfg.TIGW_VPN_ADDR || undefined,
    population: { size: cfg.TIGW_VSDM_POPULATION, seed: cfg.TIGW_VSDM_POPULATION_SEED },
    fachdienst: { latencyMs: cfg.TIGW_FACHDIENST_LATENCY_MS },
    maxOfflineDays: cfg.TIGW_VSDM_MAX_OFFLINE_DAYS,
    grpc: { host: cfg.TIGW_VSDM_GRPC_HOST, port: cfg.TIGW_VSDM_GRPC_PORT },
    logger: log,
  });
  log.info({ address: running.address }, "vsdm serving gRPC");
  return running;
}

runServiceProcess("vsdm", main);
