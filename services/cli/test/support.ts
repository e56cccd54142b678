import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { Credentials } from "../src/credentials.js";
import { main } from "../src/main.js";
import { tempDir } from "@tigw/platform/testing";

// Every test file gets its own credentials file, never the operator's.
process.env["TIGW_CONFIG_DIR"] = tempDir("tigw-cli-test-");
delete process.env["TIGW_URL"];

export interface Recorded {
  method: string;
  /** Path with the query string. */
  path: string;
  body: unknown;
  authorization: string | undefined;
}
/** An answer of the fake gateway: JSON with status 200, or a status with a body (problem+json, XML). */
export type Answer = unknown | { status: number; body: unknown; type?: string };
const ANSWER = Symbol("answer");
export const answer = (status: number, body: unknown, type = "application/json") => ({ status, body, type, [ANSWER]: true });

/** A stand-in for the REST gateway: routes "METHOD /path?query" to answers; records every request. */
export async function fakeGateway(routes: Record<string, (req: Recorded) => Answer>) {
  const requests: Recorded[] = [];
  const read = async (req: IncomingMessage) => {
    let text = "";
    for await (const c of req) text += String(c);
    return text ? JSON.parse(text) : undefined;
  };
  const server = createServer(async (req, res) => {
    const r: Recorded = { method: req.method!, path: req.url!, body: await read(req), authorization: req.headers.authorization };
    requests.push(r);
    const route = routes[`${r.method} ${r.path}`];
    const a = route
      ? (route(r) as { status?: number; body?: unknown; type?: string; [ANSWER]?: boolean })
      : answer(404, { code: "NOT_FOUND", detail: `no route ${r.method} ${r.path}` });
    const [status, body, type] = a && a[ANSWER] ? [a.status!, a.body, a.type!] : [200, a, "application/json"];
    // No keep-alive: a socket the server closes when idle must not be reused by the next command (ECONNRESET on a loaded machine).
    res.writeHead(status, { "content-type": type, connection: "close" });
    res.end(typeof body === "string" ? body : JSON.stringify(body));
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    requests,
    /** The last request (the one a command made). */
    get last(): Recorded {
      return requests[requests.length - 1]!;
    },
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}
export type FakeGateway = Awaited<ReturnType<typeof fakeGateway>>;

/** Stores a token for `url` as `tigw login` would. */
export function loggedIn(url: string, user = "op", token = "token-of-op"): void {
  new Credentials().save(url, user, { token, expiresAt: "2030-01-01T00:00:00.000Z", role: "admin" });
}

/** Runs `tigw ARGS --url URL` in-process: exit code and what it printed. */
export async function tigw(url: string | undefined, ...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(
    url ? [...argv, "--url", url] : argv,
    (s) => out.push(s),
    (s) => err.push(s),
  );
  return { code, out: out.join("\n"), err: err.join("\n") };
}

/** A unit as the gateway answers it (the tenancy contract's Unit). */
export const unitFixture = (over: Record<string, unknown> = {}) => ({
  unitId: "u-1",
  serial: "RZK-0001",
  profile: "rz",
  firmware: "5.50.4:2.0.0",
  producedOn: "2024-05-01",
  state: "active",
  licence: { licenceId: "", ktPerComputeUnit: 50, features: [], issuedAt: "", source: "profile", keyId: "" },
  computeUnits: [
    { index: 1, ktsUsed: 2, ktsLimit: 50 },
    { index: 2, ktsUsed: 0, ktsLimit: 50 },
  ],
  mandantenCount: 1,
  mandantenLimit: 200,
  ktsRecommended: 80,
  mandanten: [{ mandantId: "m1", name: "Praxis Eins", bsnr: "123456789", smcbIccsn: "", addedAt: "2025-01-01T00:00:00.000Z" }],
  ktSlots: [],
  createdAt: "2025-01-01T00:00:00.000Z",
  updatedAt: "2025-01-01T00:00:00.000Z",
  version: "3",
  ...over,
});
