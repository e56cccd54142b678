import { OutboxRelay, SecretVault, SqlEventStore, startGrpcServer, type Clock, type EventBus, type Logger, type RunningGrpcServer, type Sql } from "@tigw/platform";
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
  const cardTerminals = await CardTerminals.open({ store, vault, clock: o.clock, tenancy, hsm, observe: metrics.observer });
  const relay = new OutboxRelay(store, o.bus, { onError: (e) => o.logger?.warn({ err: e }, "outbox relay: publish failed, retrying") });
  relay.start();
  const unregister = metrics.register(cardTerminals);
  const grpc = await startGrpcServer([cardTerminalGrpc(cardTerminals, async (unit) => (await tenancy.unit(unit)).unitId)], o.grpc);
  const host = o.grpc?.host ?? "127.0.0.1";
  return {
    cardTerminals,
    grpc,
    address: `${host === "0.0.0.0" ? "127.0.0.1" : host}:${grpc.port}`,
    stop: async () => {
      await grpc.shutdown();
      unregister();
      await relay.stop();
      tenancy.close();
      hsm.close();
      await store.close();
    },
  };
}
