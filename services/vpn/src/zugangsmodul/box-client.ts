import { EventEmitter } from "node:events";
import { generateKeyPairSync, sign } from "node:crypto";
import { connect, constants as h2, type ClientHttp2Session } from "node:http2";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";

/**
 * A VPN box, as the simulator (`tigw sim vpnbox`) and the tests run it: it makes its own key pair,
 * enrols with the practice's one-time code, keeps one HTTP/2-over-TLS session to the Zugangsmodul
 * (client certificate, PING heartbeats, reconnecting by itself when the tunnel drops), and exposes
 * the practice network's view on a local port: what is sent there goes through the tunnel.
 * Only node built-ins: the CLI imports this without the service.
 */

/** The name in the Zugangsmodul's server certificate (the box checks it). */
export const ZUGANGSMODUL_NAME = "zugangsmodul.tigw.test";

/** What the box keeps on its "flash": its key, certificate and the CAs it trusts the Zugangsmodul by. */
export interface BoxCredentials {
  boxId: string;
  account: string;
  keyPem: string;
  certificatePem: string;
  chainPems: string[];
  caPems: string[];
}

export interface TunnelAnswer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** Refusals a retry cannot cure: the box stops and says why. */
const PERMANENT = new Set([
  "CERTIFICATE_REVOKED",
  "CERTIFICATE_EXPIRED",
  "CERTIFICATE_SUPERSEDED",
  "BOX_REMOVED",
  "UNKNOWN_CERTIFICATE",
  "UNTRUSTED_CERTIFICATE",
]);

export class BoxError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 0,
  ) {
    super(message);
  }
}

function open(address: string, caPems: string[], client?: { keyPem: string; certPem: string }): ClientHttp2Session {
  const [h, p] = hostPort(address);
  return connect(`https://${h}:${p}`, {
    ca: caPems,
    servername: ZUGANGSMODUL_NAME,
    ...(client ? { key: client.keyPem, cert: client.certPem } : {}),
  });
}

function hostPort(address: string): [string, number] {
  const m = /^(.+):(\d{1,5})$/.exec(address);
  if (!m) throw new BoxError("INVALID_ADDRESS", `the Zugangsmodul's address is HOST:PORT, not ${address}`);
  return [m[1]!, Number(m[2])];
}

/** One request over an HTTP/2 session. */
function exchange(
  s: ClientHttp2Session,
  method: string,
  path: string,
  body?: Buffer,
  headers: Record<string, string> = {},
  timeoutMs = 15_000,
): Promise<TunnelAnswer> {
  return new Promise((resolve, reject) => {
    let req;
    try {
      req = s.request({ ":method": method, ":path": path, ...headers });
    } catch (e) {
      return reject(new BoxError("TUNNEL_DOWN", `the tunnel is down: ${(e as Error).message}`));
    }
    const chunks: Buffer[] = [];
    let status = 0;
    let head: Record<string, string> = {};
    req.setTimeout(timeoutMs, () => req.close(h2.NGHTTP2_CANCEL));
    req.on("response", (h) => {
      status = Number(h[":status"]);
      head = Object.fromEntries(
        Object.entries(h)
          .filter(([k]) => !k.startsWith(":"))
          .map(([k, v]) => [k, String(v)]),
      );
    });
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () =>
      // A stream that ends without a response: the session went away under it (a drop, a GOAWAY).
      status ? resolve({ status, headers: head, body: Buffer.concat(chunks) }) : reject(new BoxError("TUNNEL_DOWN", "the tunnel closed before an answer")),
    );
    req.on("error", (e) => reject(new BoxError("TUNNEL_DOWN", `the tunnel dropped: ${e.message}`)));
    req.on("close", () => {
      if (!status) reject(new BoxError("TUNNEL_DOWN", "the tunnel closed before an answer"));
    });
    req.end(body);
  });
}

const problemOf = (a: TunnelAnswer): { code: string; title: string } => {
  try {
    const p = JSON.parse(a.body.toString("utf8")) as { code?: string; title?: string };
    return { code: p.code ?? `HTTP_${a.status}`, title: p.title ?? "" };
  } catch {
    return { code: `HTTP_${a.status}`, title: a.body.toString("utf8").slice(0, 200) };
  }
};

