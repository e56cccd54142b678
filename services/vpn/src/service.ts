import { X509Certificate } from "node:crypto";
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
import { VpnBoxes } from "./application/boxes.js";
import { registerBoxMetrics } from "./application/box-metrics.js";
import { newServerKey, VPNBOX_CA_CN, ZUGANGSMODUL_SERVER_NAME, ZugangsmodulEndpoint } from "./zugangsmodul/endpoint.js";
import { VPNZUGD_SERVER_NAME, VpnZugdSimulator } from "./vpnzugd/simulator.js";
import { KonnektorAddresses } from "./zugangsmodul/konnektors.js";
import { TunnelTerminals } from "./zugangsmodul/terminals.js";

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
  /** The Zugangsmodul's TLS endpoint for the practices' VPN boxes (port 0: any free one). */
  boxes?: { host?: string; port?: number; heartbeatMs?: number; recheckMs?: number; publicAddress?: string };
  logger?: Logger;
  context?: string;
}

export interface RunningVpn {
  vpn: Vpn;
  zugangsmodul: Zugangsmodul;
  vpnzugd: VpnZugdSimulator;
  boxes: VpnBoxes;
  /** The Zugangsmodul's TLS endpoint (host:port) and the PEMs a box trusts it by. */
  endpoint: ZugangsmodulEndpoint;
  boxTrustPems: string[];
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
  const vpn = new Vpn(
    store,
    o.clock,
    { tenancy: o.tenancyAddress, hsm: o.hsmAddress, cardTerminal: o.cardTerminalAddress, ksr: o.ksrAddress },
    () => ({
      url: zugd.url,
      caPem: zugd.caPem,
      serverName: VPNZUGD_SERVER_NAME,
      timeoutMs: o.callTimeoutMs ?? 30_000,
    }),
    o.logger,
  );
  await vpn.open();
  const vault = await SecretVault.open(o.sql, store.schema, o.masterKey, "practice_totp_secrets");
  const zugangsmodul = new Zugangsmodul(store, o.clock, vault, o.tenancyAddress);
  await zugangsmodul.open();
  const boxes = new VpnBoxes(store, o.clock, zugangsmodul, o.hsmAddress);
  await boxes.open();
  const endpointTls = await zugangsmodulTls(o.hsmAddress, trust);
  const konnektors = await KonnektorAddresses.open(o.sql, `${store.schema}_konnektors`);
  const terminals = new TunnelTerminals(o.cardTerminalAddress);
  const endpoint = new ZugangsmodulEndpoint(
    boxes,
    zugangsmodul,
    {
      // The practice's instances, from its own bindings: what its session may reach.
      instances: async (account) => {
        const bound = await zugangsmodul.bindingsOf(account);
        const units = [...new Map(bound.map((b) => [b.unitId, b.serial])).entries()];
        return units.map(([unitId, serial]) => ({ unit: serial, unitId, mandanten: bound.filter((b) => b.unitId === unitId).map((b) => b.mandantId) }));
      },
      tiAccess: (unitId) =>
        vpn.tiAccess(unitId).then(
          (v) => v.tiAccess,
          () => null,
        ),
      konnektorAddress: (unitId) => konnektors.addressOf(unitId),
    },
    o.clock,
    // The units' SOAP endpoints have certificates of the TI PKI's KOMP CA: the roots and the
    // component sub-CAs, never the VPN-box CA (a box's own certificate must not pass as a Konnektor).
    {
      ...o.boxes,
      tls: endpointTls,
      konnektorCaPems: [...trust.rootPems, ...trust.subCaPems.filter((p) => /CN=GEM\.KOMP-CA/.test(new X509Certificate(p).subject))],
      terminals,
      logger: o.logger,
    },
  );
  await endpoint.listen();
  boxes.terminator = endpoint;
  zugangsmodul.endSessions = (account, reason) => endpoint.endAccount(account, reason);
  let beating = Promise.resolve();
  const timer = setInterval(() => {
    beating = beating.then(() => vpn.heartbeat()).catch((e: unknown) => o.logger?.warn({ err: e }, "VPN heartbeat failed"));
  }, o.heartbeatMs ?? 30_000);
  timer.unref();
  const unregisterVpn = registerVpnMetrics(vpn, zugd);
  const unregisterBoxes = registerBoxMetrics(boxes, endpoint);
  const unregister = () => {
    unregisterVpn();
    unregisterBoxes();
  };
  const host = await startServiceHost({
    store,
    bus: o.bus,
    services: [vpnGrpc(vpn, zugd), zugangsmodulGrpc(zugangsmodul, boxes, endpoint, konnektors)],
    grpc: o.grpc,
    logger: o.logger,
  });
  return {
    vpn,
    zugangsmodul,
    vpnzugd: zugd,
    boxes,
    endpoint,
    boxTrustPems: endpointTls.caPems,
    grpc: host.grpc,
    address: host.address,
    stop: async () => {
      clearInterval(timer);
      await beating;
      unregister();
      await host.stop();
      await endpoint.close();
      terminals.close();
      await zugd.close();
      boxes.close();
      vpn.close();
      zugangsmodul.close();
    },
  };
}

/**
 * The Zugangsmodul's server certificate from hsm's VPN-box sub-CA (a fresh key each start, kept in
 * this process), and the CAs a box certificate must chain to: the RSA root and that sub-CA.
 */
async function zugangsmodulTls(
  hsmAddress: string,
  trust: hsm.GetTrustAnchorsResponse,
): Promise<{ keyPem: string; certPem: string; chainPems: string[]; caPems: string[] }> {
  const key = newServerKey();
  const client = createClient(HsmServiceClient, hsmAddress, { deadlineMs: 30_000 });
  const issued = await call<hsm.IssueVpnBoxCertificateRequest, hsm.IssueVpnBoxCertificateResponse>(client.issueVpnBoxCertificate.bind(client), {
    boxId: "zugangsmodul",
    account: "",
    publicKey: key.spkiDer,
    validDays: 825,
    dnsNames: [ZUGANGSMODUL_SERVER_NAME, "localhost"],
  }).finally(() => client.close());
  const subCa = trust.subCaPems.find((p) => new X509Certificate(p).subject.includes(`CN=${VPNBOX_CA_CN}`));
  if (!subCa) throw new Error("hsm has no VPN-box sub-CA: start an hsm of this version");
  return { keyPem: key.keyPem, certPem: issued.certificate!.pem, chainPems: issued.chainPems, caPems: [...issued.chainPems.slice(1), subCa] };
}
