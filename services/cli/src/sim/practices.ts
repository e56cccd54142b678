import { createHmac, randomBytes } from "node:crypto";
import { gunzipSync } from "node:zlib";
import { BoxError, BoxTunnel, enrolBox } from "@tigw/vpn/box";
import { Api, ApiError } from "../client.js";
import { SimulatedTerminal } from "./kt-simulator.js";
import { type Context, need, parseDurationMs, UsageError } from "../commands/command.js";
import { table } from "../output.js";

/** RFC 6238 TOTP (SHA-1, 6 digits, 30 s) of a base32 secret: the simulated practices' authenticator app. */
export function totpNow(secretBase32: string, at = Date.now()): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const ch of secretBase32.replace(/=+$/, "").toUpperCase()) bits += alphabet.indexOf(ch).toString(2).padStart(5, "0");
  const key = Buffer.from((bits.match(/.{8}/g) ?? []).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 30_000)));
  const h = createHmac("sha1", key).update(counter).digest();
  const o = h[h.length - 1]! & 0x0f;
  return String((h.readUInt32BE(o) & 0x7fffffff) % 1_000_000).padStart(6, "0");
}

interface SimPractice {
  account: string;
  mandantId: string;
  token: string;
  tunnel?: BoxTunnel;
  /** The practice network's side of its box (its local port). */
  local?: string;
  ctId: string;
  smcbHandle: string;
  /** Its patients' cards (Prüfkarten eGK of the test population): one is in slot 1 at a time. */
  egks: { iccsn: string; certSerial: string; kvnr: string }[];
  busy: boolean;
}

const NS = {
  cctx: "http://ws.gematik.de/conn/ConnectorContext/v2.0",
  conn: "http://ws.gematik.de/conn/ConnectorCommon/v5.0",
  card: "http://ws.gematik.de/conn/CardService/v8.1",
  cardcmn: "http://ws.gematik.de/conn/CardServiceCommon/v2.0",
  vsd: "http://ws.gematik.de/conn/vsds/VSDService/v5.2",
};
const context = (m: string) =>
  `<CCTX:Context xmlns:CCTX="${NS.cctx}" xmlns:CONN="${NS.conn}"><CONN:MandantId>${m}</CONN:MandantId><CONN:ClientSystemId>PVS-${m}</CONN:ClientSystemId><CONN:WorkplaceId>AP1-${m}</CONN:WorkplaceId></CCTX:Context>`;

