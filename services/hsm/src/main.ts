/**
 * The hsm service as its own process (cluster mode): real PostgreSQL and Kafka.
 * Start with `node --require @tigw/platform/telemetry/register dist/src/main.js`.
 */
import {
  createLogger,
  date,
  exitOnConfigError,
  host,
  hostPorts,
  int,
  KafkaBus,
  loadConfig,
  logLevel,
  oneOf,
  postgresSql,
  runServiceProcess,
  secretKey,
  SystemClock,
  url,
} from "@tigw/platform";
import { ClockControl } from "./application/clock.js";
import { startHsm } from "./service.js";

const cfg = exitOnConfigError(() =>
  loadConfig({
    DATABASE_URL: url(["postgres", "postgresql"]),
    KAFKA_BROKERS: hostPorts(),
    TIGW_HSM_GRPC_HOST: host({ default: "127.0.0.1" }),
    TIGW_HSM_GRPC_PORT: int({ default: 50052, min: 0, max: 65535 }),
    /** 32 bytes, base64 or 64 hex digits. */
    TIGW_HSM_MASTER_KEY: secretKey(),
    TIGW_HSM_KEY_TYPE: oneOf(["ecc", "rsa"] as const, { default: "ecc" }),
    TIGW_OCSP_HOST: host({ default: "127.0.0.1" }),
    TIGW_OCSP_PORT: int({ default: 8081, min: 0, max: 65535 }),
    TIGW_OCSP_URL: url(["http", "https"], { optional: true }),
    TIGW_CLOCK: oneOf(["system", "simulated"] as const, { default: "system" }),
    TIGW_CLOCK_START: date({ optional: true }),
    TIGW_HSM_TICK_SECONDS: int({ default: 60, min: 1 }),
    TIGW_LOG_LEVEL: logLevel(),
  }),
);

async function main(): Promise<{ stop(): Promise<void> }> {
  const log = createLogger("hsm", { level: cfg.TIGW_LOG_LEVEL });
  const sql = postgresSql(cfg.DATABASE_URL, { max: 20 });
  const clock =
    cfg.TIGW_CLOCK === "simulated" ? await ClockControl.simulated(sql, "hsm", cfg.TIGW_CLOCK_START ?? new Date()) : ClockControl.system(new SystemClock());
  const running = await startHsm({
    sql,
    bus: new KafkaBus({ brokers: cfg.KAFKA_BROKERS, clientId: "tigw-hsm" }),
    clock,
    masterKey: cfg.TIGW_HSM_MASTER_KEY,
    keyType: cfg.TIGW_HSM_KEY_TYPE as "ecc" | "rsa",
    grpc: { host: cfg.TIGW_HSM_GRPC_HOST, port: cfg.TIGW_HSM_GRPC_PORT },
    ocsp: { host: cfg.TIGW_OCSP_HOST, port: cfg.TIGW_OCSP_PORT, url: cfg.TIGW_OCSP_URL },
    tickMs: cfg.TIGW_HSM_TICK_SECONDS * 1000,
    logger: log,
  });
  log.info({ address: running.address, ocsp: running.ocspUrl, clock: clock.simulated ? "simulated" : "system" }, "hsm serving gRPC");
  return running;
}

runServiceProcess("hsm", main);
