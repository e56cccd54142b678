import type { IncomingMessage, RequestListener, Server, ServerResponse } from "node:http";
import type { Socket } from "node:net";

/** A malformed request, refused with `status` and a text naming the problem. */
export class HttpRefusal extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

let reportInternal: (e: unknown, listener: string) => void = (e, listener) => console.error(`${listener}: internal error:`, e);

/** Where unexpected errors of plain HTTP listeners are reported; the client only sees 500. */
export function onInternalHttpError(report: (e: unknown, listener: string) => void): void {
  reportInternal = report;
}

/** Answers `status` with a text/plain body naming the problem; an answer already under way is cut off instead. */
export function refuse(res: ServerResponse, status: number, problem: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  // The rest of a refused body is not read: close the connection rather than drain it.
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store", connection: "close" }).end(`${problem}\n`);
}

/**
 * A request listener for a plain node:http server that no request can turn into an uncaught
 * exception: a synchronous throw or rejected promise of `handle` answers its HttpRefusal, or 500
 * (reported) for anything else; the process keeps serving.
 */
export function guardedListener(name: string, handle: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>): RequestListener {
  return (req, res) => {
    const fail = (e: unknown) => {
      if (e instanceof HttpRefusal) return refuse(res, e.status, e.message);
      reportInternal(e, name);
      refuse(res, 500, "internal error");
    };
    try {
      Promise.resolve(handle(req, res)).catch(fail);
    } catch (e) {
      fail(e);
    }
  };
}

/** The request body of at most `limit` bytes; a longer one is refused with 413 before it is read whole. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > limit) return reject(new HttpRefusal(413, `request body larger than ${limit} bytes`));
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.pause();
        reject(new HttpRefusal(413, `request body larger than ${limit} bytes`));
      } else chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", () => reject(new HttpRefusal(400, "request body incomplete")));
  });
}

/** decodeURIComponent that answers undefined for a malformed percent-encoding instead of throwing. */
export function decodeUriComponentSafe(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

/** Why node:http refused to parse a request (its error codes), as the text of the 4xx answer. */
function clientErrorAnswer(e: NodeJS.ErrnoException): { status: number; text: string } {
  if (e.code === "HPE_HEADER_OVERFLOW") return { status: 431, text: "request header fields too large" };
  if (e.code === "ERR_HTTP_REQUEST_TIMEOUT") return { status: 408, text: "request timeout" };
  return { status: 400, text: `malformed HTTP request (${e.code ?? "parse error"})` };
}

/**
 * What every HTTP listener shares: requests node:http cannot parse (malformed, header fields over
 * its 16 KiB, too slow) are answered 400/431/408 naming the problem instead of a bare status.
 * node's own timeouts stay (headers 60 s, request 300 s): a slow backend must not cut off requests.
 */
export function hardenHttpServer(server: Server): Server {
  server.on("clientError", (e: NodeJS.ErrnoException, socket: Socket) => {
    // As node does: no answer of our own once an answer on this connection has begun.
    const answering = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent;
    if (e.code === "ECONNRESET" || !socket.writable || answering) return void socket.destroy();
    const { status, text } = clientErrorAnswer(e);
    const reason = status === 431 ? "Request Header Fields Too Large" : status === 408 ? "Request Timeout" : "Bad Request";
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(text) + 1}\r\nconnection: close\r\n\r\n${text}\n`,
    );
  });
  return server;
}
