import type { EventBus } from "./bus/event-bus.js";
import { OutboxRelay } from "./bus/outbox-relay.js";
import { startGrpcServer, type GrpcServiceBinding, type RunningGrpcServer } from "./grpc/server.js";
import type { SqlEventStore } from "./store/sql-event-store.js";
import type { Logger } from "./telemetry/logger.js";

export interface ServiceHost {
  grpc: RunningGrpcServer;
  /** host:port to dial (127.0.0.1 when bound to all interfaces). */
  address: string;
  /** Stops serving, then the relay, then closes the store. */
  stop(): Promise<void>;
}

/**
 * What every service runs around its application: the outbox relay publishing its store's
 * events to the bus, and a gRPC server with its services and grpc.health.v1.
 */
export async function startServiceHost(o: {
  store: SqlEventStore;
  bus: EventBus;
  services: GrpcServiceBinding[];
  grpc?: { host?: string; port?: number };
  logger?: Logger;
}): Promise<ServiceHost> {
  // Appends in this process wake the relay at once; the poll only finds what others appended.
  // An embedded database has no other writer, so it is polled rarely (each poll is a query on
  // the one thread that also serves every request).
  const relay = new OutboxRelay(o.store, o.bus, { logger: o.logger, pollMs: o.store.sql.kind === "embedded" ? 2_000 : 200 });
  relay.start();
  const grpc = await startGrpcServer(o.services, o.grpc);
  const host = o.grpc?.host ?? "127.0.0.1";
  return {
    grpc,
    address: `${host === "0.0.0.0" ? "127.0.0.1" : host}:${grpc.port}`,
    stop: async () => {
      await grpc.shutdown();
      await relay.stop();
      await o.store.close();
    },
  };
}
