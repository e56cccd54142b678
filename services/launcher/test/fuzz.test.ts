import assert from "node:assert/strict";
import { generateKeyPairSync, X509Certificate } from "node:crypto";
import { connect } from "node:net";
import { connect as h2Connect } from "node:http2";
import { request as httpsRequest } from "node:https";
import { connect as tlsConnect } from "node:tls";
import { after, before, describe, it } from "node:test";
import { Client, credentials, Metadata, status, type ServiceDefinition } from "@grpc/grpc-js";
import { CardTerminalServiceService } from "@tigw/contracts/cardterminal/v1/card_terminal";
import { HsmServiceService } from "@tigw/contracts/hsm/v1/hsm";
import { TenancyServiceService } from "@tigw/contracts/tenancy/v1/tenancy";
import { VpnServiceService } from "@tigw/contracts/vpn/v1/vpn";
import { KsrServiceService } from "@tigw/contracts/ksr/v1/ksr";
import { listUpdatesRequestXml } from "@tigw/ksr";
import { ZugangsmodulServiceService } from "@tigw/contracts/vpn/v1/zugangsmodul";
import { VsdmServiceService } from "@tigw/contracts/vsdm/v1/vsdm";
import { askOcsp, ocspQuery } from "@tigw/hsm";
import { freePort, startEmbedded, stopProcess } from "./support.js";
import { tempDir } from "@tigw/platform/testing";

/**
 * Malformed input on every listener of the embedded process (seeded, reproducible: TIGW_FUZZ_SEED=<n>),
 * then every listener must still answer a correct request and the process must be alive. A new
 * listener (CETP, VPN, portal) joins by adding an entry to `listeners()`; the units' SOAP endpoints are in.
 */

const SEED = Number(process.env["TIGW_FUZZ_SEED"] ?? 20_261_130);

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
class Random {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
  text(n: number, alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~%/?#[]@!$&'()*+,;=\"<>\\^`{|} "): string {
    let s = "";
    for (let i = 0; i < n; i++) s += alphabet[this.int(alphabet.length)];
    return s;
  }
}

/** One malformed input. `expect` lists the acceptable HTTP statuses (default: any below 500, or none). */
type Probe =
  | {
      kind: "http";
      what: string;
      method: string;
      path: string;
      headers?: [string, string][];
      body?: Buffer;
      declaredLength?: number;
      expect?: number[];
      halfClose?: boolean;
    }
  | { kind: "raw"; what: string; bytes: Buffer }
  | { kind: "grpc"; what: string; path: string; payload: Buffer; undecodable: boolean }
  /** A request over HTTP/2 inside TLS (the Zugangsmodul's box endpoint), without a client certificate. */
  | { kind: "h2"; what: string; method: string; path: string; headers?: Record<string, string>; body?: Buffer };

interface Listener {
  name: string;
  port: number;
  /** HTTP inside TLS, where a SOAP Fault (HTTP 500 with a GERROR code other than 4001, internal error) is the protocol's error. */
  soap?: boolean;
  probes(r: Random): Probe[];
  /** Asserts the listener still answers a correct request correctly. */
  check(): Promise<void>;
}

const BAD_PERCENT = ["%", "%%", "%zz", "%E0%A4%A", "%C0%AF", "%ff%fe%fd", "%u0041", "%2", "abc%", "%F0%9F%98", "%ED%A0%80"];
const CONTENT_TYPES = [
  "text/plain",
  "application/xml",
  "multipart/form-data; boundary=x",
  "application/x-www-form-urlencoded",
  "image/png",
  "application/json; charset=utf-7",
  "garbage",
  "",
];
const INVALID_JSON = ["{", "}", "[1,", '{"a":', "nul", '{"username":"x",}', "\u0000", "{'a':1}", '"unterminated', "[".repeat(5000), '{"a":1}{"b":2}'];

