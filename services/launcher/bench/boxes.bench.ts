/**
 * npm run bench (VPN boxes): the Zugangsmodul's sessions and the tunnel's cost, on `npm start`'s
 * embedded process (a child, as the tests start it; its RSS read from /proc).
 *
 * 1. Sessions: BENCH_BOXES boxes (default 200, spread over practice accounts of at most
 *    MAX_BOXES_PER_ACCOUNT boxes each) are announced in the portal and enrolled first (not
 *    measured), then connected BENCH_BOX_CONCURRENCY (20) at a time: boxes connected per second
 *    and per-session connect latency; the embedded process's RSS before and after, as MiB per
 *    1,000 connected boxes; then held BENCH_BOX_HOLD_SECONDS (10) with PING heartbeats every
 *    2 s (TIGW_ZUGANGSMODUL_HEARTBEAT_SECONDS=2: three missed and the Zugangsmodul ends the
 *    session), and none may have dropped.
 * 2. ReadVSD of the Prüfkarte (online check, receipt) for a practice bound to a Mandant with a
 *    terminal, SMC-B (PIN verified) and Prüfkarte 0001: BENCH_READS (200) reads through the
 *    practice's box (SOAP to the plain-HTTP Endpoint that /connector.sds through the box names)
 *    beside the same read over the operators' REST path (POST /api/v1/vsd/read), the baseline.
 *    20 warm-up reads each, then the two paths alternate read by read (never concurrent), so
 *    both see the same load on a shared machine; the tunnel's overhead is the ratio of the p50s.
 */
import { readFileSync } from "node:fs";
import type { Server } from "node:http";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { base32Decode, totpAt } from "@tigw/platform";
import { tempDir } from "@tigw/platform/testing";
import { MAX_BOXES_PER_ACCOUNT } from "@tigw/vpn";
import { BoxTunnel, enrolBox, type BoxCredentials } from "@tigw/vpn/box";
import { ok, pruefkarteCheck, startEmbedded, stopProcess, tigw } from "../test/support.js";

const BOXES = Number(process.env["BENCH_BOXES"] ?? 200);
const READS = Number(process.env["BENCH_READS"] ?? 200);
const CONCURRENCY = Number(process.env["BENCH_BOX_CONCURRENCY"] ?? 20);
const HOLD_SECONDS = Number(process.env["BENCH_BOX_HOLD_SECONDS"] ?? 10);
const HEARTBEAT_SECONDS = 2;
const WARMUP = 20;
const UNIT = "RZK-BENCH-BOX";
const PASSWORD = "bench-practice-password";
const VSD_ACTION = "http://ws.gematik.de/conn/vsds/VSDService/v6.0#ReadVSD";

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mib = (kb: number) => kb / 1024;

/** VmRSS of a process in kB, the median of a few samples (the PGlite heaps move a little on their own). */
async function rssKb(pid: number, samples = 5): Promise<number> {
  const kb: number[] = [];
  for (let i = 0; i < samples; i++) {
    if (i) await sleep(200);
    kb.push(Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]));
  }
  return kb.sort((a, b) => a - b)[Math.floor(samples / 2)]!;
}

