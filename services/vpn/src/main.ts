/**
 * The vpn service as its own process (cluster mode): real PostgreSQL and Kafka.
 * Start with `node --require @tigw/platform/telemetry/register dist/src/main.js`.
 */
import {
  runServiceProcess,
  createLogger,
  exitOnConfigError,
  hostPorts,
  int,
  KafkaBus,
  loadConfig,
  postgresSql,
  secretKey,
  str,
  SystemClock,
  url,
  followHsmClock,
  oneOf,
} from "@tigw/platform";
import { startVpn } from "./service.js";

const cfg = exitOnConfigError(() =>
  loadConfig({
    DATABASE_URL: url(["postgres", "postgresql"]),
    KAFKA_BROKERS: hostPorts(),
    TIGW_VPN_GRPC_HOST: str({ default: "127.0.0.1" }),
    TIGW_VPN_GRPC_PORT: int({ default: 50055, min: 0, max: 65535 }),
    TIGW_TENANCY_ADDR: str({ default: "127.0.0.1:50051" }),
    TIGW_HSM_ADDR: str({ default: "127.0.0.1:50052" }),
    /** "hsm": follow hsm's clock (simulated there to rehearse expiries); "system": this host's. */
    TIGW_CLOCK: oneOf(["system", "hsm"] as const, { default: "system" }),
    TIGW_CARD_TERMINAL_ADDR: str({ default: "127.0.0.1:50053" }),
    /** ksr for the TI-access rule's firmware clause; "none" leaves the clause out. */
    TIGW_KSR_ADDR: str({ default: "127.0.0.1:50056" }),
    /** The simulated VPN-Zugangsdienst's HTTPS port (mutual TLS). */
    TIGW_VPNZUGD_PORT: int({ default: 8443, min: 0, max: 65535 }),
    TIGW_VPNZUGD_HOST: str({ default: "127.0.0.1" }),
    /** Where hsm reaches the simulated VPN-ZugD when not on this host (Kubernetes: the vpn Service). */
    TIGW_VPNZUGD_URL: str({ default: "" }),
    TIGW_VPN_HEARTBEAT_SECONDS: int({ default: 30, min: 1 }),
    /** The Zugangsmodul's TLS endpoint for the practices' VPN boxes (mutual TLS, HTTP/2). */
    TIGW_ZUGANGSMODUL_HOST: str({ default: "127.0.0.1" }),
    TIGW_ZUGANGSMODUL_PORT: int({ default: 8446, min: 0, max: 65535 }),
    /** host:port as boxes reach the endpoint, when not the listener's own. */
    TIGW_ZUGANGSMODUL_PUBLIC_ADDR: str({ default: "" }),
    /** How often a box pings; three missed and its session ends. */
    TIGW_ZUGANGSMODUL_HEARTBEAT_SECONDS: int({ default: 30, min: 1, max: 3600 }),
    /** Encrypts the practices' TOTP secrets (the Zugangsmodul's vault). */
    TIGW_VPN_MASTER_KEY: secretKey(),
  }),
);

async function main(): Promise<{ stop(): Promise<void> }> {
  const log = createLogger("vpn");
  const running = await startVpn({
    sql: postgresSql(cfg.DATABASE_URL, { max: 10 }),
    bus: new KafkaBus({ brokers: cfg.KAFKA_BROKERS, clientId: "tigw-vpn" }),
    clock:
      cfg.TIGW_CLOCK === "hsm"
        ? await followHsmClock(cfg.TIGW_HSM_ADDR, { onError: (e) => log.warn({ err: e }, "hsm's clock did not answer") })
        : new SystemClock(),
    tenancyAddress: cfg.TIGW_TENANCY_ADDR,
    hsmAddress: cfg.TIGW_HSM_ADDR,
    cardTerminalAddress: cfg.TIGW_CARD_TERMINAL_ADDR,
    ksrAddress: cfg.TIGW_KSR_ADDR === "none" ? undefined : cfg.TIGW_KSR_ADDR,
    masterKey: cfg.TIGW_VPN_MASTER_KEY,
    vpnzugd: { host: cfg.TIGW_VPNZUGD_HOST, port: cfg.TIGW_VPNZUGD_PORT, publicUrl: cfg.TIGW_VPNZUGD_URL || undefined },
    heartbeatMs: cfg.TIGW_VPN_HEARTBEAT_SECONDS * 1000,
    boxes: {
      host: cfg.TIGW_ZUGANGSMODUL_HOST,
      port: cfg.TIGW_ZUGANGSMODUL_PORT,
      publicAddress: cfg.TIGW_ZUGANGSMODUL_PUBLIC_ADDR || undefined,
      heartbeatMs: cfg.TIGW_ZUGANGSMODUL_HEARTBEAT_SECONDS * 1000,
    },
    grpc: { host: cfg.TIGW_VPN_GRPC_HOST, port: cfg.TIGW_VPN_GRPC_PORT },
    logger: log,
  });
  log.info({ address: running.address, vpnzugd: running.vpnzugd.url, zugangsmodul: running.endpoint.address }, "vpn serving gRPC");
  return running;
}

runServiceProcess("vpn", main);
