import {
  consume,
  on,
  SqlEventStore,
  startServiceHost,
  topicOf,
  type Clock,
  type EventBus,
  type Logger,
  type RunningGrpcServer,
  type Sql,
  type Subscription,
} from "@tigw/platform";
import { UnitCreated } from "@tigw/contracts/tenancy/v1/events";
import { ksrGrpc } from "./api/grpc.js";
import { Ksr } from "./application/ksr.js";
import { registerKsrMetrics } from "./application/metrics.js";
import { startKsrSoap } from "./infrastructure/ksr-soap.js";

export interface KsrServiceOptions {
  sql: Sql;
  bus: EventBus;
  clock: Clock;
  tenancyAddress: string;
  hsmAddress: string;
  /** How often the update scheduler walks the (simulated) time; default 60 s. */
  tickMs?: number;
  grpc?: { host?: string; port?: number };
  /** The simulated KSR's SOAP listener (list_Updates); port 0: any free one. */
  soap?: { host?: string; port?: number };
  logger?: Logger;
  context?: string;
  /** Where tenancy publishes (UnitCreated enrols a unit); default tigw.tenancy.events.v1. */
  tenancyTopic?: string;
}

export interface RunningKsr {
  ksr: Ksr;
  grpc: RunningGrpcServer;
  address: string;
  /** The simulated KSR's list_Updates endpoint. */
  soapUrl: string;
  stop(): Promise<void>;
}

/**
 * The ksr service: its store, the catalogue seeded from seed 000, the KSR signing identity from
 * hsm's test PKI, a consumer of tenancy's events (UnitCreated enrols the unit with the default
 * KSR settings), the update scheduler, the gRPC API and metrics.
 */
export async function startKsr(o: KsrServiceOptions): Promise<RunningKsr> {
  const context = o.context ?? "ksr";
  const store = await SqlEventStore.open(o.sql, context);
  const ksr = new Ksr(store, o.clock, { tenancy: o.tenancyAddress, hsm: o.hsmAddress });
  await ksr.open();
  const sub: Subscription = await consume({
    bus: o.bus,
    groupId: `${context}-tenancy-events`,
    topics: [o.tenancyTopic ?? topicOf("tenancy")],
    inbox: { sql: store.sql, schema: store.schema },
    handlers: {
      UnitCreated: on({
        message: UnitCreated,
        handle: (e) => ksr.enrol({ unitId: e.unitId, serial: e.serial, profile: e.profile, firmware: e.firmware }, e.at).then(() => undefined),
      }),
    },
  });
  const timer = setInterval(() => {
    ksr.tick().catch((e: unknown) => o.logger?.warn({ err: e }, "KSR update scheduler failed"));
  }, o.tickMs ?? 60_000);
  timer.unref();
  const soap = await startKsrSoap(ksr, o.soap);
  ksr.ksrUrl = soap.url;
  const unregister = registerKsrMetrics(ksr);
  const host = await startServiceHost({ store, bus: o.bus, services: [ksrGrpc(ksr)], grpc: o.grpc, logger: o.logger });
  return {
    ksr,
    grpc: host.grpc,
    address: host.address,
    soapUrl: soap.url,
    stop: async () => {
      await soap.close();
      clearInterval(timer);
      await sub.stop();
      await ksr.tick().catch(() => undefined);
      unregister();
      await host.stop();
      ksr.close();
    },
  };
}
