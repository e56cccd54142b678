/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Browser, Page } from "puppeteer-core" with { "resolution-mode": "import" };
import { base32Decode, totpAt } from "@tigw/platform";
import { generatePopulation } from "@tigw/vsdm";
import { BoxTunnel, enrolBox, type TunnelAnswer } from "@tigw/vpn/box";
import { startEmbedded, stopProcess } from "./support.js";
import { tempDir } from "@tigw/platform/testing";

// eslint-disable-next-line @typescript-eslint/no-require-imports
const puppeteer = (require("puppeteer-core") as typeof import("puppeteer-core", { with: { "resolution-mode": "import" } })).default;
const chromium = process.env["CHROMIUM_PATH"] ?? "/usr/bin/chromium";

type Json = Record<string, unknown>;
interface Answer {
  status: number;
  text: string;
  body: Json;
}

/** What a practice owns, as the test set it up: everything another practice must never see. */
interface Practice {
  account: string;
  practiceName: string;
  bind: [unit: string, mandantId: string][];
  token: string;
  mandantNames: string[];
  ctIds: string[];
  handles: string[];
  kvnrs: string[];
  holders: string[];
  grantIds: string[];
  boxIds: string[];
  tunnel?: BoxTunnel;
}

const ADMIN_PASSWORD = "portal-admin-password";
/** Insured persons of the embedded start's population (5,000, seed 1) whose eGK reads without trouble. */
const insured = generatePopulation(5000, 1).filter(
  (p) => p.card.generation !== "G1" && p.card.certificate === "valid" && !p.card.healthApplicationBlocked && !p.card.vsdInconsistent,
);
const PASSWORD = "practice-password-1";
/** The demo unit every practice of this test has a Mandant on. */
const SHARED = "RZK-DEMO-0001";

/**
 * The practice portal and the tenant boundary on `npm start --demo` with a simulated clock:
 * three practices on the shared demo units, each with its eGKs read (so the VSDM protocol holds
 * their KVNRs); 1,200 random probes of one practice for another's things over the portal API
 * and the operators' API, each refused, with none of the other's KVNRs, names or handles in the
 * answer or in the log lines written meanwhile; a viewer no longer sees KVNRs or card handles;
 * a blocked practice's session ends; and the portal in Chromium: registration forces TOTP, the
 * practice sees only its own things, and a DVO grant expires on the simulated clock.
 */
