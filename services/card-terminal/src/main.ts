/**
 * The card-terminal service as its own process (cluster mode): real PostgreSQL and Kafka.
 * Start with `node --require @tigw/platform/dist/src/telemetry/register.js dist/src/main.js`.
 */
import { ConfigError, createLogger, exitOnConfigError, hostPorts, int, KafkaBus, loadConfig, loadMasterKey, postgresSql, str, SystemClock, url } from "@tigw/platform";
import { startCardTerminal } from "./service.js";

const cfg = exitOnConfigError(() =>
  loadConfig({
    DATABASE_URL: url(["postgres", "postgresql"]),
    KAFKA_BROKERS: hostPorts(),
    TIGW_CARD_TERMINAL_GRPC_HOST: str({ default: "127.0.0.1" }),
    TIGW_CARD_TERMINAL_GRPC_PORT: int({ default: 50053, min: 0, max: 65535 }),
    TIGW_TENANCY_ADDR: str({ default: "127.0.0.1:50051" }),
    TIGW_HSM_ADDR: str({ default: "127.0.0.1:50052" }),
    /** Encrypts the pairing secrets: 32 bytes, base64 or 64 hex digits. */
    TIGW_CARD_TERMINAL_MASTER_KEY: str(),
  }),
);

async function main(): Promise<void> {
  const log = createLogger("card-terminal");
  const masterKey = exitOnConfigError(() => {
    try {
      return loadMasterKey({ value: cfg.TIGW_CARD_TERMINAL_MASTER_KEY, variable: "TIGW_CARD_TERMINAL_MASTER_KEY" });
    } catch (e) {
      throw new ConfigError("TIGW_CARD_TERMINAL_MASTER_KEY", (e as Error).message);
    }
  });
  const running = await startCardTerminal({
    sql: postgresSql(cfg.DATABASE_URL, { max: 20 }),
    bus: new KafkaBus({ brokers: cfg.KAFKA_BROKERS, clientId: "tigw-card-terminal" }),
    clock: new SystemClock(),
    masterKey,
    tenancyAddress: cfg.TIGW_TENANCY_ADDR,
    hsmAddress: cfg.TIGW_HSM_ADDR,
    grpc: { host: cfg.TIGW_CARD_TERMINAL_GRPC_HOST, port: cfg.TIGW_CARD_TERMINAL_GRPC_PORT },
    logger: log,
  });
  log.info({ address: running.address }, "card-terminal serving gRPC");
  const stop = () => void running.stop().finally(() => process.exit(0));
  process.once("SIGTERM", stop).once("SIGINT", stop);
}

main().catch((e: unknown) => {
  console.error("card-terminal failed to start:", e instanceof Error ? e.message : e);
  process.exit(1);
});
