/**
 * The tenancy service as its own process (cluster mode): real PostgreSQL and Kafka.
 * Start with `node --require @tigw/platform/telemetry/register dist/src/main.js`.
 */
import {
  createLogger,
  exitOnConfigError,
  host,
  hostPorts,
  int,
  KafkaBus,
  loadConfig,
  logLevel,
  parsed,
  postgresSql,
  runServiceProcess,
  SystemClock,
  url,
} from "@tigw/platform";
import { loadProfiles } from "./domain/profiles.js";
import { readVendorKeys, startTenancy } from "./service.js";

const cfg = exitOnConfigError(() =>
  loadConfig({
    DATABASE_URL: url(["postgres", "postgresql"]),
    KAFKA_BROKERS: hostPorts(),
    TIGW_TENANCY_GRPC_HOST: host({ default: "127.0.0.1" }),
    TIGW_TENANCY_GRPC_PORT: int({ default: 50051, min: 0, max: 65535 }),
    /** Comma-separated PEM files of the vendor keys whose licences are accepted. */
    TIGW_VENDOR_PUBLIC_KEY_FILE: parsed((raw) => readVendorKeys(raw.split(","))),
    TIGW_PROFILES_FILE: parsed((raw) => loadProfiles(raw), { optional: true }),
    TIGW_LOG_LEVEL: logLevel(),
  }),
);

async function main(): Promise<{ stop(): Promise<void> }> {
  const log = createLogger("tenancy", { level: cfg.TIGW_LOG_LEVEL });
  const running = await startTenancy({
    sql: postgresSql(cfg.DATABASE_URL, { max: 20 }),
    bus: new KafkaBus({ brokers: cfg.KAFKA_BROKERS, clientId: "tigw-tenancy" }),
    clock: new SystemClock(),
    profiles: cfg.TIGW_PROFILES_FILE ?? loadProfiles(),
    vendorKeys: cfg.TIGW_VENDOR_PUBLIC_KEY_FILE,
    grpc: { host: cfg.TIGW_TENANCY_GRPC_HOST, port: cfg.TIGW_TENANCY_GRPC_PORT },
    logger: log,
  });
  log.info({ address: running.address }, "tenancy serving gRPC");
  return running;
}

runServiceProcess("tenancy", main);
