import { createServer, type Server } from "node:http";
import type { TestPki } from "../pki/test-pki.js";

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
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => {
      chunks.push(c);
      if (chunks.reduce((a, b) => a + b.length, 0) > 64 * 1024) req.destroy();
    });
    req.on("end", () => {
      const path = (req.url ?? "").split("?")[0]!;
      let der: Buffer | undefined;
      if (req.method === "POST" && path.startsWith("/ocsp")) der = Buffer.concat(chunks);
      else if (req.method === "GET" && path.startsWith("/ocsp/")) der = Buffer.from(decodeURIComponent(path.slice("/ocsp/".length)), "base64");
      if (!der) {
        res.writeHead(404, { "content-type": "text/plain" }).end("OCSP responder: POST /ocsp or GET /ocsp/<base64>\n");
        return;
      }
      pki()
        .answerOcsp(der)
        .then(
          (answer) => res.writeHead(200, { "content-type": "application/ocsp-response", "cache-control": "no-store" }).end(answer),
          () => res.writeHead(500).end(),
        );
    });
  });
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
