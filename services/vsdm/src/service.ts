import { SqlEventStore, startServiceHost, type Clock, type EventBus, type Logger, type RunningGrpcServer, type Sql } from "@tigw/platform";
import { vsdmGrpc } from "./api/grpc.js";
import { Vsdm } from "./application/vsdm.js";
import { FachdienstSimulator } from "./fachmodul/fachdienst.js";
import { vsdmMetrics } from "./application/metrics.js";

export interface VsdmServiceOptions {
  sql: Sql;
  bus: EventBus;
  clock: Clock;
  tenancyAddress: string;
  hsmAddress: string;
  cardTerminalAddress: string;
  /** The vpn service, whose TI-access rule the online check and OCSP ask; absent, TI access is assumed. */
  vpnAddress?: string;
  population?: { size: number; seed: number };
  fachdienst?: { latencyMs?: number; timeoutMs?: number };
  /** Maximum offline period in days (result 6 beyond it); default 90. */
  maxOfflineDays?: number;
  ocspTimeoutMs?: number;
  grpc?: { host?: string; port?: number };
  logger?: Logger;
  context?: string;
}

export interface RunningVsdm {
  vsdm: Vsdm;
  grpc: RunningGrpcServer;
  address: string;
  stop(): Promise<void>;
}

/** The vsdm service: the Fachmodul with its simulated Fachdienst and population, over gRPC. */
export async function startVsdm(o: VsdmServiceOptions): Promise<RunningVsdm> {
  const store = await SqlEventStore.open(o.sql, o.context ?? "vsdm");
  const vsdm = new Vsdm(
    store,
    o.clock,
    new FachdienstSimulator({ latencyMs: o.fachdienst?.latencyMs }),
    { cardTerminal: o.cardTerminalAddress, hsm: o.hsmAddress, tenancy: o.tenancyAddress, vpn: o.vpnAddress },
    o.population ?? { size: 5000, seed: 1 },
    { fachdienstTimeoutMs: o.fachdienst?.timeoutMs ?? 2_000, maxOfflineDays: o.maxOfflineDays ?? 90, ocspTimeoutMs: o.ocspTimeoutMs ?? 2_000 },
    vsdmMetrics(),
  );
  await vsdm.open();
  const host = await startServiceHost({ store, bus: o.bus, services: [vsdmGrpc(vsdm)], grpc: o.grpc, logger: o.logger });
  return {
    vsdm,
    grpc: host.grpc,
    address: host.address,
    stop: async () => {
      await host.stop();
      vsdm.close();
    },
  };
}
