/**
 * The ksr service as its own process (cluster mode): real PostgreSQL and Kafka.
 * Start with `node --require @tigw/platform/telemetry/register dist/src/main.js`.
 */
import {
  address,
  createLogger,
  exitOnConfigError,
  hostPorts,
  int,
  KafkaBus,
  loadConfig,
  logLevel,
  postgresSql,
  runServiceProcess,
  host,
  SystemClock,
  url,
  followHsmClock,
  oneOf,
} from "@tigw/platform";
import { startKsr } from "./service.js";

const cfg = exitOnConfigError(() =>
  loadConfig({
    DATABASE_URL: url(["postgres", "postgresql"]),
    KAFKA_BROKERS: hostPorts(),
    TIGW_KSR_GRPC_HOST: host({ default: "127.0.0.1" }),
    TIGW_KSR_GRPC_PORT: int({ default: 50056, min: 0, max: 65535 }),
    TIGW_TENANCY_ADDR: address({ default: "127.0.0.1:50051" }),
    TIGW_HSM_ADDR: address({ default: "127.0.0.1:50052" }),
    /** "hsm": follow hsm's clock (simulated there to rehearse expiries); "system": this host's. */
    TIGW_CLOCK: oneOf(["system", "hsm"] as const, { default: "system" }),
    /** card-terminal: the KSR has it run the terminals' firmware updates. */
    TIGW_CARD_TERMINAL_ADDR: address({ default: "127.0.0.1:50053" }),
    /** How often the update scheduler walks the clock (downloads, windows). */
    TIGW_KSR_TICK_SECONDS: int({ default: 60, min: 1 }),
    /** The simulated KSR's SOAP port (list_Updates, Konfigurationsdienst.wsdl). */
    TIGW_KSR_SOAP_PORT: int({ default: 8444, min: 0, max: 65535 }),
    TIGW_LOG_LEVEL: logLevel(),
  }),
);

async function main(): Promise<{ stop(): Promise<void> }> {
  const log = createLogger("ksr", { level: cfg.TIGW_LOG_LEVEL });
  const running = await startKsr({
    sql: postgresSql(cfg.DATABASE_URL, { max: 10 }),
    bus: new KafkaBus({ brokers: cfg.KAFKA_BROKERS, clientId: "tigw-ksr" }),
    clock:
      cfg.TIGW_CLOCK === "hsm"
        ? await followHsmClock(cfg.TIGW_HSM_ADDR, { onError: (e) => log.warn({ err: e }, "hsm's clock did not answer") })
        : new SystemClock(),
    tenancyAddress: cfg.TIGW_TENANCY_ADDR,
    hsmAddress: cfg.TIGW_HSM_ADDR,
    cardTerminalAddress: cfg.TIGW_CARD_TERMINAL_ADDR,
    tickMs: cfg.TIGW_KSR_TICK_SECONDS * 1000,
    grpc: { host: cfg.TIGW_KSR_GRPC_HOST, port: cfg.TIGW_KSR_GRPC_PORT },
    soap: { port: cfg.TIGW_KSR_SOAP_PORT },
    logger: log,
  });
  log.info({ address: running.address, soap: running.soapUrl }, "ksr serving gRPC and the simulated KSR");
  return running;
}

runServiceProcess("ksr", main);
