import { createPublicKey, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { SqlEventStore, startServiceHost, type Clock, type EventBus, type Logger, type RunningGrpcServer, type Sql } from "@tigw/platform";
import { tenancyGrpc } from "./api/grpc.js";
import { registerFleetMetrics } from "./application/metrics.js";
import { Tenancy } from "./application/tenancy.js";
import type { Profile } from "./domain/profiles.js";

export interface TenancyServiceOptions {
  sql: Sql;
  bus: EventBus;
  clock: Clock;
  profiles: Profile[];
  vendorKeys: KeyObject[];
  grpc?: { host?: string; port?: number };
  logger?: Logger;
  /** Bounded context name (schema and topic); tests use their own. Default "tenancy". */
  context?: string;
}

export interface RunningTenancy {
  tenancy: Tenancy;
  grpc: RunningGrpcServer;
  address: string;
  stop(): Promise<void>;
}

/** Reads vendor public keys (PEM; a private key file yields its public half). */
export function readVendorKeys(files: string[]): KeyObject[] {
  return files.map((f) => createPublicKey(readFileSync(f)));
}

/** The tenancy service: its store, the outbox relay to the bus, the gRPC API and fleet metrics. */
export async function startTenancy(o: TenancyServiceOptions): Promise<RunningTenancy> {
  const store = await SqlEventStore.open(o.sql, o.context ?? "tenancy");
  const tenancy = await Tenancy.open({ store, clock: o.clock, profiles: o.profiles, vendorKeys: o.vendorKeys });
  const unregister = registerFleetMetrics(tenancy);
  const host = await startServiceHost({ store, bus: o.bus, services: [tenancyGrpc(tenancy)], grpc: o.grpc, logger: o.logger });
  return {
    tenancy,
    grpc: host.grpc,
    address: host.address,
    stop: async () => {
      unregister();
      await host.stop();
    },
  };
}
