import { createHmac, randomBytes } from "node:crypto";
import { BoxError, BoxTunnel, enrolBox } from "@tigw/vpn/box";
import { Api } from "../client.js";
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
 * which enrols and connects. Then their day: requests through the boxes at R per second, random
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
    practices.push({ account, mandantId, token: full.token });
    progress(`setting up practices: ${i + 1}/${count} registered with TOTP and bound`);
  }
  for (const [i, p] of practices.entries()) {
    const own = new Api(ctx.url, p.token);
    const a = await own.post<{ enrolmentCode: string; zugangsmodul: { address: string; trustPems: string[] } }>("/api/v1/portal/boxes", { name: "Empfang" });
    const creds = await enrolBox({ address: o.zugangsmodul ?? a.zugangsmodul.address, caPems: a.zugangsmodul.trustPems, code: a.enrolmentCode });
    p.tunnel = new BoxTunnel(creds, o.zugangsmodul ?? a.zugangsmodul.address, { heartbeatMs: 5_000, maxBackoffMs: 2_000 }).start();
    await p.tunnel.whenConnected(30_000);
    progress(`setting up boxes: ${i + 1}/${count} enrolled and connected`);
  }

  // The day: requests at the rate through random boxes, a drop now and then.
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
    const p = practices[Math.floor(Math.random() * practices.length)]!;
    // About one drop per box every 20 s on average.
    if (Math.random() < count / (20 * rate) && p.tunnel!.connected) {
      p.tunnel!.drop();
      drops++;
    }
    const t0 = Date.now();
    requests++;
    const one = p
      .tunnel!.request("GET", `/v1/instances/${encodeURIComponent(unit)}`)
      .then((a) => {
        let body: { mandanten?: string[]; code?: string };
        try {
          body = JSON.parse(a.body.toString("utf8")) as typeof body;
        } catch {
          return err(`NOT_JSON_HTTP_${a.status}`);
        }
        if (a.status !== 200) return err(body.code ?? `HTTP_${a.status}`);
        if (JSON.stringify(body.mandanten) !== JSON.stringify([p.mandantId])) return err("FOREIGN_OR_MISSING_MANDANT");
        ok++;
        windowCount++;
        latencies.push(Date.now() - t0);
      })
      .catch((e: unknown) => {
        if (e instanceof BoxError && e.code === "TUNNEL_DOWN") tunnelDown++;
        else err(e instanceof BoxError ? e.code : `REQUEST_FAILED: ${(e as Error).message}`.slice(0, 80));
      });
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
      progress(`boxes connected ${connected}/${count}, ${perSecond.toFixed(1)} reads/s, ${ok} ok, ${drops} drops, errors: ${errs}`);
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
