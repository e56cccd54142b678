/** A failed API call: the problem+json answer's code and text, or a transport failure. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** The problem+json answer of a failed call as an ApiError. */
function problemOf(res: Response, text: string): ApiError {
  let p: { code?: string; detail?: string; title?: string; details?: Record<string, string> } = {};
  try {
    p = text ? (JSON.parse(text) as typeof p) : {};
  } catch {
    // not JSON (a proxy's error page): status line only
  }
  // The Zugangsmodul's problems (through a VPN box) say it in their title.
  return new ApiError(res.status, p.code ?? `HTTP_${res.status}`, p.detail ?? p.title ?? res.statusText, p.details ?? {});
}

/** The REST admin API at `url`, with the bearer token when there is one. */
export class Api {
  constructor(
    readonly url: string,
    private readonly token?: string,
  ) {}

  private async send(method: string, path: string, body: unknown, accept: string): Promise<Response> {
    try {
      return await fetch(`${this.url}${path}`, {
        method,
        headers: {
          accept,
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
          ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        },
        body: body !== undefined ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(30_000),
      });
    } catch (e) {
      throw new ApiError(
        0,
        "UNREACHABLE",
        `cannot reach ${this.url} (${(e as Error).cause ? String((e as { cause: Error }).cause.message) : (e as Error).message}); is ti-gateway running? (npm start)`,
      );
    }
  }

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.send(method, path, body, "application/json");
    const text = await res.text();
    if (!res.ok) throw problemOf(res, text);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /**
   * A POST answered in the gematik XML shapes: the document on success, the GERROR Error of a
   * refusal with a gematik code; other failures as ApiError like every call.
   */
  async postXml(path: string, body: unknown): Promise<{ ok: boolean; text: string }> {
    const res = await this.send("POST", path, body, "application/xml");
    const text = await res.text();
    if (/xml/.test(res.headers.get("content-type") ?? "")) return { ok: res.ok, text };
    throw problemOf(res, text);
  }

  get = <T>(path: string) => this.request<T>("GET", path);
  post = <T>(path: string, body: unknown) => this.request<T>("POST", path, body);
  put = <T>(path: string, body: unknown) => this.request<T>("PUT", path, body);
}