describe("practice portal and the tenant boundary (npm start --demo, simulated clock)", () => {
  let stop: (() => Promise<void>) | undefined;
  let output: () => string = () => "";
  let url = "";
  let admin = "";
  /** The recovery codes the TOTP-reset test's new enrolment answered (shown once). */
  let lastRecoveryCodes: string[] = [];

  const req = async (method: string, path: string, token?: string, body?: unknown): Promise<Answer> => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { "content-type": "application/json" } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    let parsed: Json = {};
    try {
      parsed = text ? (JSON.parse(text) as Json) : {};
    } catch {
      parsed = {};
    }
    return { status: res.status, text, body: parsed };
  };
  const ok = async (method: string, path: string, token?: string, body?: unknown): Promise<Json> => {
    const r = await req(method, path, token, body);
    assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${r.text}`);
    return r.body;
  };

  /** Registers, enrols TOTP (the code from the secret the answer gave) and returns the full session. */
  const registerAndEnrol = async (account: string, practiceName: string) => {
    const reg = await req("POST", "/api/v1/portal/register", undefined, { account, password: PASSWORD, practiceName });
    assert.equal(reg.status, 201, reg.text);
    const enrolment = String(reg.body["token"]);
    const blocked = await req("GET", "/api/v1/portal/instances", enrolment);
    assert.deepEqual([blocked.status, blocked.body["code"]], [403, "TOTP_ENROLMENT_REQUIRED"], "nothing before TOTP");
    const t = await ok("POST", "/api/v1/portal/totp", enrolment);
    const secret = base32Decode(String(t["secret"]));
    const confirmed = await ok("POST", "/api/v1/portal/totp/confirm", enrolment, { code: totpAt(secret, Date.now()) });
    assert.equal((await req("GET", "/api/v1/portal/me", enrolment)).status, 401, "the enrolment session ends with the confirmation");
    return { token: String(confirmed["token"]), secret };
  };

  const practices: Practice[] = [
    {
      account: "praxis-ort",
      practiceName: "Hausarztpraxis Dr. Ort",
      bind: [
        ["RZK-DEMO-0001", "btrs-01"],
        ["RZK-DEMO-0002", "btrs-10"],
      ],
    },
    {
      account: "mvz-friedrich",
      practiceName: "MVZ Friedrichstraße",
      bind: [
        ["RZK-DEMO-0001", "btrs-02"],
        ["RZK-DEMO-0002", "btrs-11"],
      ],
    },
    {
      account: "zahnarzt-weiss",
      practiceName: "Zahnarztpraxis Weiß",
      bind: [
        ["RZK-DEMO-0001", "btrs-03"],
        ["EBK-DEMO-0003", "btrs-30"],
      ],
    },
  ].map((p) => ({
    ...p,
    bind: p.bind as [string, string][],
    token: "",
    mandantNames: [],
    ctIds: [],
    handles: [],
    kvnrs: [],
    holders: [],
    grantIds: [],
    boxIds: [],
  }));
  const fromTunnel = (a: TunnelAnswer): Answer => {
    const text = a.body.toString("utf8");
    let body: Json = {};
    try {
      body = JSON.parse(text) as Json;
    } catch {
      body = {};
    }
    return { status: a.status, text, body };
  };

  before(async () => {
    const p = await startEmbedded({
      dataDir: tempDir("tigw-portal-"),
      adminPassword: ADMIN_PASSWORD,
      args: ["--demo"],
      env: { TIGW_CLOCK: "simulated", TIGW_CLOCK_START: "2026-03-02T08:00:00Z" },
    });
    stop = () => stopProcess(p.child);
    output = p.output;
    url = p.url;
    admin = String((await ok("POST", "/api/v1/auth/login", undefined, { username: "admin", password: ADMIN_PASSWORD }))["token"]);
    for (const pr of practices) {
      pr.token = (await registerAndEnrol(pr.account, `${pr.practiceName} (Portal)`)).token;
      for (const [unit, mandantId] of pr.bind) {
        await ok("POST", `/api/v1/practices/${pr.account}/bind`, admin, { unit, mandantId });
        const { mandanten } = (await ok("GET", `/api/v1/units/${unit}/mandanten`, admin)) as { mandanten: { mandantId: string; name: string }[] };
        pr.mandantNames.push(mandanten.find((m) => m.mandantId === mandantId)!.name);
        const { terminals } = (await ok("GET", `/api/v1/terminals?unit=${unit}&mandant=${mandantId}`, admin)) as {
          terminals: { ctId: string; cards: { cardHandle: string; cardType: string }[] }[];
        };
        pr.ctIds.push(...terminals.map((t) => t.ctId));
        const first = terminals.find((t) => t.cards.some((c) => c.cardType === "SMC-B"))!;
        // An insured person's eGK in the Mandant's first terminal (its workplace's), read with the Mandant's SMC-B.
        const egk = await ok("POST", "/api/v1/sim/egk", admin, { kvnr: insured.shift()!.kvnr });
        pr.kvnrs.push(String(egk["kvnr"]));
        pr.holders.push(String(egk["name"]));
        const card = await ok("POST", `/api/v1/terminals/${first.ctId}/cards`, admin, {
          cardType: "EGK",
          iccsn: egk["iccsn"],
          certSerial: egk["certSerial"],
          slot: 1,
        });
        const smcb = first.cards.find((c) => c.cardType === "SMC-B")!;
        await ok("POST", `/api/v1/cards/${smcb.cardHandle}/verify-pin`, admin, { pin: "123456" });
        pr.handles.push(String(card["cardHandle"]), smcb.cardHandle);
        if (unit !== "EBK-DEMO-0003") {
          const read = await req("POST", "/api/v1/vsd/read", admin, {
            unit,
            mandantId,
            clientSystemId: `PVS-${mandantId}`,
            workplaceId: `AP1-${mandantId}`,
            ehcHandle: card["cardHandle"],
            hpcHandle: smcb.cardHandle,
          });
          assert.equal(read.status, 200, `read on ${unit}/${mandantId}: ${read.text}`);
        }
      }
      const grant = await ok("POST", "/api/v1/portal/grants", pr.token, { unit: pr.bind[0]![0], technician: `Techniker von ${pr.account}`, hours: 8 });
      pr.grantIds.push(String(grant["grantId"]));
      // The practice's VPN box: announced in the portal, enrolled with the code, connected.
      const announced = await ok("POST", "/api/v1/portal/boxes", pr.token, { name: `Box von ${pr.account}` });
      const zm = announced["zugangsmodul"] as { address: string; trustPems: string[] };
      const creds = await enrolBox({ address: zm.address, caPems: zm.trustPems, code: String(announced["enrolmentCode"]) });
      pr.boxIds.push(creds.boxId);
      pr.tunnel = new BoxTunnel(creds, zm.address, { heartbeatMs: 2_000 }).start();
      await pr.tunnel.whenConnected(60_000);
    }
  });
  after(async () => {
    for (const pr of practices) pr.tunnel?.stop();
    await stop?.();
  });

  it("each practice sees its own instances, Mandanten, terminals, cards, protocol and grants, and only those", async () => {
    for (const pr of practices) {
      const { instances } = (await ok("GET", "/api/v1/portal/instances", pr.token)) as { instances: { unit: string; mandanten: { mandantId: string }[] }[] };
      assert.deepEqual(instances.flatMap((i) => i.mandanten.map((m) => `${i.unit}/${m.mandantId}`)).sort(), pr.bind.map(([u, m]) => `${u}/${m}`).sort());
      const { terminals } = (await ok("GET", "/api/v1/portal/terminals", pr.token)) as { terminals: { ctId: string; cards: { cardHandle: string }[] }[] };
      assert.deepEqual(terminals.map((t) => t.ctId).sort(), [...pr.ctIds].sort());
      assert.deepEqual(terminals.flatMap((t) => t.cards.map((c) => c.cardHandle)).sort(), [...pr.handles].sort());
      const { entries } = (await ok("GET", "/api/v1/portal/vsd-log", pr.token)) as { entries: { kvnr: string }[] };
      const readKvnrs = pr.kvnrs.slice(0, pr.bind.filter(([u]) => u !== "EBK-DEMO-0003").length);
      assert.deepEqual([...new Set(entries.map((e) => e.kvnr))].sort(), [...readKvnrs].sort(), `${pr.account}'s protocol`);
      const own = await ok("GET", `/api/v1/portal/cards/${pr.handles[0]}`, pr.token);
      assert.equal(own["cardType"], "EGK");
    }
  });

  it("each practice's VPN box: its session is its practice's, with its own instances and Mandanten only", async () => {
    for (const pr of practices) {
      const session = fromTunnel(await pr.tunnel!.request("GET", "/v1/session"));
      assert.equal(session.status, 200, session.text);
      assert.equal(session.body["account"], pr.account);
      const instances = session.body["instances"] as { unit: string; mandanten: string[] }[];
      assert.deepEqual(instances.flatMap((i) => i.mandanten.map((m) => `${i.unit}/${m}`)).sort(), pr.bind.map(([u, m]) => `${u}/${m}`).sort());
      const { boxes } = (await ok("GET", "/api/v1/portal/boxes", pr.token)) as { boxes: { boxId: string; connected: boolean }[] };
      assert.deepEqual(
        boxes.map((b) => [b.boxId, b.connected]),
        [[pr.boxIds[0], true]],
        "the portal lists its own box, connected",
      );
    }
    const all = (await ok("GET", "/api/v1/boxes", admin)) as { boxes: { account: string; connected: boolean }[] };
    assert.deepEqual(
      all.boxes
        .filter((b) => b.connected)
        .map((b) => b.account)
        .sort(),
      practices.map((p) => p.account).sort(),
      "operators see every box",
    );
  });

  it("1,200 random probes of one practice for another's things are all refused, and leave none of its data in answers or logs", async () => {
    const secretsOf = (p: Practice) => [...p.kvnrs, ...p.holders, ...p.handles, ...p.mandantNames, p.practiceName];
    let seed = 20260302;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const pick = <T>(xs: T[]): T => xs[rnd(xs.length)]!;
    const logStart = output().length;
    const tally = new Map<string, number>();
    const probes: { name: string; run: (a: Practice, b: Practice) => Promise<[Answer, number, string]> }[] = [
      { name: "terminal", run: async (a, b) => [await req("GET", `/api/v1/portal/terminals/${pick(b.ctIds)}`, a.token), 403, "4012"] },
      { name: "card", run: async (a, b) => [await req("GET", `/api/v1/portal/cards/${pick(b.handles)}`, a.token), 403, "4012"] },
      {
        name: "protocol of a Mandant",
        run: async (a, b) => {
          const [unit, mandant] = pick(b.bind);
          return [await req("GET", `/api/v1/portal/vsd-log?unit=${unit}&mandant=${mandant}`, a.token), 403, "PERMISSION_DENIED"];
        },
      },
      {
        name: "protocol by Mandant",
        run: async (a, b) => [await req("GET", `/api/v1/portal/vsd-log?mandant=${pick(b.bind)[1]}`, a.token), 403, "PERMISSION_DENIED"],
      },
      {
        name: "revoke a grant",
        run: async (a, b) => [await req("POST", `/api/v1/portal/grants/${pick(b.grantIds)}/revoke`, a.token), 403, "PERMISSION_DENIED"],
      },
      {
        name: "grant on an instance",
        run: async (a) => {
          const foreign = ["RZK-DEMO-0002", "EBK-DEMO-0003", "RZK-DEMO-0005", "EBK-DEMO-0004"].filter((u) => !a.bind.some(([x]) => x === u));
          return [await req("POST", "/api/v1/portal/grants", a.token, { unit: pick(foreign), technician: "Fremder", hours: 2 }), 403, "PERMISSION_DENIED"];
        },
      },
      {
        name: "operator API: cards of a unit",
        run: async (a, b) => [await req("GET", `/api/v1/units/${pick(b.bind)[0]}/cards`, a.token), 403, "PERMISSION_DENIED"],
      },
      {
        name: "operator API: protocol",
        run: async (a, b) => [await req("GET", `/api/v1/units/${pick(b.bind)[0]}/vsd-log?mandant=${pick(b.bind)[1]}`, a.token), 403, "PERMISSION_DENIED"],
      },
      { name: "operator API: terminal", run: async (a, b) => [await req("GET", `/api/v1/terminals/${pick(b.ctIds)}`, a.token), 403, "PERMISSION_DENIED"] },
      {
        name: "operator API: PIN status",
        run: async (a, b) => [await req("GET", `/api/v1/cards/${pick(b.handles)}/pin-status`, a.token), 403, "PERMISSION_DENIED"],
      },
      {
        name: "operator API: read VSD",
        run: async (a, b) => {
          const [unit, mandantId] = pick(b.bind);
          const body = {
            unit,
            mandantId,
            clientSystemId: `PVS-${mandantId}`,
            workplaceId: `AP1-${mandantId}`,
            ehcHandle: b.handles[0],
            hpcHandle: b.handles[1],
          };
          return [await req("POST", "/api/v1/vsd/read", a.token, body), 403, "PERMISSION_DENIED"];
        },
      },
    ];
    probes.push(
      {
        name: "remove a box",
        run: async (a, b) => [await req("POST", `/api/v1/portal/boxes/${pick(b.boxIds)}/remove`, a.token), 403, "PERMISSION_DENIED"],
      },
      {
        name: "box tunnel: an instance",
        run: async (a) => {
          const foreign = ["RZK-DEMO-0002", "EBK-DEMO-0003", "RZK-DEMO-0005", "EBK-DEMO-0004"].filter((u) => !a.bind.some(([x]) => x === u));
          return [fromTunnel(await a.tunnel!.request("GET", `/v1/instances/${pick(foreign)}`)), 403, "PERMISSION_DENIED"];
        },
      },
      {
        name: "box tunnel: another's terminal",
        run: async (a, b) => [
          fromTunnel(await a.tunnel!.request("POST", `/v1/terminals/${pick(b.ctIds)}/heartbeat`, Buffer.from("{}"))),
          403,
          "PERMISSION_DENIED",
        ],
      },
      {
        // Practice software behind a's box names b's Mandant on the unit both share: unknown (4004).
        name: "box tunnel: SOAP ReadVSD or GetCards with another's Mandant",
        run: async (a, b) => {
          const mandant = b.bind.find(([u]) => u === SHARED)![1];
          const ctx = `<CCTX:Context xmlns:CCTX="http://ws.gematik.de/conn/ConnectorContext/v2.0" xmlns:CONN="http://ws.gematik.de/conn/ConnectorCommon/v5.0"><CONN:MandantId>${mandant}</CONN:MandantId><CONN:ClientSystemId>PVS-${mandant}</CONN:ClientSystemId><CONN:WorkplaceId>AP1-${mandant}</CONN:WorkplaceId></CCTX:Context>`;
          const evt = "http://ws.gematik.de/conn/EventService/v7.2";
          const vsd = "http://ws.gematik.de/conn/vsds/VSDService/v5.2";
          const [path, action, body] =
            rnd(2) === 0
              ? ["/soap/EventService/7.2.0", `${evt}#GetCards`, `<EVT:GetCards xmlns:EVT="${evt}" mandant-wide="true">${ctx}</EVT:GetCards>`]
              : [
                  "/soap/VSDService/5.2.0",
                  "http://ws.gematik.de/conn/vsds/VSDService/v6.0#ReadVSD",
                  `<VSD:ReadVSD xmlns:VSD="${vsd}"><VSD:EhcHandle>${b.handles[0]}</VSD:EhcHandle><VSD:HpcHandle>${b.handles[1]}</VSD:HpcHandle><VSD:PerformOnlineCheck>false</VSD:PerformOnlineCheck><VSD:ReadOnlineReceipt>false</VSD:ReadOnlineReceipt>${ctx}</VSD:ReadVSD>`,
                ];
          const envelope = `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>${body}</soap:Body></soap:Envelope>`;
          const t = await a.tunnel!.request("POST", path, Buffer.from(envelope), {
            "content-type": "text/xml; charset=utf-8",
            soapaction: `"${action}"`,
            "x-tigw-instance": SHARED,
          });
          const text = t.body.toString("utf8");
          // A SOAP fault: its gematik code stands where a problem's code would.
          return [{ status: t.status, text, body: { code: /<GERROR:Code>(\d+)</.exec(text)?.[1] ?? "" } }, 500, "4004"];
        },
      },
    );
    for (let i = 0; i < 1200; i++) {
      const a = pick(practices);
      const b = pick(practices.filter((x) => x !== a));
      const probe = pick(probes);
      const [answer, status, code] = await probe.run(a, b);
      assert.deepEqual([answer.status, answer.body["code"]], [status, code], `${a.account} -> ${b.account}: ${probe.name}: ${answer.text}`);
      for (const s of secretsOf(b)) assert.ok(!answer.text.includes(s), `${probe.name}: ${b.account}'s "${s}" in the answer to ${a.account}: ${answer.text}`);
      tally.set(probe.name, (tally.get(probe.name) ?? 0) + 1);
    }
    assert.equal(tally.size, probes.length, "every kind of probe ran");
    const logs = output().slice(logStart);
    for (const pr of practices) for (const s of secretsOf(pr)) assert.ok(!logs.includes(s), `${pr.account}'s "${s}" in the log lines of the probes`);
  });

  it("a viewer no longer sees KVNRs or card handles; an operator does", async () => {
    await ok("POST", "/api/v1/users", admin, { username: "viewer", password: "viewer-password-1", role: "viewer" });
    const viewer = String((await ok("POST", "/api/v1/auth/login", undefined, { username: "viewer", password: "viewer-password-1" }))["token"]);
    const everything = practices.flatMap((p) => [...p.kvnrs, ...p.handles]);
    for (const path of ["/api/v1/units/RZK-DEMO-0001/vsd-log", "/api/v1/units/RZK-DEMO-0001/cards", "/api/v1/terminals?unit=RZK-DEMO-0001", "/api/v1/fleet"]) {
      const seen = await req("GET", path, viewer);
      assert.equal(seen.status, 200, seen.text);
      for (const s of everything) assert.ok(!seen.text.includes(s), `viewer sees ${s} in ${path}`);
    }
    const protocol = (await ok("GET", "/api/v1/units/RZK-DEMO-0001/vsd-log", viewer)) as { entries: { kvnr: string }[] };
    assert.ok(protocol.entries.length >= 3 && protocol.entries.every((e) => e.kvnr === "(hidden)" || e.kvnr === ""), JSON.stringify(protocol.entries));
    const asOperator = await req("GET", "/api/v1/units/RZK-DEMO-0001/vsd-log", admin);
    for (const k of practices.map((p) => p.kvnrs[0]!)) assert.ok(asOperator.text.includes(k), `the admin sees ${k}`);
  });

  it("an operator's block ends the practice's session at once and refuses its login; the other practices go on", async () => {
    const c = practices[2]!;
    await ok("POST", `/api/v1/practices/${c.account}/block`, admin, { reason: "Vertrag beendet" });
    const refused = await req("GET", "/api/v1/portal/terminals", c.token);
    assert.deepEqual([refused.status, refused.body["code"]], [403, "ACCOUNT_BLOCKED"]);
    const guess = await req("POST", "/api/v1/portal/login", undefined, { account: c.account, password: "not-the-password", totp: "000000" });
    assert.deepEqual([guess.status, guess.body["code"]], [401, "INVALID_CREDENTIALS"], "a guesser does not learn that the account is blocked");
    const login = await req("POST", "/api/v1/portal/login", undefined, { account: c.account, password: PASSWORD, totp: "000000" });
    assert.deepEqual([login.status, login.body["code"]], [403, "ACCOUNT_BLOCKED"], "whoever knows the password is told why");
    assert.equal((await req("GET", "/api/v1/portal/terminals", practices[0]!.token)).status, 200);
    const listed = (await ok("GET", "/api/v1/practices", admin)) as { practices: { account: string; status: string }[] };
    assert.equal(listed.practices.find((p) => p.account === c.account)?.status, "blocked");
    await ok("POST", `/api/v1/practices/${c.account}/unblock`, admin);
  });

  it("an operator's TOTP reset (a lost phone): the old session cannot enrol a new phone and ends with the new one, a password login can", async () => {
    const c = practices[2]!;
    const stale = c.token;
    const reset = (await ok("POST", `/api/v1/practices/${c.account}/totp/reset`, admin)) as { status: string };
    assert.equal(reset.status, "totp-enrolment");
    const old = await req("GET", "/api/v1/portal/terminals", c.token);
    assert.deepEqual([old.status, old.body["code"]], [403, "TOTP_ENROLMENT_REQUIRED"]);
    const hijack = await req("POST", "/api/v1/portal/totp", c.token);
    assert.deepEqual([hijack.status, hijack.body["code"]], [403, "TOTP_ENROLMENT_REQUIRED"], "a session from before the reset cannot put in another phone");
    const login = await ok("POST", "/api/v1/portal/login", undefined, { account: c.account, password: PASSWORD });
    assert.equal(login["stage"], "enrolment");
    const secret = base32Decode(String((await ok("POST", "/api/v1/portal/totp", String(login["token"])))["secret"]));
    const confirmed = await ok("POST", "/api/v1/portal/totp/confirm", String(login["token"]), { code: totpAt(secret, Date.now()) });
    c.token = String(confirmed["token"]);
    lastRecoveryCodes = confirmed["recoveryCodes"] as string[];
    assert.equal((await req("GET", "/api/v1/portal/terminals", c.token)).status, 200);
    // The session from before the reset (the lost phone's) does not come back with the new phone.
    const after = await req("GET", "/api/v1/portal/terminals", stale);
    assert.deepEqual([after.status, after.body["code"]], [401, "UNAUTHENTICATED"], "a session from before the reset ends with the new enrolment");
  });

  it("a lost phone without the operator: a recovery code logs in once, into the enrolment of a new phone; the old phone's sessions end with it; a new set needs the password", async () => {
    const c = practices[2]!;
    const codes = lastRecoveryCodes;
    assert.equal(codes.length, 10);
    const oldPhone = c.token;
    const foreign = await req("POST", "/api/v1/portal/login", undefined, { account: practices[0]!.account, password: PASSWORD, totp: codes[1] });
    assert.equal(foreign.status, 401, "a code opens only its own account");
    const login = await ok("POST", "/api/v1/portal/login", undefined, { account: c.account, password: PASSWORD, totp: codes[0] });
    assert.equal(login["stage"], "enrolment", "the lost phone's secret is gone: the session sets up a new phone");
    const secret = base32Decode(String((await ok("POST", "/api/v1/portal/totp", String(login["token"])))["secret"]));
    const confirmed = await ok("POST", "/api/v1/portal/totp/confirm", String(login["token"]), { code: totpAt(secret, Date.now()) });
    c.token = String(confirmed["token"]);
    const fresh = confirmed["recoveryCodes"] as string[];
    assert.equal(fresh.length, 10);
    assert.equal((await req("GET", "/api/v1/portal/terminals", c.token)).status, 200);
    const again = await req("POST", "/api/v1/portal/login", undefined, { account: c.account, password: PASSWORD, totp: codes[0] });
    assert.deepEqual([again.status, again.body["code"]], [401, "INVALID_CREDENTIALS"], "each code works once");
    const stale = await req("GET", "/api/v1/portal/terminals", oldPhone);
    assert.deepEqual([stale.status, stale.body["code"]], [401, "UNAUTHENTICATED"], "the lost phone's session ended");
    const wrong = await req("POST", "/api/v1/portal/recovery-codes", c.token, { password: "not-the-password" });
    assert.deepEqual([wrong.status, wrong.body["code"]], [401, "INVALID_CREDENTIALS"], "a new set needs the password");
    const renewed = await ok("POST", "/api/v1/portal/recovery-codes", c.token, { password: PASSWORD });
    assert.equal((renewed["recoveryCodes"] as string[]).length, 10);
    const old = await req("POST", "/api/v1/portal/login", undefined, { account: c.account, password: PASSWORD, totp: fresh[1] });
    assert.equal(old.status, 401, "the set before stopped working");
    assert.equal((await req("POST", "/api/v1/portal/recovery-codes", undefined, { password: PASSWORD })).status, 401, "no session, no codes");
  });

  describe("the portal in Chromium", { skip: !existsSync(chromium) && !process.env["CI"] && `no Chromium at ${chromium}` }, () => {
    let browser: Browser | undefined;
    let page: Page;
    const text = (selector: string) => page.$eval(selector, (el) => el.textContent ?? "");
    const rows = (table: string) =>
      page.$$eval(`#${table} tbody tr`, (trs) => trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent ?? "")));

    before(async () => {
      browser = await puppeteer.launch({ executablePath: chromium, headless: true, args: ["--no-sandbox", "--disable-dev-shm-usage"] });
      page = await browser.newPage();
    });
    after(async () => browser?.close());

    it("registration forces TOTP enrolment before anything else", async () => {
      const res = await page.goto(`${url}/portal/`, { waitUntil: "networkidle0" });
      assert.match(res!.headers()["content-security-policy"] ?? "", /script-src 'self'/);
      await page.click("#register-link");
      await page.waitForSelector("form#register");
      await page.type("input[name=practiceName]", "Physiotherapie am Park");
      await page.type("input[name=account]", "physio-park");
      await page.type("input[name=password]", PASSWORD);
      await page.click("form#register button[type=submit]");
      await page.waitForSelector("#totp-secret");
      assert.equal(await page.$("#instances"), null, "no practice data before the enrolment");
      const secret = base32Decode(await text("#totp-secret"));
      await page.type("input[name=code]", totpAt(secret, Date.now()) === "000000" ? "111111" : "000000");
      await page.click("form#enrol button[type=submit]");
      await page.waitForFunction(() => (document.getElementById("problem")?.textContent ?? "").includes("INVALID_TOTP"));
      await page.$eval("input[name=code]", (el) => ((el as HTMLInputElement).value = ""));
      await page.type("input[name=code]", totpAt(secret, Date.now()));
      await page.click("form#enrol button[type=submit]");
      // The recovery codes, this once: ten, and nowhere in the browser's storage.
      await page.waitForSelector("#recovery-codes li");
      const codes = await page.$$eval("#recovery-codes li", (lis) => lis.map((li) => li.textContent ?? ""));
      assert.equal(codes.length, 10);
      const stored = await page.evaluate(() => JSON.stringify({ ...sessionStorage }) + JSON.stringify({ ...localStorage }));
      assert.ok(!codes.some((c) => stored.includes(c)), "no recovery code in the browser's storage");
      await page.click("#recovery-done");
      await page.waitForSelector("#instances");
      assert.match(await text("#who"), /physio-park \(Physiotherapie am Park\)/);
      assert.equal((await rows("instances")).length, 0, "not bound yet: nothing to see");
      assert.equal(await text("#recovery-left"), "10 of 10 unused");
    });

    it("once bound, the practice sees its own Mandant, terminals and cards, none of the other practices' on the same unit", async () => {
      await ok("POST", "/api/v1/practices/physio-park/bind", admin, { unit: "RZK-DEMO-0001", mandantId: "btrs-04" });
      await page.reload({ waitUntil: "networkidle0" });
      await page.waitForSelector("#instances tbody tr");
      assert.deepEqual(
        (await rows("instances")).map((r) => r.slice(0, 5)),
        [["RZK-DEMO-0001", "active", "yes", "btrs-04", "Physiotherapie am Park"]],
      );
      const terminals = await rows("terminals");
      assert.ok(terminals.length >= 3 && terminals.every((r) => r[2] === "btrs-04"), JSON.stringify(terminals));
      const page_ = await page.content();
      for (const p of practices)
        for (const s of [...p.kvnrs, ...p.handles, ...p.mandantNames, ...p.ctIds]) assert.ok(!page_.includes(s), `the page shows ${s}`);
    });

    it("grants a technician access for an hour, which expires when the simulated clock moves on", async () => {
      await page.type("form#grant input[name=technician]", "Max Techniker");
      await page.$eval("form#grant input[name=hours]", (el) => ((el as HTMLInputElement).value = "1"));
      await page.click("form#grant button[type=submit]");
      await page.waitForFunction(() => [...document.querySelectorAll("#grants tbody tr")].some((tr) => tr.textContent?.includes("Max Techniker")));
      const granted = (await rows("grants")).find((r) => r[2] === "Max Techniker")!;
      assert.deepEqual([granted[1], granted[4]], ["RZK-DEMO-0001", "active"]);
      await ok("POST", "/api/v1/clock/advance", admin, { duration: "2h" });
      await page.reload({ waitUntil: "networkidle0" });
      await page.waitForSelector("#grants tbody tr");
      assert.equal((await rows("grants")).find((r) => r[2] === "Max Techniker")?.[4], "expired");
      const log = output();
      assert.match(log, /DVO access granted/, "the grant is logged");
      await page.screenshot({ path: join(tmpdir(), "tigw-portal.png"), fullPage: true });
    });

    it("the admin UI lists the practices with their Mandanten and status", async () => {
      const admin = await browser!.newPage();
      await admin.goto(`${url}/admin/`, { waitUntil: "networkidle0" });
      await admin.waitForSelector("form.login");
      await admin.type("input[name=username]", "admin");
      await admin.type("input[name=password]", ADMIN_PASSWORD);
      await admin.click("button[type=submit]");
      await admin.waitForSelector("table a[href='#/unit/RZK-DEMO-0001']");
      await admin.click("#practices-link");
      await admin.waitForFunction(() => document.querySelector("h1")?.textContent === "Practices" && document.querySelector("tbody tr"));
      const listed = await admin.$$eval("tbody tr", (trs) => trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent ?? "")));
      const row = (account: string) => listed.find((r) => r[0] === account);
      assert.deepEqual(row("praxis-ort")?.slice(2, 4), ["active", "RZK-DEMO-0001/btrs-01, RZK-DEMO-0002/btrs-10"]);
      assert.deepEqual(row("physio-park")?.slice(2, 6), ["active", "RZK-DEMO-0001/btrs-04", "0", "-"], "its grant has expired; it has no VPN box");
      assert.match(row("praxis-ort")?.[5] ?? "", /^1 box, [01] connected$/, "its VPN box");
      await admin.close();
    });

    it("announces a VPN box (its enrolment code shown once), lists it awaiting enrolment, removes it; another practice's page does not list it", async () => {
      const name = 'Empfang <b>1</b> & "Labor"';
      const boxRow = async () => (await rows("boxes")).find((r) => r[0] === name);
      const serverSide = async () =>
        ((await ok("GET", "/api/v1/boxes?account=physio-park", admin)) as { boxes: { boxId: string; name: string; state: string }[] }).boxes.find(
          (b) => b.name === name,
        );
      // Fill in and submit within one evaluate: the page redraws its lists, a handle held across calls could be detached.
      const announce = (n: string) =>
        page.evaluate((n) => {
          const form = document.querySelector<HTMLFormElement>("form#box-announce")!;
          form.querySelector<HTMLInputElement>("input[name=name]")!.value = n;
          form.querySelector<HTMLButtonElement>("button[type=submit]")!.click();
        }, n);
      await page.reload({ waitUntil: "networkidle0" });
      await page.waitForSelector("form#box-announce");
      await announce("   ");
      await page.waitForFunction(() => (document.getElementById("box-problem")?.textContent ?? "").includes("INVALID_BOX_NAME"));
      assert.equal(await page.$("#box-code"), null, "no code for a refused name");

      await announce(name);
      await page.waitForSelector("#box-code");
      const code = await text("#box-code");
      assert.match(code, /^[A-Z2-9]{4}(-[A-Z2-9]{4}){3}$/);
      assert.equal(code.replace(/-/g, "").length, 16, "a 16-character code");
      assert.equal(await text("#box-command"), `tigw sim vpnbox --account physio-park --enrol ${code} --listen 127.0.0.1:PORT`);
      assert.equal(await text("#box-problem"), "", "the earlier refusal is cleared");
      await page.waitForFunction((n) => [...document.querySelectorAll("#boxes tbody tr td:first-child")].some((td) => td.textContent === n), {}, name);
      assert.equal((await boxRow())?.[1], "awaiting-enrolment");
      assert.equal(await page.$("#boxes b"), null, "the box's name is text, not markup");
      const boxId = (await serverSide())!.boxId;
      assert.equal((await serverSide())?.state, "awaiting-enrolment");

      await page.reload({ waitUntil: "networkidle0" });
      await page.waitForSelector("#boxes tbody tr");
      assert.equal((await boxRow())?.[1], "awaiting-enrolment", "listed after a reload");
      assert.ok(!(await page.content()).includes(code), "the code is shown once: not after a reload");

      const clickRemove = () => page.evaluate((id) => document.querySelector<HTMLButtonElement>(`#boxes button[data-box="${id}"]`)!.click(), boxId);
      let asked = "";
      page.once("dialog", (d) => {
        asked = d.message();
        void d.dismiss();
      });
      await clickRemove();
      assert.match(asked, /Remove the VPN box "Empfang <b>1<\/b> & "Labor""\?/);
      assert.equal((await boxRow())?.[1], "awaiting-enrolment", "not removed when the confirmation is declined");
      assert.equal((await serverSide())?.state, "awaiting-enrolment");
      page.once("dialog", (d) => void d.accept());
      await clickRemove();
      await page.waitForFunction(
        (n) =>
          [...document.querySelectorAll("#boxes tbody tr")].some(
            (tr) => tr.querySelector("td")?.textContent === n && tr.children[1]?.textContent === "removed",
          ),
        {},
        name,
      );
      const removed = (await boxRow())!;
      assert.match(removed[2]!, /^removed \d{4}-/);
      assert.deepEqual(removed.slice(3), ["-", "-", ""], "no certificate, no session, no Remove button");
      assert.equal((await serverSide())?.state, "removed");
      assert.equal(await page.$(`#boxes button[data-box="${boxId}"]`), null);

      // Another practice, logged in on its own page, with a box of its own: it sees that one only.
      const other = await registerAndEnrol("praxis-nachbar", "Praxis Nachbar");
      await ok("POST", "/api/v1/portal/boxes", other.token, { name: "Box der Nachbarpraxis" });
      const neighbour = await browser!.newPage();
      try {
        await neighbour.goto(`${url}/portal/`, { waitUntil: "networkidle0" });
        await neighbour.waitForSelector("form#login");
        await neighbour.type("input[name=account]", "praxis-nachbar");
        await neighbour.type("input[name=password]", PASSWORD);
        // Each code works once and the enrolment used this step's: the next step's (one step of drift is allowed).
        await neighbour.type("input[name=totp]", totpAt(other.secret, Date.now() + 30_000));
        await neighbour.click("form#login button[type=submit]");
        await neighbour.waitForSelector("#boxes tbody tr");
        const theirs = await neighbour.$$eval("#boxes tbody tr", (trs) => trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent ?? "")));
        assert.deepEqual(
          theirs.map((r) => r.slice(0, 2)),
          [["Box der Nachbarpraxis", "awaiting-enrolment"]],
        );
        const content = await neighbour.content();
        for (const s of [boxId, "Labor", code]) assert.ok(!content.includes(s), `the other practice's page shows ${s}`);
      } finally {
        await neighbour.close();
      }
    });
  });
});
