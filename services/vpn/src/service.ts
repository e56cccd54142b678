import {
  call,
  createClient,
  SecretVault,
  SqlEventStore,
  startServiceHost,
  type Clock,
  type EventBus,
  type Logger,
  type RunningGrpcServer,
  type Sql,
} from "@tigw/platform";
import { HsmServiceClient } from "@tigw/contracts/hsm/v1/hsm";
import type * as hsm from "@tigw/contracts/hsm/v1/hsm";
import { vpnGrpc, zugangsmodulGrpc } from "./api/grpc.js";
import { registerVpnMetrics } from "./application/metrics.js";
import { Vpn } from "./application/vpn.js";
import { Zugangsmodul } from "./application/zugangsmodul.js";
import { VPNZUGD_SERVER_NAME, VpnZugdSimulator } from "./vpnzugd/simulator.js";

export interface VpnServiceOptions {
  sql: Sql;
  bus: EventBus;
  clock: Clock;
  tenancyAddress: string;
  hsmAddress: string;
  cardTerminalAddress: string;
  /** ksr, for the TI-access rule's firmware clause (a critical update past its deadline); none: no such clause. */
  ksrAddress?: string;
  /** Encrypts the practices' TOTP secrets at rest (32 bytes; losing it means every practice enrols TOTP again). */
  masterKey: Buffer;
  /** The simulated VPN-ZugD's HTTPS listener (port 0: any free one). */
  vpnzugd?: { host?: string; port?: number; publicUrl?: string };
  /** How long the simulated VPN-ZugD waits for the TI PKI's OCSP responder (default 10 s). */
  ocspTimeoutMs?: number;
  /** How long a call to the VPN-ZugD may take, TLS handshake included (default 30 s). */
  callTimeoutMs?: number;
  /** How often the tunnels' heartbeat asks the VPN-ZugD (statusOperation); default 30 s. */
  heartbeatMs?: number;
  grpc?: { host?: string; port?: number };
  logger?: Logger;
  context?: string;
}

export interface RunningVpn {
  vpn: Vpn;
  zugangsmodul: Zugangsmodul;
  vpnzugd: VpnZugdSimulator;
  grpc: RunningGrpcServer;
  address: string;
  stop(): Promise<void>;
}

/**
 * The vpn service: its store, the simulated VPN-ZugD (trusting the TI PKI that hsm runs), the
 * registrations with their heartbeat, the TI-access rule over gRPC, metrics, and the
 * Zugangsmodul's practice accounts (TOTP secrets in a vault of their own).
 */
export async function startVpn(o: VpnServiceOptions): Promise<RunningVpn> {
  const store = await SqlEventStore.open(o.sql, o.context ?? "vpn");
  const hsmClient = createClient(HsmServiceClient, o.hsmAddress, { deadlineMs: 30_000 });
  const trust = await call<hsm.GetTrustAnchorsRequest, hsm.GetTrustAnchorsResponse>(hsmClient.getTrustAnchors.bind(hsmClient), {}).finally(() =>
    hsmClient.close(),
  );
  const zugd = await VpnZugdSimulator.start({
    sql: o.sql,
    schema: store.schema,
    clock: o.clock,
    trust,
    host: o.vpnzugd?.host,
    port: o.vpnzugd?.port,
    publicUrl: o.vpnzugd?.publicUrl,
    ocspTimeoutMs: o.ocspTimeoutMs,
  });
  const vpn = new Vpn(store, o.clock, { tenancy: o.tenancyAddress, hsm: o.hsmAddress, cardTerminal: o.cardTerminalAddress, ksr: o.ksrAddress }, () => ({
    url: zugd.url,
    caPem: zugd.caPem,
    serverName: VPNZUGD_SERVER_NAME,
    timeoutMs: o.callTimeoutMs ?? 30_000,
  }));
  await vpn.open();
  const vault = await SecretVault.open(o.sql, store.schema, o.masterKey, "practice_totp_secrets");
  const zugangsmodul = new Zugangsmodul(store, o.clock, vault, o.tenancyAddress);
  await zugangsmodul.open();
  let beating = Promise.resolve();
  const timer = setInterval(() => {
    beating = beating.then(() => vpn.heartbeat()).catch((e: unknown) => o.logger?.warn({ err: e }, "VPN heartbeat failed"));
  }, o.heartbeatMs ?? 30_000);
  timer.unref();
  const unregister = registerVpnMetrics(vpn, zugd);
  const host = await startServiceHost({ store, bus: o.bus, services: [vpnGrpc(vpn, zugd), zugangsmodulGrpc(zugangsmodul)], grpc: o.grpc, logger: o.logger });
  return {
    vpn,
    zugangsmodul,
    vpnzugd: zugd,
    grpc: host.grpc,
    address: host.address,
    stop: async () => {
      clearInterval(timer);
      await beating;
      unregister();
      await host.stop();
      await zugd.close();
      vpn.close();
      zugangsmodul.close();
    },
  };
}
