import { SecretVault, SqlEventStore, startServiceHost, type Clock, type EventBus, type Logger, type RunningGrpcServer, type Sql } from "@tigw/platform";
import { cardTerminalGrpc } from "./api/grpc.js";
import { CardTerminals } from "./application/card-terminals.js";
import { cardTerminalMetrics } from "./application/metrics.js";
import { hsmOverGrpc, tenancyOverGrpc } from "./application/ports.js";

export interface CardTerminalServiceOptions {
  sql: Sql;
  bus: EventBus;
  clock: Clock;
  /** Encrypts the pairing secrets (32 bytes). */
  masterKey: Buffer;
  tenancyAddress: string;
  hsmAddress: string;
  grpc?: { host?: string; port?: number };
  logger?: Logger;
  context?: string;
  /** How long a pairing or connect waits for the OCSP responder (default 30 s). */
  ocspTimeoutMs?: number;
}

export interface RunningCardTerminal {
  cardTerminals: CardTerminals;
  grpc: RunningGrpcServer;
  address: string;
  stop(): Promise<void>;
}

/** The card-terminal service: store, vault for pairing secrets, outbox relay, gRPC, metrics. */
export async function startCardTerminal(o: CardTerminalServiceOptions): Promise<RunningCardTerminal> {
  const store = await SqlEventStore.open(o.sql, o.context ?? "card-terminal");
  const vault = await SecretVault.open(o.sql, store.schema, o.masterKey, "pairing_secrets");
  const tenancy = tenancyOverGrpc(o.tenancyAddress);
  const hsm = hsmOverGrpc(o.hsmAddress);
  const metrics = cardTerminalMetrics();
  const cardTerminals = await CardTerminals.open({ store, vault, clock: o.clock, tenancy, hsm, observe: metrics.observer, ocspTimeoutMs: o.ocspTimeoutMs });
  const unregister = metrics.register(cardTerminals);
  const host = await startServiceHost({
    store,
    bus: o.bus,
    services: [cardTerminalGrpc(cardTerminals, (unit) => tenancy.unitId(unit))],
    grpc: o.grpc,
    logger: o.logger,
  });
  return {
    cardTerminals,
    grpc: host.grpc,
    address: host.address,
    stop: async () => {
      unregister();
      await host.stop();
      tenancy.close();
      hsm.close();
    },
  };
}
