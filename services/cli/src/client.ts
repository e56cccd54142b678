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

/** The REST admin API at `url`, with the bearer token when there is one. */
export class Api {
  constructor(
    readonly url: string,
    private readonly token?: string,
  ) {}

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.url}${path}`, {
        method,
        headers: { accept: "application/json", ...(body !== undefined ? { "content-type": "application/json" } : {}), ...(this.token ? { authorization: `Bearer ${this.token}` } : {}) },
        body: body !== undefined ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(30_000),
      });
    } catch (e) {
      throw new ApiError(0, "UNREACHABLE", `cannot reach ${this.url} (${(e as Error).cause ? String((e as { cause: Error }).cause.message) : (e as Error).message}); is ti-gateway running? (npm start)`);
    }
    const text = await res.text();
    const data = text ? (JSON.parse(text) as unknown) : undefined;
    if (!res.ok) {
      const p = (data ?? {}) as { code?: string; detail?: string; details?: Record<string, string> };
      throw new ApiError(res.status, p.code ?? `HTTP_${res.status}`, p.detail ?? res.statusText, p.details ?? {});
    }
    return data as T;
  }

  get = <T>(path: string) => this.request<T>("GET", path);
  post = <T>(path: string, body: unknown) => this.request<T>("POST", path, body);
}