async function main(): Promise<void> {
  const work = tempDir("tigw-boxes-bench-");
  const adminPassword = `bench-${randomBytes(8).toString("hex")}`;
  const started = await startEmbedded({
    dataDir: join(work, "data"),
    adminPassword,
    env: { TIGW_ZUGANGSMODUL_HEARTBEAT_SECONDS: String(HEARTBEAT_SECONDS) },
  });
  const child = started.child;
  // Whatever happens to this process, the embedded one goes with it.
  const killChild = () => void (child.exitCode === null && child.signalCode === null && child.kill("SIGKILL"));
  process.once("exit", killChild);
  const url = started.url;
  const tunnels: BoxTunnel[] = [];
  const servers: Server[] = [];
  try {
    const rest = async (method: string, path: string, token?: string, body?: unknown): Promise<Record<string, unknown>> => {
      const res = await fetch(`${url}${path}`, {
        method,
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { "content-type": "application/json" } : {}) },
        body: body !== undefined ? JSON.stringify(body) : undefined,
      });
      const text = await res.text();
      if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
      return JSON.parse(text) as Record<string, unknown>;
    };
    const admin = String((await rest("POST", "/api/v1/auth/login", undefined, { username: "admin", password: adminPassword }))["token"]);
    /** Portal registration and TOTP: the practice's full session. */
    const register = async (account: string): Promise<string> => {
      const enrolment = String(
        (await rest("POST", "/api/v1/portal/register", undefined, { account, password: PASSWORD, practiceName: `Praxis ${account}` }))["token"],
      );
      const secret = base32Decode(String((await rest("POST", "/api/v1/portal/totp", enrolment))["secret"]));
      return String((await rest("POST", "/api/v1/portal/totp/confirm", enrolment, { code: totpAt(secret, Date.now()) }))["token"]);
    };
    let zm = { address: "", trustPems: [] as string[] };
    /** A box announced in the portal and enrolled with its one-time code (the box's own key pair). */
    const newBox = async (token: string, name: string): Promise<BoxCredentials> => {
      const announced = await rest("POST", "/api/v1/portal/boxes", token, { name });
      zm = announced["zugangsmodul"] as typeof zm;
      return enrolBox({ address: zm.address, caPems: zm.trustPems, code: String(announced["enrolmentCode"]) });
    };
    const connectedOnServer = async () => ((await rest("GET", "/api/v1/boxes", admin))["boxes"] as { connected: boolean }[]).filter((b) => b.connected).length;

    // 1. Sessions. Enrolment first (not measured): accounts of at most MAX_BOXES_PER_ACCOUNT boxes.
    const accounts = Math.ceil(BOXES / MAX_BOXES_PER_ACCOUNT);
    const tEnrol = performance.now();
    const creds: BoxCredentials[] = [];
    for (let a = 0; a < accounts; a++) {
      const token = await register(`bench-box-${String(a + 1).padStart(3, "0")}`);
      const n = Math.min(MAX_BOXES_PER_ACCOUNT, BOXES - a * MAX_BOXES_PER_ACCOUNT);
      creds.push(...(await Promise.all(Array.from({ length: n }, (_, i) => newBox(token, `Box ${i + 1}`)))));
    }
    const enrolSecs = (performance.now() - tEnrol) / 1000;
    console.log(`${BOXES} boxes of ${accounts} practices registered (TOTP), announced and enrolled in ${enrolSecs.toFixed(1)} s (not measured)`);

    let drops = 0;
    const refusals: string[] = [];
    const rssBefore = await rssKb(child.pid!);
    const connectLat: number[] = [];
    const doneAt: number[] = [];
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: Math.min(CONCURRENCY, BOXES) }, async () => {
        for (let i = next++; i < creds.length; i = next++) {
          const s = performance.now();
          const t = new BoxTunnel(creds[i]!, zm.address);
          t.on("disconnected", () => drops++);
          t.on("refused", (r: { code: string }) => refusals.push(r.code));
          tunnels.push(t.start());
          await t.whenConnected(120_000);
          connectLat.push(performance.now() - s);
          doneAt.push(performance.now() - t0);
        }
      }),
    );
    const connectSecs = (performance.now() - t0) / 1000;
    connectLat.sort((a, b) => a - b);
    // Whether a session costs more with more connected: the rate of the first half beside the second's.
    const half = Math.floor(BOXES / 2);
    const halfSecs = (doneAt[half - 1] ?? 0) / 1000;
    const halves =
      BOXES < 2 ? "" : `first ${half} ${(half / halfSecs).toFixed(1)}/s, last ${BOXES - half} ${((BOXES - half) / (connectSecs - halfSecs)).toFixed(1)}/s`;
    const rssConnected = await rssKb(child.pid!);
    const serverConnected = await connectedOnServer();
    console.log(
      `connected ${BOXES} boxes, ${CONCURRENCY} at a time, in ${connectSecs.toFixed(2)} s: ${(BOXES / connectSecs).toFixed(1)} boxes/s (${halves}), ` +
        `connect p50 ${pct(connectLat, 50).toFixed(1)} ms p99 ${pct(connectLat, 99).toFixed(1)} ms; the Zugangsmodul counts ${serverConnected} connected`,
    );
    await sleep(HOLD_SECONDS * 1000);
    const rssHeld = await rssKb(child.pid!);
    const listed = (await rest("GET", "/api/v1/boxes", admin))["boxes"] as { connected: boolean; lastHeartbeat: string }[];
    const stillConnected = listed.filter((b) => b.connected).length;
    const beatRecently = listed.filter((b) => b.connected && Date.now() - Date.parse(b.lastHeartbeat) <= 3 * HEARTBEAT_SECONDS * 1000).length;
    const upClient = tunnels.filter((t) => t.connected).length;
    const perThousand = (mib(rssHeld - rssBefore) / BOXES) * 1000;
    console.log(
      `after ${HOLD_SECONDS} s of heartbeats every ${HEARTBEAT_SECONDS} s: ${upClient}/${BOXES} up at the boxes, ${stillConnected} connected at the Zugangsmodul ` +
        `(${beatRecently} with a heartbeat in the last ${3 * HEARTBEAT_SECONDS} s), ${drops} dropped, ${refusals.length} refused${refusals.length ? ` (${[...new Set(refusals)].join(", ")})` : ""}`,
    );
    console.log(
      `embedded process RSS: ${mib(rssBefore).toFixed(1)} MiB before, ${mib(rssConnected).toFixed(1)} MiB connected, ${mib(rssHeld).toFixed(1)} MiB after the hold: ` +
        `${perThousand.toFixed(1)} MiB per 1,000 connected boxes`,
    );
    if (drops || refusals.length || upClient !== BOXES || stillConnected !== BOXES) throw new Error("boxes dropped or were refused while held");
    for (const t of tunnels.splice(0)) t.stop();
    for (let i = 0; i < 100 && (await connectedOnServer()) > 0; i++) await sleep(200);

    // 2. ReadVSD: the operator's unit, Mandant, terminal, SMC-B (PIN verified), Prüfkarte 0001 in slot 1.
    const env = { TIGW_URL: url, TIGW_CONFIG_DIR: join(work, "operator") };
    const t = (...args: string[]) => tigw(env, ...args);
    ok(await t("login", "--user", "admin", "--password", adminPassword), "login");
    const { egkHandle, smcbHandle } = await pruefkarteCheck(t, UNIT);
    // The practice, bound to that Mandant, with its box connected and listening on the practice network.
    const token = await register("bench-read");
    await rest("POST", "/api/v1/practices/bench-read/bind", admin, { unit: UNIT, mandantId: "praxis-1" });
    const box = new BoxTunnel(await newBox(token, "Box am Empfang"), zm.address).start();
    tunnels.push(box);
    await box.whenConnected(60_000);
    const local = await box.listen("127.0.0.1", 0);
    servers.push(local.server);
    const sds = await (await fetch(`${local.url}/connector.sds`)).text();
    const endpoint = /<SI:Service Name="VSDService">[\s\S]*?<SI:Endpoint Location="([^"]+)"/.exec(sds)?.[1];
    if (!endpoint) throw new Error(`connector.sds through the box names no plain-HTTP VSDService endpoint: ${sds.slice(0, 400)}`);
    const envelope =
      `<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>` +
      `<VSD:ReadVSD xmlns:VSD="http://ws.gematik.de/conn/vsds/VSDService/v5.2"><VSD:EhcHandle>${egkHandle}</VSD:EhcHandle><VSD:HpcHandle>${smcbHandle}</VSD:HpcHandle>` +
      `<VSD:PerformOnlineCheck>true</VSD:PerformOnlineCheck><VSD:ReadOnlineReceipt>true</VSD:ReadOnlineReceipt>` +
      `<CCTX:Context xmlns:CCTX="http://ws.gematik.de/conn/ConnectorContext/v2.0" xmlns:CONN="http://ws.gematik.de/conn/ConnectorCommon/v5.0">` +
      `<CONN:MandantId>praxis-1</CONN:MandantId><CONN:ClientSystemId>PVS1</CONN:ClientSystemId><CONN:WorkplaceId>AP1</CONN:WorkplaceId></CCTX:Context>` +
      `</VSD:ReadVSD></soap:Body></soap:Envelope>`;
    const viaBox = async () => {
      const res = await fetch(endpoint, {
        method: "POST",
        headers: { "content-type": "text/xml; charset=utf-8", soapaction: `"${VSD_ACTION}"` },
        body: envelope,
      });
      const text = await res.text();
      if (res.status !== 200 || !text.includes("PersoenlicheVersichertendaten"))
        throw new Error(`ReadVSD through the box: ${res.status} ${text.slice(0, 500)}`);
    };
    const restBody = JSON.stringify({
      unit: UNIT,
      mandantId: "praxis-1",
      clientSystemId: "PVS1",
      workplaceId: "AP1",
      ehcHandle: egkHandle,
      hpcHandle: smcbHandle,
      performOnlineCheck: true,
      readOnlineReceipt: true,
    });
    const viaRest = async () => {
      const res = await fetch(`${url}/api/v1/vsd/read`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${admin}` },
        body: restBody,
      });
      const text = await res.text();
      if (res.status !== 200 || !text.includes("persoenlicheVersichertendaten")) throw new Error(`ReadVSD over REST: ${res.status} ${text.slice(0, 500)}`);
    };
    for (let i = 0; i < WARMUP; i++) await viaRest();
    for (let i = 0; i < WARMUP; i++) await viaBox();
    const lat = { rest: [] as number[], box: [] as number[] };
    for (let i = 0; i < READS; i++) {
      for (const [k, op] of [
        ["rest", viaRest],
        ["box", viaBox],
      ] as const) {
        const s = performance.now();
        await op();
        lat[k].push(performance.now() - s);
      }
    }
    const figures = (l: number[]) => {
      const total = l.reduce((a, b) => a + b, 0) / 1000;
      const sorted = [...l].sort((a, b) => a - b);
      return { perSec: l.length / total, p50: pct(sorted, 50), p99: pct(sorted, 99) };
    };
    const r = figures(lat.rest);
    const b = figures(lat.box);
    if (drops || box.drops) throw new Error("a box dropped during the reads");

    const row = (what: string, value: string) => console.log(`  ${what.padEnd(52)} ${value}`);
    console.log(`\nVPN boxes (embedded, all services in one process; ${READS} reads each after ${WARMUP} warm-up, alternating)`);
    row("boxes connected / s", `${(BOXES / connectSecs).toFixed(1)} (${BOXES} boxes, ${CONCURRENCY} at a time, ${connectSecs.toFixed(2)} s; ${halves})`);
    row("session connect p50 / p99", `${pct(connectLat, 50).toFixed(1)} / ${pct(connectLat, 99).toFixed(1)} ms`);
    row("RSS per 1,000 connected boxes", `${perThousand.toFixed(1)} MiB (${mib(rssBefore).toFixed(0)} -> ${mib(rssHeld).toFixed(0)} MiB)`);
    row(`held ${HOLD_SECONDS} s, heartbeat ${HEARTBEAT_SECONDS} s`, `${stillConnected}/${BOXES} connected, ${drops} dropped`);
    row("ReadVSD via REST (baseline)", `${r.perSec.toFixed(1)}/s  p50 ${r.p50.toFixed(2)} ms  p99 ${r.p99.toFixed(2)} ms`);
    row("ReadVSD via the box (SOAP through the tunnel)", `${b.perSec.toFixed(1)}/s  p50 ${b.p50.toFixed(2)} ms  p99 ${b.p99.toFixed(2)} ms`);
    row("tunnel overhead, p50 box / REST", `${(b.p50 / r.p50).toFixed(2)}`);
  } finally {
    for (const s of servers) s.close();
    for (const t of tunnels) t.stop();
    await stopProcess(child);
    process.off("exit", killChild);
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
