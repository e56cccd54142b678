import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { decodeUriComponentSafe, guardedListener, hardenHttpServer, HttpRefusal, readBody } from "@tigw/platform";
import type { TestPki } from "../pki/test-pki.js";

/** An OCSP request is a few hundred bytes; RFC 6960 requests with many certificates stay far below this. */
const MAX_REQUEST_BYTES = 64 * 1024;

/**
 * The OCSP responder over HTTP (RFC 6960 appendix A): POST with an application/ocsp-request
 * body, or GET /ocsp/<base64 of the request>. Answers application/ocsp-response.
 */
export interface OcspServer {
  server: Server;
  port: number;
  close(): Promise<void>;
  /** Stops listening (open connections dropped) until resume(): rehearses an unreachable responder. */
  pause(): Promise<void>;
  resume(): Promise<void>;
}

export async function startOcspServer(pki: () => TestPki, opts: { host?: string; port?: number }): Promise<OcspServer> {
  const server = hardenHttpServer(createServer(guardedListener("OCSP responder", (req, res) => answer(pki, req, res))));
  const listen = (port: number) => new Promise<void>((resolve, reject) => server.once("error", reject).listen(port, opts.host ?? "127.0.0.1", resolve));
  const close = () =>
    new Promise<void>((r) => {
      if (!server.listening) return r();
      server.close(() => r());
      server.closeAllConnections();
    });
  await listen(opts.port ?? 0);
  const port = (server.address() as { port: number }).port;
  return { server, port, close, pause: close, resume: () => (server.listening ? Promise.resolve() : listen(port)) };
}

/** The request's DER (POST body, or the GET path's percent-encoded base64), or a refusal naming what is wrong. */
async function requestDer(req: IncomingMessage): Promise<Buffer | undefined> {
  const path = (req.url ?? "").split("?")[0]!;
  if (req.method === "POST" && path.startsWith("/ocsp")) {
    const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
    if (type && type !== "application/ocsp-request") throw new HttpRefusal(415, `content-type must be application/ocsp-request, not ${type.slice(0, 100)}`);
    return readBody(req, MAX_REQUEST_BYTES);
  }
  if (req.method === "GET" && path.startsWith("/ocsp/")) {
    const base64 = decodeUriComponentSafe(path.slice("/ocsp/".length));
    if (base64 === undefined) throw new HttpRefusal(400, "malformed percent-encoding in the OCSP request path");
    if (base64.length > (MAX_REQUEST_BYTES * 4) / 3) throw new HttpRefusal(414, "OCSP request in the path too long");
    return Buffer.from(base64, "base64");
  }
  return undefined;
}

/** Invalid DER gets the protocol's answer (malformedRequest), not an HTTP error. */
async function answer(pki: () => TestPki, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const der = await requestDer(req);
  if (!der) {
    req.resume();
    res.writeHead(404, { "content-type": "text/plain" }).end("OCSP responder: POST /ocsp or GET /ocsp/<base64>\n");
    return;
  }
  const response = await pki().answerOcsp(der);
  res.writeHead(200, { "content-type": "application/ocsp-response", "cache-control": "no-store" }).end(response);
}
