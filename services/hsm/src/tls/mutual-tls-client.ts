import type { KeyObject } from "node:crypto";
import { request } from "node:https";

/**
 * The TLS settings of the TI's brainpool identities: OpenSSL 3.0 offers no TLS 1.3 signature
 * scheme for brainpool keys, so (as the TI's own TLS profile does) TLS 1.2 with the brainpool
 * group alongside the NIST ones.
 */
export const TI_TLS = { minVersion: "TLSv1.2", maxVersion: "TLSv1.2", ecdhCurve: "brainpoolP256r1:prime256v1:X25519" } as const;

export interface MutualTlsPost {
  url: string;
  body: Buffer;
  contentType: string;
  soapAction?: string;
  caPems: string[];
  serverName?: string;
  timeoutMs: number;
}

/** Why a mutual-TLS call did not get an HTTP answer: the handshake was refused, or no connection. */
export class MutualTlsError extends Error {
  constructor(
    readonly kind: "TLS_REFUSED" | "PEER_UNREACHABLE",
    message: string,
  ) {
    super(message);
  }
}

const TLS_CODE = /^(ERR_SSL_|ERR_TLS_|EPROTO|CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED|ERR_OSSL)/;

/** POSTs over HTTPS with a client certificate and key; the server is checked against `caPems`. */
export function postWithClientCertificate(
  r: MutualTlsPost,
  identity: { certPem: string; key: KeyObject },
): Promise<{ status: number; body: Buffer; contentType: string }> {
  const url = new URL(r.url);
  if (url.protocol !== "https:") return Promise.reject(new MutualTlsError("PEER_UNREACHABLE", `not an https URL: ${r.url}`));
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { "content-type": r.contentType, "content-length": r.body.length };
    if (r.soapAction) headers["soapaction"] = r.soapAction;
    const req = request(
      {
        host: url.hostname,
        port: url.port || 443,
        path: `${url.pathname}${url.search}`,
        method: "POST",
        headers,
        cert: identity.certPem,
        // The key in PEM only for the handshake of this one call; it stays in this process.
        key: identity.key.export({ type: "pkcs8", format: "pem" }) as string,
        ca: r.caPems,
        servername: r.serverName || url.hostname,
        rejectUnauthorized: true,
        agent: false,
        timeout: r.timeoutMs,
        ...TI_TLS,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), contentType: String(res.headers["content-type"] ?? "") }));
        res.on("error", (e) => reject(new MutualTlsError("PEER_UNREACHABLE", e.message)));
      },
    );
    req.on("timeout", () => req.destroy(new MutualTlsError("PEER_UNREACHABLE", `no answer from ${url.host} within ${r.timeoutMs} ms`)));
    req.on("error", (e: Error & { code?: string }) => {
      if (e instanceof MutualTlsError) return reject(e);
      const tls = TLS_CODE.test(e.code ?? "") || /ssl|tls|certificate|handshake/i.test(e.message);
      reject(
        new MutualTlsError(tls ? "TLS_REFUSED" : "PEER_UNREACHABLE", `${tls ? "TLS handshake with" : "cannot reach"} ${url.host}: ${e.message.split("\n")[0]}`),
      );
    });
    req.end(r.body);
  });
}