/** The box makes a key pair (P-256), proves it with the code and gets its certificate. */
export async function enrolBox(o: { address: string; caPems: string[]; code: string }): Promise<BoxCredentials> {
  const key = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const spki = key.publicKey.export({ type: "spki", format: "der" });
  const code = o.code.toUpperCase().replace(/[^A-Z0-9]/g, "");
  const proof = sign("sha256", Buffer.concat([Buffer.from(`tigw.vpnbox.enrol.v1\u0000${code}\u0000`, "utf8"), spki]), key.privateKey);
  const s = open(o.address, o.caPems);
  const failed = new Promise<never>((_, reject) =>
    s.once("error", (e) => reject(new BoxError("ZUGANGSMODUL_UNREACHABLE", `cannot reach the Zugangsmodul at ${o.address}: ${e.message}`))),
  );
  try {
    const a = await Promise.race([
      exchange(s, "POST", "/v1/enrol", Buffer.from(JSON.stringify({ code, publicKey: spki.toString("base64"), proof: proof.toString("base64") })), {
        "content-type": "application/json",
      }),
      failed,
    ]).catch((e: unknown) => {
      // Nothing answered: the address or the network, not the code.
      if (e instanceof BoxError && e.code === "TUNNEL_DOWN")
        throw new BoxError("ZUGANGSMODUL_UNREACHABLE", `cannot reach the Zugangsmodul at ${o.address}: ${e.message}`);
      throw e;
    });
    if (a.status !== 201) {
      const p = problemOf(a);
      throw new BoxError(p.code, p.title || `enrolment refused (HTTP ${a.status})`, a.status);
    }
    const r = JSON.parse(a.body.toString("utf8")) as { boxId: string; account: string; certificatePem: string; chainPems: string[] };
    return {
      boxId: r.boxId,
      account: r.account,
      keyPem: key.privateKey.export({ type: "pkcs8", format: "pem" }) as string,
      certificatePem: r.certificatePem,
      chainPems: r.chainPems,
      caPems: o.caPems,
    };
  } finally {
    s.close();
    s.destroy();
  }
}

export interface BoxSessionInfo {
  sessionId: string;
  boxId: string;
  account: string;
  practiceName: string;
  heartbeatSeconds: number;
  instances: { unit: string; unitId: string; tiAccess: boolean | null; mandanten: string[] }[];
}

/**
 * The box's long-lived session. Events: "connected" (BoxSessionInfo), "disconnected" (reason),
 * "refused" ({ code, title, permanent }). It reconnects by itself (0.5 s doubling to 30 s) until
 * stopped or refused for good.
 */
export class BoxTunnel extends EventEmitter {
  private session?: ClientHttp2Session;
  private info?: BoxSessionInfo;
  private stopped = false;
  private backoffMs = 500;
  private pinger?: NodeJS.Timeout;
  private retry?: NodeJS.Timeout;
  connects = 0;
  drops = 0;

  constructor(
    private readonly creds: BoxCredentials,
    private readonly address: string,
    /** instance: the serial of the practice's instance the local port leads to when it has several. */
    private readonly o: { heartbeatMs?: number; maxBackoffMs?: number; instance?: string } = {},
  ) {
    super();
  }

  get connected(): boolean {
    return Boolean(this.info && this.session && !this.session.destroyed);
  }

  get sessionInfo(): BoxSessionInfo | undefined {
    return this.info;
  }

  start(): this {
    this.stopped = false;
    void this.connect();
    return this;
  }

