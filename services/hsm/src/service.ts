import {
  consume,
  deadLetterGrpc,
  on,
  SqlEventStore,
  startServiceHost,
  topicOf,
  type EventBus,
  type Logger,
  type RunningGrpcServer,
  type Sql,
  type Subscription,
} from "@tigw/platform";
import { LicenceImported, UnitCreated } from "@tigw/contracts/tenancy/v1/events";
import { hsmGrpc } from "./api/grpc.js";
import { startOcspServer, type OcspServer } from "./api/ocsp-http.js";
import type { ClockControl } from "./application/clock.js";
import { Hsm } from "./application/hsm.js";
import { registerHsmMetrics } from "./application/metrics.js";
import { TestPki } from "./pki/test-pki.js";
import type { KeyType } from "./pki/x509.js";
import { KeyVault } from "./vault.js";

export interface HsmServiceOptions {
  sql: Sql;
  bus: EventBus;
  clock: ClockControl;
  masterKey: Buffer;
  keyType?: KeyType;
  grpc?: { host?: string; port?: number };
  /** The OCSP responder; `url` is what certificates name (default http://host:port/ocsp). */
  ocsp?: { host?: string; port?: number; url?: string };
  /** How often expiry marks and LZV are checked (the clock advance also triggers it). */
  tickMs?: number;
  logger?: Logger;
  context?: string;
  /** Where tenancy's events come from (default tigw.tenancy.events.v1). */
  tenancyTopic?: string;
}

export interface RunningHsm {
  hsm: Hsm;
  grpc: RunningGrpcServer;
  address: string;
  ocspUrl: string;
  /** The OCSP responder: pause() and resume() rehearse its outage. */
  ocsp: Pick<OcspServer, "pause" | "resume">;
  stop(): Promise<void>;
}

/**
 * The hsm service: its store, vault and test PKI, the OCSP responder, the gRPC API, a consumer
 * of tenancy's events (UnitCreated provisions a gSMC-K, LicenceImported records LZV), the
 * expiry tick and metrics.
 */
export async function startHsm(o: HsmServiceOptions): Promise<RunningHsm> {
  const context = o.context ?? "hsm";
  const store = await SqlEventStore.open(o.sql, context);
  const vault = await KeyVault.open(o.sql, store.schema, o.masterKey);
  // The responder must listen before the PKI opens: certificates name its URL.
  const ref: { pki?: TestPki } = {};
  const ocsp = await startOcspServer(() => ref.pki!, { host: o.ocsp?.host, port: o.ocsp?.port });
  const ocspUrl = o.ocsp?.url ?? `http://${o.ocsp?.host ?? "127.0.0.1"}:${ocsp.port}/ocsp`;
  const pki = (ref.pki = await TestPki.open({ store, vault, clock: o.clock, ocspUrl }));
  const hsm = await Hsm.open({ store, pki, vault, clock: o.clock, keyType: o.keyType });

  const tenancyTopic = o.tenancyTopic ?? topicOf("tenancy");
  const sub: Subscription = await consume({
    bus: o.bus,
    groupId: `${context}-tenancy-events`,
    topics: [tenancyTopic],
    inbox: { sql: store.sql, schema: store.schema },
    // hsm serves OCSP, signatures and its gRPC API while the broker is away; units created
    // meanwhile are provisioned once the subscription stands.
    background: { logger: o.logger },
    handlers: {
      UnitCreated: on({
        message: UnitCreated,
        handle: (e) => hsm.provision({ unitId: e.unitId, serial: e.serial, producedOn: e.producedOn }).then(() => undefined),
      }),
      LicenceImported: on({ message: LicenceImported, handle: (e) => hsm.recordLicence(e.unitId, e.features) }),
    },
  });

  let ticking = Promise.resolve();
  const timer = setInterval(() => {
    ticking = ticking.then(() => hsm.tick().then(() => undefined)).catch((e: unknown) => o.logger?.warn({ err: e }, "expiry tick failed"));
  }, o.tickMs ?? 60_000);
  timer.unref();
  const unregister = registerHsmMetrics(hsm);
  const host = await startServiceHost({
    store,
    bus: o.bus,
    services: [hsmGrpc(hsm, o.clock), deadLetterGrpc(o.bus, [tenancyTopic])],
    grpc: o.grpc,
    logger: o.logger,
  });
  return {
    hsm,
    grpc: host.grpc,
    address: host.address,
    ocspUrl,
    ocsp,
    stop: async () => {
      clearInterval(timer);
      await sub.stop();
      await ticking;
      unregister();
      await ocsp.close();
      await host.stop();
    },
  };
}
