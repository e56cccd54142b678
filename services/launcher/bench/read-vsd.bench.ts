/**
 * npm run bench (ReadVSD): one technician's read of the Prüfkarte eGK (online check, receipt)
 * with the Fachdienst at zero latency, through the gateway (REST) and through vsdm (gRPC), each
 * beside the bare round trips the read makes to the other services (gRPC and the OCSP responder),
 * measured in the same run: what is left is the system's own work (certificate checks, decisions,
 * XML, gzip, protocol append).
 *
 * First, whether a read costs more as the unit's protocol grows: reads 1-500 of the unit beside
 * reads 10,001-10,500, their p50 ratio (goal <= 1.1). The 9,500 reads between are not run one by
 * one: their events (a protocol entry each, and the online check of the card each records) are
 * appended straight to vsdm's store in batches, the state 10,000 reads leave behind. vsdm runs on
 * PostgreSQL when DATABASE_URL is set (a schema of its own), else embedded like the others.
 */
import { randomBytes, X509Certificate } from "node:crypto";
import { ANY, embeddedSql, postgresSql, SqlEventStore } from "@tigw/platform";
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

/** Latencies (ms) of n runs of op, without warm-up: every run counts as a read of the unit. */
async function each(n: number, op: () => Promise<unknown>): Promise<number[]> {
  const lat: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    await op();
    lat.push(performance.now() - s);
  }
  return lat.sort((a, b) => a - b);
}

async function main(): Promise<void> {
  const url = process.env["DATABASE_URL"];
  const vsdmStore = url ? { sql: postgresSql(url, { max: 10 }), context: `bench_vsdm_${Date.now().toString(36)}` } : undefined;
  const practice = await setUpPractice({ populationSize: 100, vsdm: vsdmStore });
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
    const smcbCert = (await rpc<{ cards: { cardHandle: string; certSerial: string }[] }>(c, "listCards", { unit: UNIT })).cards.find(
      (x) => x.cardHandle === practice.smcbHandle,
    )!.certSerial;
    const ehcHandle = await practice.insert(1, "PRUEFKARTE_EGK", egk.iccsn, egk.certSerial);
    const context = { mandantId: "M1", clientSystemId: "PVS1", workplaceId: "AP1", userId: "" };
    const request = { unit: UNIT, context, ehcHandle, hpcHandle: practice.smcbHandle, performOnlineCheck: true, readOnlineReceipt: true };

    const login = await fetch(`${gw.url}/api/v1/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "admin", password: adminPassword }),
    });
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
      const res = await fetch(`${gw.url}/api/v1/vsd/read`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body,
      });
      if (res.status !== 200) throw new Error(`ReadVSD through the gateway: ${res.status} ${await res.text()}`);
      await res.arrayBuffer();
    };

    // Reads 1-500 of the unit, then the state after 10,000 reads, then reads 10,001-10,500.
    const WINDOW = 500;
    const first = await each(WINDOW, viaGrpc);
    const store = await SqlEventStore.open(practice.sql.vsdm, practice.vsdmContext);
    const unitId = (await rpc<{ unit: { unitId: string } }>(practice.clients.t, "getUnit", { unit: UNIT })).unit.unitId;
    const protocolStream = `protocol-${unitId}`;
    const cardStream = `egk-${egk.iccsn}`;
    const [entry] = (await store.readStream(protocolStream)).events;
    const [check] = (await store.readStream(cardStream)).events;
    const t0 = performance.now();
    for (let done = (await store.readStream(protocolStream)).version; done < 10_000;) {
      const n = Math.min(500, 10_000 - done);
      await store.append(
        protocolStream,
        ANY,
        Array.from({ length: n }, () => ({ type: entry!.type, data: entry!.data, unitId, mandantId: entry!.mandantId })),
        new Date(),
      );
      if (check)
        await store.append(
          cardStream,
          ANY,
          Array.from({ length: n }, () => ({ type: check.type, data: check.data })),
          new Date(),
        );
      done += n;
    }
    const topUp = (performance.now() - t0) / 1000;
    const later = await each(WINDOW, viaGrpc);
    const ratio = pct(later, 50) / pct(first, 50);
    console.log(`ReadVSD as the unit's protocol grows (vsdm on ${url ? "PostgreSQL" : "embedded PGlite"}, the other services embedded), via vsdm gRPC`);
    console.log(`  reads 1-500:          p50 ${pct(first, 50).toFixed(2)} ms  p99 ${pct(first, 99).toFixed(2)} ms`);
    console.log(`  reads 10,001-10,500:  p50 ${pct(later, 50).toFixed(2)} ms  p99 ${pct(later, 99).toFixed(2)} ms`);
    console.log(`  p50 ratio ${ratio.toFixed(2)} (goal <= 1.1) ${ratio <= 1.1 ? "ok" : "MISSED"}`);
    console.log(
      `  reads 501-10,000 not run one by one: their ${10_000 - WINDOW} protocol entries and card online checks appended to vsdm's store in batches of 500 (${topUp.toFixed(1)} s), the state those reads leave`,
    );

    const b = await timed(N, bare);
    const g = await timed(N, viaGrpc);
    const r = await timed(N, viaGateway);
    console.log(`ReadVSD (Prüfkarte, online check + receipt, Fachdienst latency 0), ${N} reads each (after the 10,500 above), embedded adapters`);
    console.log(`bare round trips of the path (6 gRPC, 1 OCSP): ${fmt(b)}`);
    console.log(`ReadVSD via vsdm gRPC:                      ${fmt(g)}   ratio ${(g.perSec / b.perSec).toFixed(2)} of bare`);
    console.log(`ReadVSD via gateway REST:                   ${fmt(r)}   ratio ${(r.perSec / b.perSec).toFixed(2)} of bare`);
    // Where a read's time goes, from the Ablaufprotokoll's step durations (ms, whole numbers).
    const { entries } = await rpc<{ entries: { steps: { name: string; ms: number }[] }[] }>(v, "listProtocol", {
      unit: UNIT,
      outcome: "",
      mandantId: "",
      from: "",
      to: "",
      limit: 10_000,
    });
    const byStep = new Map<string, number[]>();
    for (const e of entries) for (const st of e.steps) byStep.set(st.name, [...(byStep.get(st.name) ?? []), st.ms]);
    console.log(
      `steps, median of ${entries.length} reads: ${[...byStep]
        .map(
          ([name, ms]) =>
            `${name} ${pct(
              ms.sort((a, b) => a - b),
              50,
            )} ms`,
        )
        .join(", ")}`,
    );
  } finally {
    await gw.close();
    await practice.stop();
    if (vsdmStore) {
      await vsdmStore.sql.exec(`DROP SCHEMA ${vsdmStore.context} CASCADE`);
      await vsdmStore.sql.close();
    }
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
