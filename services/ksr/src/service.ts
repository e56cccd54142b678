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
import * as kt from "@tigw/contracts/cardterminal/v1/events";
import { TerminalUpdates, terminalsOverGrpc } from "./application/terminal-updates.js";
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
  /** card-terminal's gRPC address: the KSR has it run terminal updates (without it none start). */
  cardTerminalAddress?: string;
  /** Where card-terminal publishes (terminals, pairing, connects); default tigw.card-terminal.events.v1. */
  cardTerminalTopic?: string;
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
  // Card terminals: their facts come from card-terminal's events; a connect starts an update due.
  const port = o.cardTerminalAddress ? terminalsOverGrpc(o.cardTerminalAddress) : undefined;
  const terminals = new TerminalUpdates(ksr, port);
  await terminals.open();
  ksr.terminals = terminals;
  const observe = (ctId: string, facts: Parameters<TerminalUpdates["observe"]>[1], at: string) => terminals.observe(ctId, facts, at);
  const ktSub: Subscription = await consume({
    bus: o.bus,
    groupId: `${context}-card-terminal-events`,
    topics: [o.cardTerminalTopic ?? topicOf("card-terminal")],
    inbox: { sql: store.sql, schema: store.schema },
    handlers: {
      TerminalAdded: on({
        message: kt.TerminalAdded,
        // Only what TerminalAdded knows: its later events are keyed by the unit and may arrive first.
        handle: (e) => observe(e.ctId, { product: `${e.vendor} ${e.model}`.trim(), firmware: e.firmware }, e.at),
      }),
      TerminalAssigned: on({ message: kt.TerminalAssigned, handle: (e) => observe(e.ctId, { unitId: e.unitId }, e.at) }),
      TerminalPaired: on({ message: kt.TerminalPaired, handle: (e) => observe(e.ctId, { unitId: e.unitId, paired: true }, e.at) }),
      TerminalConnected: on({ message: kt.TerminalConnected, handle: (e) => observe(e.ctId, { connected: true }, e.at) }),
      TerminalDisconnected: on({ message: kt.TerminalDisconnected, handle: (e) => observe(e.ctId, { connected: false }, e.at) }),
      TerminalUnpaired: on({ message: kt.TerminalUnpaired, handle: (e) => observe(e.ctId, { unitId: "", paired: false, connected: false }, e.at) }),
      FirmwareUpdateFinished: on({ message: kt.FirmwareUpdateFinished, handle: (e) => observe(e.ctId, { firmware: e.firmware }, e.at) }),
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
      await ktSub.stop();
      port?.close();
      await ksr.tick().catch(() => undefined);
      unregister();
      await host.stop();
      ksr.close();
    },
  };
}