/** Probes every HTTP listener gets: bad percent-encoding, bodies, content types, header floods, garbage. */
function httpProbes(r: Random, o: { paths: string[]; count: number; token?: string; extra?: (r: Random) => Probe }): Probe[] {
  const auth: [string, string][] = o.token ? [["authorization", `Bearer ${o.token}`]] : [];
  const families: ((r: Random) => Probe)[] = [
    (r) => ({
      kind: "http",
      what: "bad percent-encoding",
      method: r.pick(["GET", "POST", "HEAD"]),
      path: `${r.pick(o.paths)}${r.pick(BAD_PERCENT)}${r.text(r.int(4))}`,
      headers: auth,
    }),
    (r) => ({
      kind: "http",
      what: "random path",
      method: r.pick(["GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]),
      path: `/${r.text(r.int(60))}`.replace(/[ #]/g, "x"),
      headers: auth,
    }),
    (r) => ({
      kind: "http",
      what: "wrong content type",
      method: "POST",
      path: r.pick(o.paths),
      headers: [...auth, ["content-type", r.pick(CONTENT_TYPES)]],
      body: r.bytes(1 + r.int(200)),
    }),
    (r) => ({
      kind: "http",
      what: "invalid JSON",
      method: "POST",
      path: r.pick(o.paths),
      headers: [...auth, ["content-type", "application/json"]],
      body: Buffer.from(r.pick(INVALID_JSON)),
    }),
    (r) => ({
      kind: "http",
      what: "truncated body",
      method: "POST",
      path: r.pick(o.paths),
      headers: [...auth, ["content-type", "application/json"]],
      body: Buffer.from('{"serial":"'),
      declaredLength: 100 + r.int(1000),
      halfClose: true,
    }),
    (r) => ({
      kind: "http",
      what: "header flood (one huge header)",
      method: "GET",
      path: r.pick(o.paths),
      headers: [["x-flood", "a".repeat(17_000 + r.int(20_000))]],
      expect: [431],
    }),
    (r) => ({
      kind: "http",
      what: "header flood (many headers)",
      method: "GET",
      path: r.pick(o.paths),
      headers: Array.from({ length: 1500 + r.int(1500) }, (_, i) => [`x-h${i}`, r.text(8, "abcdef")] as [string, string]),
      expect: [431],
    }),
    (r) => ({
      kind: "http",
      what: "bad chunked encoding",
      method: "POST",
      path: r.pick(o.paths),
      headers: [...auth, ["transfer-encoding", "chunked"], ["content-type", "application/json"]],
      body: Buffer.from(`${r.pick(["zz", "-1", "fffffffffffffffff", "5"])}\r\n${r.text(3)}\r\n0\r\n`),
    }),
    (r) => ({
      kind: "http",
      what: "content-length and chunked",
      method: "POST",
      path: r.pick(o.paths),
      headers: [
        ["content-length", "3"],
        ["transfer-encoding", "chunked"],
      ],
      body: Buffer.from("3\r\nabc\r\n0\r\n\r\n"),
      expect: [400],
    }),
    (r) => ({ kind: "raw", what: "garbage bytes", bytes: r.bytes(1 + r.int(2000)) }),
    (r) => ({
      kind: "raw",
      what: "malformed request line",
      bytes: Buffer.from(
        `${r.pick(["GET", "G\u0000T", "POST", "🙂"])} ${r.pick(["/", "", "no-slash", "/a b"])} ${r.pick(["HTTP/1.1", "HTTP/9.9", "HTCPCP/1.0", ""])}\r\n${r.pick(["Host: x\r\n", "bad header line\r\n", ": empty\r\n", "x: y\nz: w\r\n"])}\r\n`,
      ),
    }),
  ];
  if (o.extra) families.push(o.extra, o.extra, o.extra);
  const probes: Probe[] = [];
  for (let i = 0; i < o.count; i++) probes.push(r.pick(families)(r));
  // Oversized bodies are slow to send: a few only.
  for (let i = 0; i < 4; i++)
    probes.push({
      kind: "http",
      what: "oversized body",
      method: "POST",
      path: o.paths[0]!,
      headers: [...auth, ["content-type", r.pick(["application/json", "application/ocsp-request"])]],
      body: r.bytes(200_000 + r.int(300_000)),
      expect: [405, 413, 415],
    });
  for (let i = 0; i < 2; i++)
    probes.push({
      kind: "http",
      what: "oversized declared length",
      method: "POST",
      path: o.paths[0]!,
      headers: auth,
      body: r.bytes(1000),
      declaredLength: 50_000_000,
    });
  return probes;
}

/** Probes of a gRPC port: raw HTTP/2 garbage, and every method called with random bytes as its request. */
function grpcProbes(r: Random, definition: ServiceDefinition, count: number): Probe[] {
  // The health service too (whether its payload decodes is not predicted: undefined).
  const methods: { path: string; requestDeserialize?: (b: Buffer) => unknown }[] = [...Object.values(definition), { path: "/grpc.health.v1.Health/Check" }];
  const preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
  const frame = (type: number, flags: number, stream: number, payload: Buffer) => {
    const h = Buffer.alloc(9);
    h.writeUIntBE(payload.length, 0, 3);
    h.writeUInt8(type, 3);
    h.writeUInt8(flags, 4);
    h.writeUInt32BE(stream, 5);
    return Buffer.concat([h, payload]);
  };
  const probes: Probe[] = [];
  for (let i = 0; i < count; i++) {
    const kind = r.int(10);
    if (kind === 0) probes.push({ kind: "raw", what: "HTTP/2 garbage", bytes: r.bytes(1 + r.int(1000)) });
    else if (kind === 1)
      probes.push({
        kind: "raw",
        what: "HTTP/2 preface and garbage frames",
        bytes: Buffer.concat([
          preface,
          frame(4, 0, 0, Buffer.alloc(0)),
          ...Array.from({ length: 1 + r.int(4) }, () => frame(r.int(12), r.int(256), r.int(8), r.bytes(r.int(64)))),
        ]),
      });
    else if (kind === 2) probes.push({ kind: "raw", what: "HTTP/1.1 on the gRPC port", bytes: Buffer.from(`GET /${r.text(10)} HTTP/1.1\r\nHost: x\r\n\r\n`) });
    else {
      const m = r.pick(methods);
      const payload = r.int(4) === 0 ? Buffer.alloc(r.int(3)) : r.bytes(1 + r.int(r.pick([16, 256, 4096])));
      let undecodable = false;
      try {
        m.requestDeserialize?.(payload);
      } catch {
        undecodable = true;
      }
      probes.push({ kind: "grpc", what: "random request bytes", path: m.path, payload, undecodable });
    }
  }
  return probes;
}

interface Outcome {
  status?: number;
  grpcCode?: number;
  grpcDetails?: string;
  closed: boolean;
  /** The GERROR code of a SOAP fault in the answer, if it carried one. */
  soapFault?: number;
}

/**
 * Sends raw bytes (an HTTP request as written, or garbage; `halfClose`: then ends the connection, as a
 * client that sent a truncated request) and reads what comes back until the server closes or 1.5 s (6 s with TLS) pass.
 */
function sendRaw(port: number, bytes: Buffer, halfClose: boolean, tls = false): Promise<Outcome> {
  return new Promise((resolve) => {
    // tls: the request goes inside a TLS connection (the SOAP endpoints), the server's certificate unchecked.
    const socket = tls ? tlsConnect({ port, host: "127.0.0.1", rejectUnauthorized: false }) : connect(port, "127.0.0.1");
    let got = "";
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(got);
      const fault = /<faultcode>[\s\S]*<GERROR:Code>(\d+)<\/GERROR:Code>/.exec(got);
      resolve({ status: m ? Number(m[1]) : undefined, closed, soapFault: fault ? Number(fault[1]) : undefined });
    };
    // A TLS handshake first (RSA, on a loaded machine) takes its share of the wait.
    const timer = setTimeout(() => finish(false), tls ? 6000 : 1500);
    socket.on("data", (d: Buffer) => {
      got += d.toString("latin1");
      if (/\r\n\r\n/.test(got) && /connection: close/i.test(got) === false && /^HTTP/.test(got)) {
        const len = /content-length: (\d+)/i.exec(got);
        if (len && got.length - got.indexOf("\r\n\r\n") - 4 >= Number(len[1])) finish(true);
      }
    });
    socket.on("error", () => finish(true));
    socket.on("close", () => finish(true));
    const send = () => (halfClose ? socket.end(bytes) : socket.write(bytes, () => undefined));
    if (tls) socket.once("secureConnect", send);
    else send();
  });
}

function httpBytes(p: Extract<Probe, { kind: "http" }>): Buffer {
  const headers = [["host", "127.0.0.1"], ...(p.headers ?? [])];
  const chunked = headers.some(([k]) => k === "transfer-encoding");
  if (p.body && !chunked && !headers.some(([k]) => k === "content-length")) headers.push(["content-length", String(p.declaredLength ?? p.body.length)]);
  else if (!p.body && p.declaredLength) headers.push(["content-length", String(p.declaredLength)]);
  const head = `${p.method} ${p.path} HTTP/1.1\r\n${headers.map(([k, v]) => `${k}: ${v}\r\n`).join("")}connection: close\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, "latin1"), p.body ?? Buffer.alloc(0)]);
}

/** One HTTP/2 request inside TLS (server certificate unchecked, no client certificate): its status, or closed. */
function h2Call(port: number, p: Extract<Probe, { kind: "h2" }>): Promise<Outcome> {
  return new Promise((resolve) => {
    const session = h2Connect(`https://127.0.0.1:${port}`, { rejectUnauthorized: false });
    let done = false;
    const finish = (o: Outcome) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      session.destroy();
      resolve(o);
    };
    const timer = setTimeout(() => finish({ closed: false }), 6000);
    session.on("error", () => finish({ closed: true }));
    session.on("close", () => finish({ closed: true }));
    try {
      const req = session.request({ ":method": p.method, ":path": p.path, ...(p.headers ?? {}) });
      let status: number | undefined;
      req.on("response", (h) => (status = Number(h[":status"])));
      req.on("data", () => undefined);
      req.on("end", () => finish({ status, closed: false }));
      req.on("error", () => finish({ status, closed: true }));
      req.end(p.body);
    } catch {
      finish({ closed: true });
    }
  });
}

