// A small, bounded load of commands against the gateway from inside the cluster (test.mjs runs it
// in a pod through the gateway's Service). Every request opens its own connection, so that each
// is routed by the Service to a pod that is Ready at that moment.
// Env: GATEWAY (http://host:port), ADMIN_PASSWORD, RUN (a unique prefix), MAX_SECONDS (upper bound),
// CONCURRENCY, READS (1 = also read back every unit it created), RETRIES (default 3), PACE_MS
// (default 1000: a worker starts a round at most this often; every unit created makes hsm
// generate a gSMC-K's keys, and unpaced rounds left hsm minutes of backlog that starved the
// node's API server after the load had stopped). Stops early
// once /tmp/stop exists. Prints one JSON line at the end: {ok, failed, errors, retried, retries,
// units, terminals} where units/terminals are the ids the gateway acknowledged (2xx).
//
// It is a client as the API asks clients to be: a 503 ("try again") or a request that got no
// answer (refused, reset, timed out, name not resolved) is sent again, up to RETRIES times a
// second apart. A command sent again may find itself done already (the first attempt took effect
// but its answer was lost): a 409 SERIAL_EXISTS / TERMINAL_EXISTS on a retry is its acknowledgement.
// `failed` counts what still failed after that; `retried` how often a retry was needed.
import { request } from "node:http";
import { existsSync } from "node:fs";
import { randomBytes } from "node:crypto";

const base = new URL(process.env.GATEWAY);
// Upper case: a unit serial is 4-32 upper-case letters, digits or dashes.
const run = (process.env.RUN ?? randomBytes(3).toString("hex")).toUpperCase();
const deadline = Date.now() + Number(process.env.MAX_SECONDS ?? 300) * 1000;
const concurrency = Number(process.env.CONCURRENCY ?? 2);
const reads = process.env.READS === "1";
const retries = Number(process.env.RETRIES ?? 3);
const paceMs = Number(process.env.PACE_MS ?? 1000);
const sleep = (ms) => new Promise((s) => setTimeout(s, ms));

function call(method, path, body, token) {
  return new Promise((resolve) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      {
        host: base.hostname,
        port: base.port,
        path,
        method,
        agent: false,
        timeout: 20000,
        headers: {
          ...(data ? { "content-type": "application/json", "content-length": Buffer.byteLength(data) } : {}),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
      },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c)).on("end", () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
        res.on("error", (e) => resolve({ status: 0, body: String(e) }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (e) => resolve({ status: 0, body: String(e.message ?? e) }));
    req.end(data);
  });
}

let token;
for (let i = 0; !token; i++) {
  const r = await call("POST", "/api/v1/auth/login", { username: "admin", password: process.env.ADMIN_PASSWORD });
  if (r.status === 200) token = JSON.parse(r.body).token;
  else if (i > 60) {
    console.log(JSON.stringify({ fatal: `login: ${r.status} ${r.body}` }));
    process.exit(1);
  } else await sleep(1000);
}

const out = { ok: 0, failed: 0, errors: [], retried: 0, retries: [], units: [], terminals: [] };
const note = (what, r) => {
  if (r.status >= 200 && r.status < 300) {
    out.ok++;
    return true;
  }
  out.failed++;
  if (out.errors.length < 20) out.errors.push(`${new Date().toISOString()} ${what}: ${r.status} ${r.body.slice(0, 200)}`);
  return false;
};
/** One request as a well-behaved client sends it (see the top): retried while the answer says so. */
async function send(what, method, path, body) {
  for (let attempt = 0; ; attempt++) {
    const r = await call(method, path, body, token);
    if (attempt > 0 && r.status === 409 && /SERIAL_EXISTS|TERMINAL_EXISTS/.test(r.body)) return note(what, { status: 200, body: r.body });
    if ((r.status !== 503 && r.status !== 0) || attempt >= retries) return note(what, r);
    out.retried++;
    if (out.retries.length < 10) out.retries.push(`${new Date().toISOString()} ${what}: ${r.status} ${r.body.slice(0, 120)}`);
    await sleep(1000);
  }
}

let n = 0;
async function worker() {
  while (Date.now() < deadline && !existsSync("/tmp/stop")) {
    const round = Date.now();
    const i = n++;
    const serial = `LOAD-${run}-${i}`;
    if (await send(`create unit ${serial}`, "POST", "/api/v1/units", { serial, profile: "rz" })) {
      out.units.push(serial);
      if (reads) await send(`read unit ${serial}`, "GET", `/api/v1/units/${serial}`);
    }
    const ctId = `LKT-${run}-${i}`;
    const mac = `02:00:${randomBytes(4).toString("hex").match(/../g).join(":")}`.toUpperCase();
    if (
      await send(`add terminal ${ctId}`, "POST", "/api/v1/terminals", {
        ctId,
        mac,
        address: "127.0.0.1",
        vendor: "tigw-load",
        model: "load",
        firmware: "1.0.0",
      })
    )
      out.terminals.push(ctId);
    await sleep(Math.max(0, round + paceMs - Date.now()));
  }
}
await Promise.all(Array.from({ length: concurrency }, worker));
console.log(JSON.stringify(out));
