// k6 capacity scenario for card terminals (issue: KT-count limits under load).
// Fills UNITS units (profile rz: 2 compute units x 50 KTs = 100) with PER_UNIT terminals each,
// arriving at RATE new terminals per second (open model: constant-arrival-rate), each one:
// gets a gSMC-KT from the test PKI, is registered, paired (which reserves a slot in tenancy),
// connects (gSMC-KT signature + pairing secret on a fresh challenge) and sends heartbeats.
// Every terminal up to the limit must be admitted and every one beyond refused with
// KT_LIMIT_REACHED; no 5xx; no dropped iterations; pairing p95 under PAIRING_P95_MS.
import http from "k6/http";
import exec from "k6/execution";
import { check, sleep } from "k6";
import { Counter, Trend } from "k6/metrics";
import encoding from "k6/encoding";
import crypto from "k6/crypto";

const BASE = __ENV.BASE_URL || "http://127.0.0.1:8080";
const UNITS = Number(__ENV.UNITS || 10);
const PER_UNIT = Number(__ENV.PER_UNIT || 105);
const LIMIT = 100; // profile rz: 2 compute units x 50
const RATE = Number(__ENV.RATE || 5);
const HEARTBEATS = Number(__ENV.HEARTBEATS || 3);
const PAIRING_P95_MS = Number(__ENV.PAIRING_P95_MS || 500);
const TOTAL = UNITS * PER_UNIT;
const RUN = __ENV.RUN_ID || String(Date.now());

const admitted = new Counter("kt_admitted");
const refusedAtLimit = new Counter("kt_refused_at_limit");
const unexpected = new Counter("kt_unexpected_outcome");
const serverErrors = new Counter("http_5xx");
const pairing = new Trend("kt_pairing_ms", true);
const connecting = new Trend("kt_connect_ms", true);

export const options = {
  setupTimeout: "120s",
  scenarios: {
    fill: {
      executor: "constant-arrival-rate",
      rate: RATE,
      timeUnit: "1s",
      duration: `${Math.ceil(TOTAL / RATE)}s`,
      preAllocatedVUs: Math.max(10, RATE * (HEARTBEATS + 4)),
      maxVUs: Math.max(50, RATE * (HEARTBEATS + 10)),
      gracefulStop: "60s",
    },
  },
  thresholds: {
    kt_admitted: [`count==${UNITS * LIMIT}`],
    kt_refused_at_limit: [`count==${UNITS * (PER_UNIT - LIMIT)}`],
    kt_unexpected_outcome: ["count==0"],
    http_5xx: ["count==0"],
    kt_pairing_ms: [`p(95)<${PAIRING_P95_MS}`],
    dropped_iterations: ["count==0"],
    checks: ["rate==1"],
  },
};

function post(path, body, token) {
  const res = http.post(`${BASE}${path}`, JSON.stringify(body), {
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    responseCallback: http.expectedStatuses({ min: 200, max: 499 }),
  });
  if (res.status >= 500) serverErrors.add(1);
  return res;
}

export function setup() {
  const login = http.post(`${BASE}/api/v1/auth/login`, JSON.stringify({ username: "admin", password: __ENV.ADMIN_PASSWORD }), {
    headers: { "content-type": "application/json" },
  });
  if (login.status !== 200) throw new Error(`login failed: ${login.status} ${login.body}`);
  const token = login.json("token");
  const units = [];
  for (let u = 0; u < UNITS; u++) {
    const serial = `LT-${RUN}-${String(u + 1).padStart(2, "0")}`;
    const res = post("/api/v1/units", { serial, profile: "rz" }, token);
    if (res.status !== 201) throw new Error(`create unit ${serial}: ${res.status} ${res.body}`);
    units.push(serial);
  }
  return { token, units };
}

export default function (data) {
  const i = exec.scenario.iterationInTest;
  if (i >= TOTAL) return; // the open model may start a few more than needed
  const unit = data.units[i % UNITS];
  const ctId = `${unit}-KT${String(Math.floor(i / UNITS) + 1).padStart(3, "0")}`;
  const card = post("/api/v1/sim/cards", { cardType: "GSMC_KT", keyType: "ecc", holder: `gSMC-KT ${ctId}` }, data.token);
  const added = post("/api/v1/terminals", { ctId, mac: mac(i), vendor: "k6", model: "kt-sim" }, data.token);
  if (!check(card, { "gSMC-KT issued": (r) => r.status === 201 }) || !check(added, { "terminal registered": (r) => r.status === 201 })) {
    unexpected.add(1);
    return;
  }
  const certSerial = card.json("certSerial");
  const t0 = Date.now();
  const paired = post(`/api/v1/terminals/${ctId}/pair`, { unit, certSerial }, data.token);
  pairing.add(Date.now() - t0);
  if (paired.status === 409 && paired.json("code") === "KT_LIMIT_REACHED") {
    refusedAtLimit.add(1);
    return;
  }
  if (!check(paired, { "paired or refused at the limit": (r) => r.status === 200 })) {
    unexpected.add(1);
    return;
  }
  admitted.add(1);
  const secret = encoding.b64decode(paired.json("pairingSecret"));
  const c0 = Date.now();
  const begin = post(`/api/v1/terminals/${ctId}/connect/begin`, {}, data.token);
  const challenge = begin.json("challenge");
  // The gSMC-KT proves its key on this terminal's challenge only (it signs nothing else on request).
  const signed = post(`/api/v1/sim/cards/${certSerial}/connect-proof`, { ctId, challenge }, data.token);
  const proof = crypto.hmac("sha256", secret, encoding.b64decode(challenge), "base64");
  const done = post(`/api/v1/terminals/${ctId}/connect/complete`, { challenge, signature: signed.json("signature"), secretProof: proof }, data.token);
  connecting.add(Date.now() - c0);
  if (!check(done, { connected: (r) => r.status === 200 && r.json("connected") === true })) unexpected.add(1);
  for (let h = 0; h < HEARTBEATS; h++) {
    sleep(1);
    check(post(`/api/v1/terminals/${ctId}/heartbeat`, {}, data.token), { heartbeat: (r) => r.status === 200 });
  }
}

export function teardown(data) {
  for (const unit of data.units) {
    const res = http.get(`${BASE}/api/v1/units/${unit}`, { headers: { authorization: `Bearer ${data.token}` } });
    const used = res.json("computeUnits").reduce((a, c) => a + c.ktsUsed, 0);
    check(used, { [`tenancy counts ${LIMIT} KTs on every unit`]: (n) => n === LIMIT });
  }
}

function mac(i) {
  const hex = (n) => (n & 0xff).toString(16).padStart(2, "0");
  return `02:4B:36:${hex(i >> 16)}:${hex(i >> 8)}:${hex(i)}`.toUpperCase();
}