  /** Resolves with the session's info once connected, rejects on a permanent refusal or timeout. */
  whenConnected(timeoutMs = 15_000): Promise<BoxSessionInfo> {
    if (this.connected) return Promise.resolve(this.info!);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => done(() => reject(new BoxError("TIMEOUT", `no session within ${timeoutMs} ms`))), timeoutMs);
      const onC = (i: BoxSessionInfo) => done(() => resolve(i));
      const onR = (r: { code: string; title: string; permanent: boolean }) => {
        if (r.permanent) done(() => reject(new BoxError(r.code, r.title, 403)));
      };
      const done = (f: () => void) => {
        clearTimeout(t);
        this.off("connected", onC);
        this.off("refused", onR);
        f();
      };
      this.on("connected", onC);
      this.on("refused", onR);
    });
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const s = open(this.address, this.creds.caPems, {
      keyPem: this.creds.keyPem,
      certPem: [this.creds.certificatePem, ...this.creds.chainPems.slice(0, 1)].join("\n"),
    });
    this.session = s;
    s.on("error", () => undefined);
    s.once("close", () => this.lost(s, "closed"));
    s.once("goaway", (_code, _last, data?: Buffer) => this.lost(s, data?.length ? data.toString("utf8") : "goaway"));
    try {
      const a = await exchange(s, "GET", "/v1/session");
      if (a.status !== 200) {
        const p = problemOf(a);
        const permanent = PERMANENT.has(p.code);
        this.emit("refused", { ...p, permanent });
        if (permanent) this.stopped = true;
        s.destroy();
        return;
      }
      this.info = JSON.parse(a.body.toString("utf8")) as BoxSessionInfo;
      this.backoffMs = 500;
      this.connects++;
      const every = this.o.heartbeatMs ?? this.info.heartbeatSeconds * 1000;
      // Three heartbeat PINGs unanswered (the Zugangsmodul's own rule for a silent box): the line
      // is dead although no packet said so (a NAT forgot the flow, the far side froze). End the
      // session; lost() reconnects. One late answer on a busy line is no reason to drop it.
      let unanswered = 0;
      this.pinger = setInterval(() => {
        if (s.destroyed) return;
        if (unanswered >= 3) {
          this.lost(s, "HEARTBEAT_TIMEOUT");
          return void s.destroy();
        }
        unanswered++;
        s.ping((err) => {
          if (!err) unanswered = 0;
        });
      }, every);
      this.pinger.unref();
      this.emit("connected", this.info);
    } catch {
      s.destroy();
    }
  }

  private lost(s: ClientHttp2Session, reason: string): void {
    if (s !== this.session) return;
    this.session = undefined;
    if (this.pinger) clearInterval(this.pinger);
    if (this.info) {
      this.info = undefined;
      this.drops++;
      this.emit("disconnected", reason);
    }
    if (this.stopped) return;
    const wait = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.o.maxBackoffMs ?? 30_000);
    this.retry = setTimeout(() => void this.connect(), wait);
    this.retry.unref();
  }

  /** The tunnel drops (a simulated line fault): the box reconnects by itself. */
  drop(): void {
    this.session?.destroy();
  }

  stop(): void {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    if (this.pinger) clearInterval(this.pinger);
    const s = this.session;
    this.session = undefined;
    this.info = undefined;
    s?.close();
    s?.destroy();
  }

  /** A request of the practice network through the tunnel. */
  request(method: string, path: string, body?: Buffer, headers: Record<string, string> = {}): Promise<TunnelAnswer> {
    if (!this.connected) return Promise.reject(new BoxError("TUNNEL_DOWN", "the box has no session now (it reconnects by itself)"));
    // A Konnektor call may wait for a PIN typed at a terminal: longer than the Zugangsmodul's own 60 s.
    return exchange(this.session!, method, path, body, headers, 65_000);
  }

  /**
   * The practice network's view: an HTTP listener on the box whose requests go through the
   * tunnel as they are (method, path, body, content type, SOAPAction, Authorization); 503 while
   * the tunnel is down. Practice software uses it as its Konnektor: /connector.sds and /soap/...
   */
  async listen(hostName: string, portNumber: number): Promise<{ server: Server; url: string }> {
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on("data", (c: Buffer) => {
        size += c.length;
        if (size <= 4 * 1024 * 1024) chunks.push(c);
      });
      req.on("end", () => {
        if (size > 4 * 1024 * 1024) return void res.writeHead(413, { "content-type": "text/plain" }).end("request larger than 4 MiB\n");
        const headers: Record<string, string> = {};
        for (const h of ["content-type", "accept", "soapaction", "authorization"]) if (typeof req.headers[h] === "string") headers[h] = req.headers[h];
        // The address the practice software used: the Konnektor's connector.sds names it in its endpoints.
        if (req.headers.host) headers["x-forwarded-host"] = req.headers.host;
        if (this.o.instance) headers["x-tigw-instance"] = this.o.instance;
        this.request(req.method ?? "GET", req.url ?? "/", chunks.length ? Buffer.concat(chunks) : undefined, headers).then(
          (a) => {
            const back: Record<string, string> = { "content-type": a.headers["content-type"] ?? "application/octet-stream" };
            if (a.headers["www-authenticate"]) back["www-authenticate"] = a.headers["www-authenticate"];
            res.writeHead(a.status, back).end(a.body);
          },
          (e: unknown) => {
            res
              .writeHead(503, { "content-type": "application/problem+json" })
              .end(JSON.stringify({ status: 503, code: e instanceof BoxError ? e.code : "TUNNEL_DOWN", title: (e as Error).message }));
          },
        );
      });
    });
    server.on("clientError", (_e, socket) => socket.destroy());
    await new Promise<void>((resolve, reject) => server.once("error", reject).listen(portNumber, hostName, resolve));
    const addr = server.address() as { port: number };
    return { server, url: `http://${hostName}:${addr.port}` };
  }
}
