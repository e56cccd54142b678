/**
 * The card-terminal service as its own process (cluster mode): real PostgreSQL and Kafka.
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
  loadConfig,
  logLevel,
  postgresSql,
  runServiceProcess,
  secretKey,
  SystemClock,
  url,
  followHsmClock,
  oneOf,
} from "@tigw/platform";
import { startCardTerminal } from "./service.js";

const cfg = exitOnConfigError(() =>
  loadConfig({
    DATABASE_URL: url(["postgres", "postgresql"]),
    KAFKA_BROKERS: hostPorts(),
    TIGW_CARD_TERMINAL_GRPC_HOST: host({ default: "127.0.0.1" }),
    TIGW_CARD_TERMINAL_GRPC_PORT: int({ default: 50053, min: 0, max: 65535 }),
    TIGW_TENANCY_ADDR: address({ default: "127.0.0.1:50051" }),
    TIGW_HSM_ADDR: address({ default: "127.0.0.1:50052" }),
    /** "hsm": follow hsm's clock (simulated there to rehearse expiries); "system": this host's. */
    TIGW_CLOCK: oneOf(["system", "hsm"] as const, { default: "system" }),
    /** Encrypts the pairing secrets: 32 bytes, base64 or 64 hex digits. */
    TIGW_CARD_TERMINAL_MASTER_KEY: secretKey(),
    TIGW_LOG_LEVEL: logLevel(),
  }),
);

async function main(): Promise<{ stop(): Promise<void> }> {
  const log = createLogger("card-terminal", { level: cfg.TIGW_LOG_LEVEL });
  const running = await startCardTerminal({
    sql: postgresSql(cfg.DATABASE_URL, { max: 20 }),
    bus: new KafkaBus({ brokers: cfg.KAFKA_BROKERS, clientId: "tigw-card-terminal" }),
    clock:
      cfg.TIGW_CLOCK === "hsm"
        ? await followHsmClock(cfg.TIGW_HSM_ADDR, { onError: (e) => log.warn({ err: e }, "hsm's clock did not answer") })
        : new SystemClock(),
    masterKey: cfg.TIGW_CARD_TERMINAL_MASTER_KEY,
    tenancyAddress: cfg.TIGW_TENANCY_ADDR,
    hsmAddress: cfg.TIGW_HSM_ADDR,
    grpc: { host: cfg.TIGW_CARD_TERMINAL_GRPC_HOST, port: cfg.TIGW_CARD_TERMINAL_GRPC_PORT },
    logger: log,
  });
  log.info({ address: running.address }, "card-terminal serving gRPC");
  return running;
}

runServiceProcess("card-terminal", main);