function grpcCall(client: Client, path: string, payload: Buffer): Promise<Outcome> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      path,
      (b: Buffer) => b,
      (b: Buffer) => b,
      payload,
      new Metadata(),
      { deadline: Date.now() + 10_000 },
      (err) => resolve({ grpcCode: err ? err.code : status.OK, grpcDetails: err?.details, closed: false }),
    );
  });
}

/** grpc.health.v1.Health/Check for the overall status: HealthCheckResponse{status: SERVING} is 08 01. */
async function healthCheck(client: Client): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    client.makeUnaryRequest(
      "/grpc.health.v1.Health/Check",
      (b: Buffer) => b,
      (b: Buffer) => b,
      Buffer.alloc(0),
      new Metadata(),
      { deadline: Date.now() + 10_000 },
      (err, res) => (err ? reject(err) : resolve(res!)),
    ),
  );
}

async function runPool<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

describe(`fuzz: malformed input on every listener of the embedded process (seed ${SEED})`, () => {
  let stop: (() => Promise<void>) | undefined;
  after(async () => stop?.());
  let embedded: Awaited<ReturnType<typeof startEmbedded>>;
  let metricsPort = 0;
  let token = "";
  let identityPem = "";
  let issuerPem = "";
  let soapUrl = "";
  let roots: string[] = [];
  const grpcClients: Client[] = [];
  after(() => grpcClients.forEach((c) => c.close()));

  const api = async (path: string, init: RequestInit = {}) => {
    const res = await fetch(`${embedded.url}${path}`, {
      ...init,
      headers: { "content-type": "application/json", authorization: `Bearer ${token}`, ...(init.headers ?? {}) },
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  before(async () => {
    metricsPort = await freePort();
    embedded = await startEmbedded({
      dataDir: tempDir("tigw-fuzz-"),
      adminPassword: "fuzz-admin-Passw0rd",
      env: { TIGW_METRICS_PORT: String(metricsPort) },
    });
    stop = () => stopProcess(embedded.child);
    const login = await api("/api/v1/auth/login", { method: "POST", body: JSON.stringify({ username: "admin", password: "fuzz-admin-Passw0rd" }) });
    assert.equal(login.status, 200);
    token = String(login.body["token"]);
    assert.equal((await api("/api/v1/units", { method: "POST", body: JSON.stringify({ serial: "RZK-FUZZ-0001", profile: "rz" }) })).status, 201);
    // The gSMC-K's identities appear once the hsm consumed the unit's creation.
    for (let i = 0; i < 120 && !identityPem; i++) {
      const certs = await api("/api/v1/units/RZK-FUZZ-0001/certs");
      const ids = (certs.body["identities"] ?? []) as { certificate: { pem: string } }[];
      if (certs.status === 200 && ids.length) identityPem = ids[0]!.certificate.pem;
      else await new Promise((r) => setTimeout(r, 250));
    }
    assert.ok(identityPem, "the unit's identities were issued");
    const anchors = (await api("/api/v1/pki/trust-anchors")).body as { subCaPems: string[] };
    const cert = new X509Certificate(identityPem);
    issuerPem = anchors.subCaPems.find((p) => cert.checkIssued(new X509Certificate(p))) ?? "";
    assert.ok(issuerPem, "the identity's sub-CA is among the trust anchors");
    roots = ((await api("/api/v1/pki/trust-anchors")).body as { rootPems: string[] }).rootPems;
    const soap = await api("/api/v1/units/RZK-FUZZ-0001/soap");
    assert.equal(soap.status, 200, JSON.stringify(soap.body));
    soapUrl = String(soap.body["baseUrl"]);
  });

  /** Every listener of the embedded process, with its malformed inputs and its check of a correct request. */
  function listeners(): Listener[] {
    const banner = embedded.output();
    const ocspUrl = /OCSP\s+(http:\S+)/.exec(banner)?.[1];
    assert.ok(ocspUrl, `the banner names the OCSP responder:\n${banner}`);
    const ocspPort = Number(new URL(ocspUrl).port);
    const grpcLine = /gRPC\s+(.*)/.exec(banner)?.[1] ?? "";
    const grpcPort = (service: string) => {
      const port = new RegExp(`${service} 127\\.0\\.0\\.1:(\\d+)`).exec(grpcLine)?.[1];
      assert.ok(port, `the banner names ${service}'s gRPC address:\n${banner}`);
      return Number(port);
    };
    const validOcsp = () => ocspQuery(new X509Certificate(identityPem), new X509Certificate(issuerPem)).der;
    const grpcListener = (service: string, definition: ServiceDefinition): Listener => {
      const port = grpcPort(service);
      return {
        name: `gRPC ${service}`,
        port,
        probes: (r) => grpcProbes(r, definition, 150),
        check: async () => {
          const client = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
          grpcClients.push(client);
          assert.deepEqual([...(await healthCheck(client))], [0x08, 0x01], `${service} reports SERVING`);
        },
      };
    };
    return [
      {
        name: "OCSP responder (hsm)",
        port: ocspPort,
        probes: (r) => [
          ...httpProbes(r, {
            paths: ["/ocsp", "/ocsp/"],
            count: 200,
            extra: (r) => {
              const valid = validOcsp();
              const flipped = Buffer.from(valid);
              for (let k = 0; k < 1 + r.int(8); k++) {
                const at = r.int(flipped.length);
                flipped.writeUInt8(flipped.readUInt8(at) ^ (1 << r.int(8)), at);
              }
              const der = r.pick([r.bytes(1 + r.int(300)), valid.subarray(0, r.int(valid.length)), flipped, Buffer.from([0x30, 0x84, 0xff, 0xff, 0xff, 0xff])]);
              return r.int(2) === 0
                ? {
                    kind: "http",
                    what: "invalid DER (POST)",
                    method: "POST",
                    path: "/ocsp",
                    headers: [["content-type", "application/ocsp-request"]],
                    body: der,
                    expect: [200, 500],
                  }
                : { kind: "http", what: "invalid DER (GET)", method: "GET", path: `/ocsp/${encodeURIComponent(der.toString("base64"))}`, expect: [200, 500] };
            },
          }),
          { kind: "http", what: "the defect: GET /ocsp/%", method: "GET", path: "/ocsp/%", expect: [400] },
        ],
        check: async () => {
          const answer = await askOcsp(identityPem, issuerPem, { timeoutMs: 10_000 });
          assert.equal(answer.status, "good", "a real OCSP request is answered: the unit's identity is good");
        },
      },
      {
        name: "REST API and admin UI (gateway)",
        port: embedded.port,
        probes: (r) =>
          httpProbes(r, {
            paths: [
              "/api/v1/units",
              "/api/v1/auth/login",
              "/api/v1/units/RZK-FUZZ-0001/mandanten",
              "/admin/",
              "/api/v1/certificates/",
              "/api/v1/units/RZK-FUZZ-0001/",
              "/api/v1/portal/login",
              "/api/v1/portal/register",
              "/api/v1/portal/terminals",
              "/portal/",
            ],
            count: 300,
            token,
            extra: (r) => {
              const values = [123, null, [], {}, "x".repeat(r.int(50_000)), true, -1e308, { $ne: 1 }, "\u0000\ud800"];
              const body = r.pick([
                { serial: r.pick(values), profile: r.pick(values) },
                { username: `fuzz-${r.text(6, "abc")}`, password: r.pick(values) },
                { account: r.pick([`fuzz-${r.text(6, "abc")}`, ...values]), password: r.pick(values), practiceName: r.pick(values), totp: r.pick(values) },
                r.pick(values),
                { id: r.pick(values), name: r.pick(values), bsnr: r.pick(values) },
              ]);
              return {
                kind: "http",
                what: "JSON of wrong shape",
                method: "POST",
                path: r.pick(["/api/v1/units", "/api/v1/auth/login", "/api/v1/units/RZK-FUZZ-0001/mandanten", "/api/v1/operators"]),
                headers: [
                  ["authorization", `Bearer ${token}`],
                  ["content-type", "application/json"],
                ],
                body: Buffer.from(JSON.stringify(body) ?? "null"),
              };
            },
          }),
        check: async () => {
          assert.deepEqual((await api("/api/v1/health")).body, { status: "ok" });
          const unit = await api("/api/v1/units/RZK-FUZZ-0001");
          assert.equal(unit.status, 200, JSON.stringify(unit.body));
          const admin = await fetch(`${embedded.url}/admin/`);
          assert.equal(admin.status, 200, "the admin UI is served");
        },
      },
      {
        name: "metrics endpoint",
        port: metricsPort,
        probes: (r) => httpProbes(r, { paths: ["/metrics", "/"], count: 150 }),
        check: async () => {
          const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
          assert.equal(res.status, 200);
          assert.match(await res.text(), /^# (HELP|TYPE) /m);
        },
      },
      grpcListener("tenancy", TenancyServiceService as unknown as ServiceDefinition),
      grpcListener("hsm", HsmServiceService as unknown as ServiceDefinition),
      grpcListener("card-terminal", CardTerminalServiceService as unknown as ServiceDefinition),
      grpcListener("vsdm", VsdmServiceService as unknown as ServiceDefinition),
      grpcListener("vpn", VpnServiceService as unknown as ServiceDefinition),
      grpcListener("ksr", KsrServiceService as unknown as ServiceDefinition),
      // The Zugangsmodul's practice accounts: a second service on vpn's port.
      { ...grpcListener("vpn", ZugangsmodulServiceService as unknown as ServiceDefinition), name: "gRPC vpn (ZugangsmodulService)" },
      vpnzugdListener(banner),
      zugangsmodulListener(banner),
      soapListener(),
      ksrSoapListener(banner),
    ];
  }

  /**
   * The unit's SOAP endpoint (HTTPS): HTTP probes inside TLS, malformed and hostile SOAP (XML that
   * is not well-formed, DOCTYPEs with entities, deep nesting, wrong namespaces and SOAPActions),
   * and plain HTTP or garbage on the TLS port. Afterwards connector.sds is still served and a
   * GetCards with an unknown Mandant is still answered with its fault 4004.
   */
  function soapListener(): Listener {
    const base = new URL(soapUrl);
    const port = Number(base.port);
    const evt = "http://ws.gematik.de/conn/EventService/v7.2";
    const env = (body: string) => `<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>${body}</s:Body></s:Envelope>`;
    const soapPost = (what: string, body: string, action = `${evt}#GetCards`): Probe => ({
      kind: "http",
      what,
      method: "POST",
      path: "/soap/EventService/7.2.0",
      headers: [
        ["content-type", "text/xml; charset=utf-8"],
        ["soapaction", `"${action}"`],
      ],
      body: Buffer.from(body),
    });
    const ctx = (m: string) =>
      `<c:Context xmlns:c="http://ws.gematik.de/conn/ConnectorContext/v2.0" xmlns:n="http://ws.gematik.de/conn/ConnectorCommon/v5.0"><n:MandantId>${m}</n:MandantId><n:ClientSystemId>x</n:ClientSystemId></c:Context>`;
    const hostile = (r: Random): Probe =>
      r.pick([
        () => soapPost("XML cut off", env(`<e:GetCards xmlns:e="${evt}">${ctx("M")}`).slice(0, r.int(200))),
        () =>
          soapPost("DOCTYPE with entities", `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "${"b".repeat(r.int(100))}"><!ENTITY c "&a;&a;&a;">]>${env("&c;")}`),
        () => soapPost("external entity", `<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>${env("&e;")}`),
        () => soapPost("deep nesting", env("<a>".repeat(200 + r.int(5000)))),
        () => soapPost("random bytes as XML", r.bytes(1 + r.int(3000)).toString("latin1")),
        () => soapPost("unknown operation", env(`<e:${r.text(8, "abcXYZ")} xmlns:e="${evt}"/>`), `${evt}#${r.text(5, "abc")}`),
        () => soapPost("wrong namespace", env(`<e:GetCards xmlns:e="urn:${r.text(10, "abc")}">${ctx("M")}</e:GetCards>`)),
        () => soapPost("Context of wrong shape", env(`<e:GetCards xmlns:e="${evt}">${ctx("x".repeat(r.int(500)))}</e:GetCards>`)),
        () => soapPost("unbound prefix", env(`<q:GetCards>${r.text(20)}</q:GetCards>`)),
        () => soapPost("SOAPAction mismatch", env(`<e:GetCards xmlns:e="${evt}">${ctx("M")}</e:GetCards>`), r.text(30)),
      ])();
    return {
      name: "SOAP endpoint of a unit (gateway, HTTPS)",
      port,
      soap: true,
      probes: (r) => [
        ...httpProbes(r, { paths: ["/connector.sds", "/soap/EventService/7.2.0", "/soap/CardService/8.1.2", "/soap/"], count: 150, extra: hostile }),
        ...Array.from({ length: 40 }, (): Probe => hostile(r)),
        ...Array.from({ length: 20 }, (): Probe => ({
          kind: "raw",
          what: "garbage or plain HTTP on the TLS port",
          bytes: r.int(2) ? r.bytes(1 + r.int(500)) : Buffer.from("GET /connector.sds HTTP/1.1\r\nHost: x\r\n\r\n"),
        })),
      ],
      check: async () => {
        const get = (path: string, body?: string) =>
          new Promise<{ status: number; text: string }>((resolve, reject) => {
            const req = httpsRequest(
              {
                host: "127.0.0.1",
                port,
                path,
                method: body ? "POST" : "GET",
                ca: roots,
                servername: base.hostname,
                agent: false,
                headers: body ? { "content-type": "text/xml", soapaction: `"${evt}#GetCards"` } : {},
              },
              (res) => {
                let text = "";
                res.on("data", (d: Buffer) => (text += d.toString()));
                res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
              },
            );
            req.on("error", reject);
            req.end(body);
          });
        const sds = await get("/connector.sds");
        assert.equal(sds.status, 200);
        assert.match(sds.text, /<CONN:ConnectorServices /);
        const refused = await get("/soap/EventService/7.2.0", env(`<e:GetCards xmlns:e="${evt}">${ctx("NO-SUCH-MANDANT")}</e:GetCards>`));
        assert.equal(refused.status, 500);
        assert.match(refused.text, /<GERROR:Code>4004<\/GERROR:Code>/);
      },
    };
  }

  /**
   * The simulated VPN-ZugD speaks HTTPS with mutual TLS only: garbage and plain HTTP on its port
   * (its SOAP body checks have their own test in services/vpn); afterwards it must still start a TLS
   * handshake (a server certificate comes back), which a dead listener cannot.
   */
  /**
   * The simulated KSR (ksr): SOAP list_Updates over plain HTTP. Malformed requests get 4xx or a
   * SOAP fault (500, soap:Client); afterwards a correct list_Updates is still answered.
   */
  function ksrSoapListener(banner: string): Listener {
    const url = /KSR\s+(http:\S+)/.exec(banner)?.[1];
    assert.ok(url, `the banner names the simulated KSR:\n${banner}`);
    const { port, pathname } = new URL(url);
    const ask = listUpdatesRequestXml({ productVendorId: "TIGW", productCode: "rz", hwVersion: "2.0.0", fwVersion: "5.50.3:2.0.0" });
    return {
      name: "KSR simulator (ksr)",
      port: Number(port),
      probes: (r) =>
        httpProbes(r, {
          paths: [pathname, "/"],
          count: 120,
          extra: (r) => ({
            kind: "http",
            what: "mangled list_Updates",
            method: "POST",
            path: pathname,
            headers: [["content-type", "text/xml; charset=utf-8"]],
            // SOAP 1.1 answers a fault with HTTP 500 (soap:Client names the problem).
            expect: [200, 500],
            body: r.int(2) === 0 ? Buffer.from(ask.slice(0, r.int(ask.length))) : Buffer.from(ask.replace(/5\.50\.3/, r.text(1 + r.int(80)))),
          }),
        }),
      check: async () => {
        const res = await fetch(url, { method: "POST", headers: { "content-type": "text/xml; charset=utf-8" }, body: ask });
        assert.equal(res.status, 200);
        assert.match(await res.text(), /<KSR:listUpdatesResponse/);
      },
    };
  }

  /**
   * The Zugangsmodul's box endpoint (vpn): HTTP/2 over TLS. Garbage and HTTP/1.1 on the TLS port,
   * and HTTP/2 requests without a client certificate: enrolments with broken bodies, codes, keys
   * and proofs, random paths and methods; each a 4xx (never a 5xx), and afterwards it still
   * refuses a certificate-less session and an enrolment whose proof does not verify.
   */
  function zugangsmodulListener(banner: string): Listener {
    const address = /VPN boxes\s+(\S+)/.exec(banner)?.[1];
    assert.ok(address, `the banner names the Zugangsmodul:\n${banner}`);
    const port = Number(address.split(":").pop());
    const key = generateKeyPairSync("ec", { namedCurve: "prime256v1" }).publicKey.export({ type: "spki", format: "der" }).toString("base64");
    const enrol = (what: string, body: Buffer | string): Extract<Probe, { kind: "h2" }> => ({
      kind: "h2",
      what,
      method: "POST",
      path: "/v1/enrol",
      headers: { "content-type": "application/json" },
      body: Buffer.isBuffer(body) ? body : Buffer.from(body),
    });
    const hostile = (r: Random): Probe =>
      r.pick([
        () => enrol("invalid JSON", r.pick(INVALID_JSON)),
        () => enrol("random bytes", r.bytes(1 + r.int(3000))),
        () => enrol("JSON of the wrong shape", JSON.stringify(r.pick([[], 1, "x", null, { code: 1 }, { code: "A", publicKey: [] }]))),
        () => enrol("random code", JSON.stringify({ code: r.text(1 + r.int(40)), publicKey: key, proof: r.bytes(64).toString("base64") })),
        () => enrol("a key that is none", JSON.stringify({ code: "ABCD-EFGH-JKLM-NPQR", publicKey: r.bytes(r.int(300)).toString("base64"), proof: "AA==" })),
        () => enrol("a proof that is none", JSON.stringify({ code: "ABCD-EFGH-JKLM-NPQR", publicKey: key, proof: r.text(1 + r.int(200)) })),
        () => enrol("oversized body", r.bytes(20_000 + r.int(200_000))),
        (): Probe => ({
          kind: "h2",
          what: "random path",
          method: r.pick(["GET", "POST", "PUT", "DELETE"]),
          path: `/${r.text(r.int(60))}`.replace(/[ #]/g, "x"),
        }),
        (): Probe => ({
          kind: "h2",
          what: "a session resource without a certificate",
          method: "GET",
          path: r.pick(["/v1/session", "/v1/instances", `/v1/instances/${r.text(10, "abcXYZ0123")}`]),
        }),
        (): Probe => ({ kind: "h2", what: "bad percent-encoding", method: "GET", path: `/v1/instances/${r.pick(BAD_PERCENT)}` }),
      ])();
    return {
      name: "Zugangsmodul box endpoint (vpn, HTTP/2 over TLS)",
      port,
      probes: (r) => [
        ...Array.from({ length: 120 }, (): Probe => hostile(r)),
        ...Array.from({ length: 30 }, (): Probe =>
          r.int(2) === 0
            ? { kind: "raw", what: "garbage on the TLS port", bytes: r.bytes(1 + r.int(2000)) }
            : { kind: "raw", what: "plain HTTP on the TLS port", bytes: Buffer.from("GET /v1/session HTTP/1.1\r\nHost: x\r\n\r\n") },
        ),
      ],
      check: async () => {
        const session = await h2Call(port, { kind: "h2", what: "check", method: "GET", path: "/v1/session" });
        assert.equal(session.status, 403, "a session without a certificate is refused");
        const proof = await h2Call(port, enrol("check", JSON.stringify({ code: "ABCD-EFGH-JKLM-NPQR", publicKey: key, proof: "AA==" })));
        assert.equal(proof.status, 400, "an enrolment whose proof does not verify is refused");
      },
    };
  }

  function vpnzugdListener(banner: string): Listener {
    const url = /VPN-ZugD\s+(https:\S+)/.exec(banner)?.[1];
    assert.ok(url, `the banner names the VPN-ZugD:\n${banner}`);
    const port = Number(new URL(url).port);
    return {
      name: "VPN-ZugD simulator (vpn)",
      port,
      probes: (r) =>
        Array.from({ length: 60 }, (): Probe =>
          r.int(2) === 0
            ? { kind: "raw", what: "garbage on the TLS port", bytes: r.bytes(1 + r.int(2000)) }
            : { kind: "raw", what: "plain HTTP on the TLS port", bytes: Buffer.from(`POST /ProvisioningService HTTP/1.1\r\nHost: x\r\n\r\n${r.text(20)}`) },
        ),
      check: () =>
        new Promise<void>((resolve, reject) => {
          const socket = tlsConnect({ port, host: "127.0.0.1", rejectUnauthorized: false });
          const done = (e?: Error) => {
            const cert = socket.getPeerCertificate();
            socket.destroy();
            if (cert && Object.keys(cert).length > 0) resolve();
            else reject(e ?? new Error("the VPN-ZugD sent no server certificate"));
          };
          socket.once("secureConnect", () => done());
          socket.once("error", (e) => done(e));
          socket.setTimeout(10_000, () => done(new Error("no TLS answer within 10 s")));
        }),
    };
  }

  it("answers at least 1,000 malformed requests with 4xx or the protocol's error, keeps running, and every listener still answers", async (t) => {
    const r = new Random(SEED);
    const all = listeners();
    for (const l of all) await l.check();
    const failures: string[] = [];
    const counts: Record<string, number> = {};
    const statuses: Record<string, Record<string, number>> = {};
    for (const l of all) {
      const probes = l.probes(r);
      counts[l.name] = probes.length;
      const seen: Record<string, number> = (statuses[l.name] = {});
      const client = new Client(`127.0.0.1:${l.port}`, credentials.createInsecure());
      grpcClients.push(client);
      await runPool(probes, 16, async (p) => {
        const out =
          p.kind === "grpc"
            ? await grpcCall(client, p.path, p.payload)
            : p.kind === "h2"
              ? await h2Call(l.port, p)
              : await sendRaw(l.port, p.kind === "http" ? httpBytes(p) : p.bytes, p.kind === "raw" || !!p.halfClose, l.soap && p.kind === "http");
        const key = p.kind === "grpc" ? `grpc ${status[out.grpcCode!]}` : out.status ? `http ${out.status}` : out.closed ? "closed" : "no answer";
        seen[key] = (seen[key] ?? 0) + 1;
        if (key === "no answer") seen[`no answer: ${p.what}`] = (seen[`no answer: ${p.what}`] ?? 0) + 1;
        const where = `${l.name}: ${p.what}${p.kind === "http" ? ` (${p.method} ${p.path.slice(0, 80)})` : p.kind === "grpc" ? ` (${p.path})` : ""}`;
        const soapError = l.soap && out.status === 500 && out.soapFault !== undefined && out.soapFault !== 4001;
        if (soapError) seen[`fault ${out.soapFault}`] = (seen[`fault ${out.soapFault}`] ?? 0) + 1;
        if (p.kind === "h2" && out.status && out.status >= 500) failures.push(`${where}: HTTP/2 ${out.status}, expected < 500`);
        if (p.kind === "http" && out.status && !soapError && (out.status >= 500 ? !p.expect?.includes(out.status) : p.expect && !p.expect.includes(out.status)))
          failures.push(`${where}: HTTP ${out.status}, expected ${p.expect?.join("/") ?? "< 500"}`);
        if (p.kind === "grpc" && p.undecodable && out.grpcCode !== status.INVALID_ARGUMENT)
          failures.push(`${where}: undecodable request answered ${status[out.grpcCode!]} (${out.grpcDetails}), expected INVALID_ARGUMENT`);
        if (p.kind === "grpc" && (out.grpcCode === status.UNAVAILABLE || out.grpcCode === status.INTERNAL))
          failures.push(`${where}: ${status[out.grpcCode]} (${out.grpcDetails})`);
      });
      if (embedded.child.exitCode !== null || embedded.child.signalCode !== null) break;
    }
    t.diagnostic(`seed ${SEED}; requests per listener: ${JSON.stringify(counts)}`);
    t.diagnostic(`answers: ${JSON.stringify(statuses)}`);
    const alive = embedded.child.exitCode === null && embedded.child.signalCode === null;
    assert.ok(
      alive,
      `the process died (exit ${embedded.child.exitCode ?? embedded.child.signalCode}) under malformed input; reproduce with TIGW_FUZZ_SEED=${SEED}\n${embedded.output().slice(-3000)}`,
    );
    assert.ok(Object.values(counts).reduce((a, b) => a + b, 0) >= 1000, "at least 1,000 malformed requests");
    assert.deepEqual(failures.slice(0, 30), [], `seed ${SEED}: ${failures.length} malformed requests answered wrongly`);
    for (const l of all) await l.check();
  });
});
