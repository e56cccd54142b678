/**
 * npm run bench (ReadVSD): one technician's read of the Prüfkarte eGK (online check, receipt)
 * with the Fachdienst at zero latency, through the gateway (REST) and through vsdm (gRPC), each
 * beside the bare round trips the read makes to the other services (gRPC and the OCSP responder),
 * measured in the same run: what is left is the system's own work (certificate checks, decisions,
 * XML, gzip, protocol append).
 */
import { randomBytes, X509Certificate } from "node:crypto";
import { embeddedSql } from "@tigw/platform";
import { startGateway } from "@tigw/gateway";
import { ocspQuery, postOcsp } from "@tigw/hsm";
import { rpc, setUpPractice, UNIT } from "@tigw/vsdm/testing";

const N = Number(process.env["BENCH_READS"] ?? 300);

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

async function timed(n: number, op: () => Promise<unknown>): Promise<{ perSec: number; p50: number; p99: number }> {
  for (let i = 0; i < 20; i++) await op();
  const lat: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    await op();
    lat.push(performance.now() - s);
  }
  const secs = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  return { perSec: n / secs, p50: pct(lat, 50), p99: pct(lat, 99) };
}

const fmt = (f: { perSec: number; p50: number; p99: number }) => `${f.perSec.toFixed(0).padStart(5)}/s  p50 ${f.p50.toFixed(2)} ms  p99 ${f.p99.toFixed(2)} ms`;

async function main(): Promise<void> {
  const practice = await setUpPractice({ populationSize: 100 });
  const adminPassword = `bench-${randomBytes(8).toString("hex")}`;
  const { h, c, v } = practice.clients;
  const gw = await startGateway({
    sql: await embeddedSql(),
    tenancyAddress: practice.tenancy.address,
    hsmAddress: practice.hsm.address,
    cardTerminalAddress: practice.cardTerminal.address,
    vsdmAddress: practice.vsdm.address,
    port: 0,
    adminPassword,
  });
  try {
    await rpc(c, "verifyPin", { cardHandle: practice.smcbHandle, pin: "123456" });
    const egk = await rpc<{ iccsn: string; certSerial: string }>(v, "prepareEgk", { kvnr: "", pruefkarte: 1 });
    const smcbCert = (await rpc<{ cards: { cardHandle: string; certSerial: string }[] }>(c, "listCards", { unit: UNIT })).cards.find((x) => x.cardHandle === practice.smcbHandle)!.certSerial;
    const ehcHandle = await practice.insert(1, "PRUEFKARTE_EGK", egk.iccsn, egk.certSerial);
    const context = { mandantId: "M1", clientSystemId: "PVS1", workplaceId: "AP1", userId: "" };
    const request = { unit: UNIT, context, ehcHandle, hpcHandle: practice.smcbHandle, performOnlineCheck: true, readOnlineReceipt: true };

    const login = await fetch(`${gw.url}/api/v1/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "admin", password: adminPassword }) });
    const { token } = (await login.json()) as { token: string };
    const body = JSON.stringify({ unit: UNIT, ...context, ehcHandle, hpcHandle: practice.smcbHandle, performOnlineCheck: true, readOnlineReceipt: true });

    // The calls one read makes to other services, one after another, without any work around
    // them: six gRPC calls and the OCSP request (prepared once) to the responder.
    const aut = (await rpc<{ certificate: { pem: string } }>(h, "getCertificate", { certSerial: egk.certSerial })).certificate.pem;
    const { subCaPems } = await rpc<{ subCaPems: string[] }>(h, "getTrustAnchors", {});
    const autX509 = new X509Certificate(aut);
    const ocsp = ocspQuery(autX509, new X509Certificate(subCaPems.find((p) => autX509.checkIssued(new X509Certificate(p)))!));
    const access = (cardHandle: string) => rpc(c, "checkAccess", { unit: UNIT, ...context, ctId: "", cardHandle, workplaceRequired: true });
    const bare = async () => {
      await access(ehcHandle);
      await access(practice.smcbHandle);
      await rpc(c, "getPinStatus", { cardHandle: practice.smcbHandle });
      await rpc(h, "getCertificate", { certSerial: egk.certSerial });
      await postOcsp(ocsp.url, ocsp.der, 5_000);
      await rpc(h, "cardToCardAuthenticate", { sourceCertSerial: egk.certSerial, targetCertSerial: smcbCert });
      await access(ehcHandle);
    };
    const viaGrpc = () => rpc(v, "readVsd", request);
    const viaGateway = async () => {
      const res = await fetch(`${gw.url}/api/v1/vsd/read`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${token}` }, body });
      if (res.status !== 200) throw new Error(`ReadVSD through the gateway: ${res.status} ${await res.text()}`);
      await res.arrayBuffer();
    };

    const b = await timed(N, bare);
    const g = await timed(N, viaGrpc);
    const r = await timed(N, viaGateway);
    console.log(`ReadVSD (Prüfkarte, online check + receipt, Fachdienst latency 0), ${N} reads each, embedded adapters`);
    console.log(`bare round trips of the path (6 gRPC, 1 OCSP): ${fmt(b)}`);
    console.log(`ReadVSD via vsdm gRPC:                      ${fmt(g)}   ratio ${(g.perSec / b.perSec).toFixed(2)} of bare`);
    console.log(`ReadVSD via gateway REST:                   ${fmt(r)}   ratio ${(r.perSec / b.perSec).toFixed(2)} of bare`);
    // Where a read's time goes, from the Ablaufprotokoll's step durations (ms, whole numbers).
    const { entries } = await rpc<{ entries: { steps: { name: string; ms: number }[] }[] }>(v, "listProtocol", { unit: UNIT, outcome: "", mandantId: "", from: "", to: "", limit: 10_000 });
    const byStep = new Map<string, number[]>();
    for (const e of entries) for (const st of e.steps) byStep.set(st.name, [...(byStep.get(st.name) ?? []), st.ms]);
    console.log(`steps, median of ${entries.length} reads: ${[...byStep].map(([name, ms]) => `${name} ${pct(ms.sort((a, b) => a - b), 50)} ms`).join(", ")}`);
  } finally {
    await gw.close();
    await practice.stop();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