/** A SOAP call of the practice's software to its Konnektor, through the box's local port: the answer's text, or an error naming the fault. */
async function soap(local: string, service: string, action: string, body: string): Promise<string> {
  const res = await fetch(`${local}/soap/${service}`, {
    method: "POST",
    headers: { "content-type": "text/xml; charset=utf-8", soapaction: `"${action}"` },
    body: `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>${body}</soap:Body></soap:Envelope>`,
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  if (res.status === 503) throw new BoxError("TUNNEL_DOWN", "the box's tunnel is down");
  if (res.status !== 200) throw new BoxError(/<(?:\w+:)?Code>(\d+)</.exec(text)?.[1] ?? `HTTP_${res.status}`, text.slice(0, 200));
  return text;
}

/**
 * The practice's desk, set up as a technician would with the practice: the operator adds its
 * client system and workplace to the Infomodell and assigns an SMC-B to its Mandant; the card
 * terminal pairs and connects through the box (`tigw sim kt --via` does the same), the SMC-B goes
 * into it there and is unlocked by the practice software over SOAP (VerifyPin, typed at the
 * terminal). Three patients' eGKs wait at the reception.
 */
async function setUpDesk(operator: Api, unit: string, p: SimPractice): Promise<void> {
  const u = `/api/v1/units/${encodeURIComponent(unit)}/infomodell`;
  const m = p.mandantId;
  await operator.post(u, { action: "mandant", mandantId: m });
  await operator.post(u, { action: "client-system", mandantId: m, clientSystemId: `PVS-${m}` });
  await operator.post(u, { action: "workplace", mandantId: m, workplaceId: `AP1-${m}`, clientSystemId: `PVS-${m}` });
  const box = new Api(p.local!);
  const kt = new SimulatedTerminal(operator, p.ctId, { api: box, mandant: m });
  await kt.create();
  await kt.pair(unit);
  await kt.connect();
  await operator.post(u, { action: "workplace-terminal", workplaceId: `AP1-${m}`, ctId: p.ctId, kind: "local" });
  const smcb = await operator.post<{ iccsn: string; certSerial: string }>("/api/v1/sim/cards", { cardType: "SMCB", keyType: "ecc", holder: `SMC-B ${m}` });
  await operator.post(u, { action: "smb", mandantId: m, iccsn: smcb.iccsn });
  const card = await box.post<{ cardHandle: string }>(`/v1/terminals/${encodeURIComponent(p.ctId)}/cards`, {
    slot: 2,
    cardType: "SMC-B",
    iccsn: smcb.iccsn,
    certSerial: smcb.certSerial,
    pin: "123456",
  });
  p.smcbHandle = card.cardHandle;
  const verified = await soap(
    p.local!,
    "CardService/8.1.2",
    `${NS.card}#VerifyPin`,
    `<CARD:VerifyPin xmlns:CARD="${NS.card}" xmlns:CONN="${NS.conn}" xmlns:CARDCMN="${NS.cardcmn}">${context(m)}<CONN:CardHandle>${p.smcbHandle}</CONN:CardHandle><CARDCMN:PinTyp>PIN.SMC</CARDCMN:PinTyp></CARD:VerifyPin>`,
  );
  if (!/<(?:\w+:)?PinResult>OK</.test(verified)) throw new BoxError("PIN_NOT_VERIFIED", `the SMC-B of ${m} was not unlocked`);
  for (let i = 0; i < 3; i++) p.egks.push(await operator.post("/api/v1/sim/egk", { pruefkarte: 1 + Math.floor(Math.random() * 5000) }));
}

/**
 * One patient at the reception: the previous card comes out, one of the practice's eGKs goes in
 * (at the terminal, through the box), and the practice software reads it with ReadVSD through the
 * box: it must be that patient's data.
 */
async function patientVisit(p: SimPractice): Promise<void> {
  const box = new Api(p.local!);
  const path = `/v1/terminals/${encodeURIComponent(p.ctId)}/cards`;
  await box.post(`${path}/remove`, { slot: 1 });
  const egk = p.egks[Math.floor(Math.random() * p.egks.length)]!;
  const card = await box.post<{ cardHandle: string }>(path, { slot: 1, cardType: "PRUEFKARTE_EGK", iccsn: egk.iccsn, certSerial: egk.certSerial });
  const read = await soap(
    p.local!,
    "VSDService/5.2.0",
    "http://ws.gematik.de/conn/vsds/VSDService/v6.0#ReadVSD",
    `<VSD:ReadVSD xmlns:VSD="${NS.vsd}"><VSD:EhcHandle>${card.cardHandle}</VSD:EhcHandle><VSD:HpcHandle>${p.smcbHandle}</VSD:HpcHandle>` +
      `<VSD:PerformOnlineCheck>false</VSD:PerformOnlineCheck><VSD:ReadOnlineReceipt>false</VSD:ReadOnlineReceipt>${context(p.mandantId)}</VSD:ReadVSD>`,
  );
  const doc = /<(?:\w+:)?PersoenlicheVersichertendaten>([^<]+)</.exec(read)?.[1];
  const kvnr = doc ? /<Versicherten_ID>([^<]+)</.exec(gunzipSync(Buffer.from(doc, "base64")).toString("latin1"))?.[1] : undefined;
  if (kvnr !== egk.kvnr) throw new BoxError("WRONG_PATIENT", `ReadVSD answered ${kvnr ?? "no insured person"}, not ${egk.kvnr}`);
}

export interface PracticesSummary {
  practices: number;
  unit: string;
  durationSeconds: number;
  boxesConnectedAtEnd: number;
  requests: number;
  ok: number;
  /** Requests while a box's tunnel was down (a drop the simulator made): expected, not errors. */
  tunnelDown: number;
  drops: number;
  reconnects: number;
  errors: Record<string, number>;
  p50Ms: number;
  p95Ms: number;
}

/**
 * `tigw sim practices`: N practices on one unit, each as a new practice would start: registers in
 * the portal, enrols TOTP, is bound by the operator to a Mandant of its own, announces a VPN box
 * which enrols and connects, and sets up its desk through the box (a terminal paired there, its
 * SMC-B unlocked over SOAP). Then their day: patients at R per second (an eGK put in at the
 * terminal, ReadVSD by the practice software, both through the box), random
 * tunnel drops (the boxes reconnect by themselves), a live progress line, a summary at the end.
 * Exit 1 on any unexpected error (a refusal, a foreign answer, a box that stays down).
 */
export async function runPractices(ctx: Context): Promise<number> {
  const { o, show } = ctx;
  const count = Number(need(o.count, "--count"));
  if (!Number.isInteger(count) || count < 1 || count > 500) throw new UsageError("--count must be 1-500");
  const rate = Number(o.rate ?? "5");
  if (!Number.isFinite(rate) || rate <= 0 || rate > 1000) throw new UsageError("--rate must be a number of requests per second, above 0 and at most 1000");
  const durationMs = parseDurationMs(o.duration ?? "30s");
  const unit = o.unit ?? "RZK-DEMO-0001";
  const operator = ctx.api();
  const portal = new Api(ctx.url);
  const progress = (s: string) => (o.output === "json" ? undefined : process.stderr.write(`\r${s}\u001b[K`));
  const run = Date.now().toString(36);
  const practices: SimPractice[] = [];
  const locals: import("node:http").Server[] = [];

  // The operator's side first: one Mandant per practice, created on the unit for this run.
  for (let i = 0; i < count; i++) {
    const account = `sim-${run}-${i}`;
    const mandantId = `sim-${run}-${i}`;
    await operator.post(`/api/v1/units/${encodeURIComponent(unit)}/mandanten`, { mandantId, name: `Simulierte Praxis ${i + 1}` });
    const password = randomBytes(12).toString("base64url");
    const reg = await portal.post<{ token: string }>("/api/v1/portal/register", { account, password, practiceName: `Simulierte Praxis ${i + 1} (${run})` });
    const enrolling = new Api(ctx.url, reg.token);
    const { secret } = await enrolling.post<{ secret: string }>("/api/v1/portal/totp", {});
    const full = await enrolling.post<{ token: string }>("/api/v1/portal/totp/confirm", { code: totpNow(secret) });
    await operator.post(`/api/v1/practices/${account}/bind`, { unit, mandantId });
    practices.push({ account, mandantId, token: full.token, ctId: `KT-${run}-${i}`.toUpperCase(), smcbHandle: "", egks: [], busy: false });
    progress(`setting up practices: ${i + 1}/${count} registered with TOTP and bound`);
  }
  for (const [i, p] of practices.entries()) {
    const own = new Api(ctx.url, p.token);
    const a = await own.post<{ enrolmentCode: string; zugangsmodul: { address: string; trustPems: string[] } }>("/api/v1/portal/boxes", { name: "Empfang" });
    const creds = await enrolBox({ address: o.zugangsmodul ?? a.zugangsmodul.address, caPems: a.zugangsmodul.trustPems, code: a.enrolmentCode });
    p.tunnel = new BoxTunnel(creds, o.zugangsmodul ?? a.zugangsmodul.address, { heartbeatMs: 5_000, maxBackoffMs: 2_000 }).start();
    await p.tunnel.whenConnected(30_000);
    const local = await p.tunnel.listen("127.0.0.1", 0);
    locals.push(local.server);
    p.local = local.url;
    await setUpDesk(operator, unit, p);
    progress(`setting up practices' boxes and desks: ${i + 1}/${count} (box connected, terminal paired through it, SMC-B unlocked)`);
  }

  // The day: patients at the rate at random practices, a drop now and then.
  const errors: Record<string, number> = {};
  const latencies: number[] = [];
  let requests = 0;
  let ok = 0;
  let tunnelDown = 0;
  let drops = 0;
  const err = (code: string): void => void (errors[code] = (errors[code] ?? 0) + 1);
  const start = Date.now();
  const inFlight = new Set<Promise<void>>();
  let lastShown = 0;
  let windowStart = start;
  let windowCount = 0;
  let perSecond = 0;
  while (Date.now() - start < durationMs) {
    // One patient at a time per practice (one terminal slot): a busy practice waits for the next turn.
    const free = practices.filter((x) => !x.busy);
    const p = free[Math.floor(Math.random() * free.length)];
    if (!p) {
      await new Promise((r) => setTimeout(r, 1000 / rate));
      continue;
    }
    // About one drop per box every 20 s on average.
    if (Math.random() < count / (20 * rate) && p.tunnel!.connected) {
      p.tunnel!.drop();
      drops++;
    }
    const t0 = Date.now();
    requests++;
    p.busy = true;
    const one = patientVisit(p)
      .then(() => {
        ok++;
        windowCount++;
        latencies.push(Date.now() - t0);
      })
      .catch((e: unknown) => {
        // A drop the simulator made: the box answers 503 while it reconnects (expected, not an error).
        if ((e instanceof BoxError && e.code === "TUNNEL_DOWN") || (e instanceof ApiError && e.status === 503)) tunnelDown++;
        else err(e instanceof BoxError || e instanceof ApiError ? e.code : `REQUEST_FAILED: ${(e as Error).message}`.slice(0, 80));
      })
      .finally(() => (p.busy = false));
    inFlight.add(one);
    void one.finally(() => inFlight.delete(one));
    if (Date.now() - windowStart >= 1000) {
      perSecond = (windowCount * 1000) / (Date.now() - windowStart);
      windowStart = Date.now();
      windowCount = 0;
    }
    if (Date.now() - lastShown >= 500) {
      lastShown = Date.now();
      const connected = practices.filter((x) => x.tunnel!.connected).length;
      const errs =
        Object.entries(errors)
          .map(([k, v]) => `${k} ${v}`)
          .join(", ") || "none";
      progress(`boxes connected ${connected}/${count}, ${perSecond.toFixed(1)} ReadVSD/s, ${ok} ok, ${drops} drops, errors: ${errs}`);
    }
    await new Promise((r) => setTimeout(r, 1000 / rate));
  }
  await Promise.all(inFlight);
  // Every box must be back after its last drop.
  const settle = Date.now() + 15_000;
  while (practices.some((x) => !x.tunnel!.connected) && Date.now() < settle) await new Promise((r) => setTimeout(r, 100));
  const connectedAtEnd = practices.filter((x) => x.tunnel!.connected).length;
  if (connectedAtEnd < count) err("BOX_STAYED_DOWN");
  const reconnects = practices.reduce((n, x) => n + x.tunnel!.connects - 1, 0);
  for (const x of practices) x.tunnel!.stop();
  for (const x of locals) x.close();
  progress("");
  if (o.output !== "json") process.stderr.write("\r");
  const sorted = [...latencies].sort((a, b) => a - b);
  const pct = (q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]! : 0);
  const summary: PracticesSummary = {
    practices: count,
    unit,
    durationSeconds: Math.round((Date.now() - start) / 1000),
    boxesConnectedAtEnd: connectedAtEnd,
    requests,
    ok,
    tunnelDown,
    drops,
    reconnects,
    errors,
    p50Ms: pct(0.5),
    p95Ms: pct(0.95),
  };
  show(summary, () =>
    table(
      ["PRACTICES", "UNIT", "BOXES UP AT END", "REQUESTS", "OK", "WHILE DOWN", "DROPS", "RECONNECTS", "P50 MS", "P95 MS", "ERRORS"],
      [
        [
          count,
          unit,
          `${connectedAtEnd}/${count}`,
          requests,
          ok,
          tunnelDown,
          drops,
          reconnects,
          summary.p50Ms,
          summary.p95Ms,
          Object.entries(errors)
            .map(([k, v]) => `${k} ${v}`)
            .join(", ") || "0",
        ],
      ],
    ),
  );
  return Object.keys(errors).length ? 1 : 0;
}
