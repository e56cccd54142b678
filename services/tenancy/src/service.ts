import { createPublicKey, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import {
  consume,
  DomainError,
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
import { FirmwareInstalled } from "@tigw/contracts/ksr/v1/events";
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
  /** Where ksr publishes (FirmwareInstalled changes a unit's firmware); default tigw.ksr.events.v1. */
  ksrTopic?: string;
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

/**
 * The tenancy service: its store, the outbox relay to the bus, the gRPC API, fleet metrics, and a
 * consumer of ksr's events (FirmwareInstalled: the unit runs the new firmware).
 */
export async function startTenancy(o: TenancyServiceOptions): Promise<RunningTenancy> {
  const context = o.context ?? "tenancy";
  const store = await SqlEventStore.open(o.sql, context);
  const tenancy = await Tenancy.open({ store, clock: o.clock, profiles: o.profiles, vendorKeys: o.vendorKeys });
  const sub: Subscription = await consume({
    bus: o.bus,
    groupId: `${context}-ksr-events`,
    topics: [o.ksrTopic ?? topicOf("ksr")],
    inbox: { sql: store.sql, schema: store.schema },
    // Tenancy serves its commands (and its outbox relay keeps trying) while the broker is away.
    background: { logger: o.logger },
    handlers: {
      FirmwareInstalled: on({
        message: FirmwareInstalled,
        // ksr enrols only tenancy's units; a unit this tenancy does not know (another deployment's
        // event on a shared topic) is not ours to record, and no retry would change that.
        handle: (e) =>
          tenancy.recordFirmware(e.unitId, e.toVersion, e.updateId, e.at).then(
            () => undefined,
            (err: unknown) => {
              if (!(err instanceof DomainError && err.code === "UNIT_NOT_FOUND")) throw err;
            },
          ),
      }),
    },
  });
  const unregister = registerFleetMetrics(tenancy);
  const host = await startServiceHost({ store, bus: o.bus, services: [tenancyGrpc(tenancy)], grpc: o.grpc, logger: o.logger });
  return {
    tenancy,
    grpc: host.grpc,
    address: host.address,
    stop: async () => {
      await sub.stop();
      unregister();
      await host.stop();
    },
  };
}
