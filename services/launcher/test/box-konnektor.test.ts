import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { createServer as createTlsServer } from "node:tls";
import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { gunzipSync } from "node:zlib";
import { base32Decode, totpAt } from "@tigw/platform";
import { eventually, tempDir } from "@tigw/platform/testing";
import { ok, pruefkarteCheck, root, startEmbedded, startProcess, stopProcess, tigw } from "./support.js";

const CCTX = "http://ws.gematik.de/conn/ConnectorContext/v2.0";
const CONN = "http://ws.gematik.de/conn/ConnectorCommon/v5.0";
const EVT = "http://ws.gematik.de/conn/EventService/v7.2";
const VSD = "http://ws.gematik.de/conn/vsds/VSDService/v5.2";
const VSD_ACTION = "http://ws.gematik.de/conn/vsds/VSDService/v6.0#ReadVSD";
const UNIT = "RZK-BOX-01";

const context = (m: string, cs: string, wp: string) =>
  `<CCTX:Context xmlns:CCTX="${CCTX}" xmlns:CONN="${CONN}"><CONN:MandantId>${m}</CONN:MandantId>` +
  `<CONN:ClientSystemId>${cs}</CONN:ClientSystemId><CONN:WorkplaceId>${wp}</CONN:WorkplaceId></CCTX:Context>`;
const envelope = (body: string) =>
  `<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>${body}</soap:Body></soap:Envelope>`;
const tag = (xml: string, name: string) => new RegExp(`<(?:\\w+:)?${name}(?:\\s[^>]*)?>([^<]*)</(?:\\w+:)?${name}>`).exec(xml)?.[1];

/**
 * Issue 15's "done when", as new practices do it on the one-command start: register in the
 * portal with TOTP, get bound to a Mandant by the operator, announce a VPN box, run
 * `tigw sim vpnbox --enrol CODE --listen 127.0.0.1:PORT`, and point practice software at that
 * port: connector.sds names the box's address, ReadVSD of the Prüfkarte runs through the tunnel.
 * A second practice with a Mandant on the same unit and its own box reaches the same Konnektor
 * and sees none of it: the first practice's Mandant is refused as unknown (4004), its cards are
 * not in GetCards, its card handles read nothing.
 */
describe("a practice's software reaches its Konnektor through its VPN box (tigw sim vpnbox --listen)", () => {
  const work = tempDir("tigw-box-konnektor-");
  let url = "";
  let admin = "";
  let stop: (() => Promise<void>) | undefined;
  const boxes: ChildProcess[] = [];
  let egkHandle = "";
  let smcbHandle = "";
  let t: (...args: string[]) => ReturnType<typeof tigw> = () => Promise.reject(new Error("not started"));
  const box: Record<string, string> = {};

  const rest = async (method: string, path: string, token?: string, body?: unknown) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { "content-type": "application/json" } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    assert.ok(res.status < 300, `${method} ${path}: ${res.status} ${text}`);
    return JSON.parse(text) as Record<string, unknown>;
  };

  /** Portal registration with TOTP, the operator's binding, a box announced and run by the CLI: the box's local URL. */
  const newPractice = async (account: string, mandantId: string): Promise<string> => {
    const reg = await rest("POST", "/api/v1/portal/register", undefined, { account, password: "practice-password-1", practiceName: `Praxis ${account}` });
    const enrolment = String(reg["token"]);
    const secret = base32Decode(String((await rest("POST", "/api/v1/portal/totp", enrolment))["secret"]));
    const token = String((await rest("POST", "/api/v1/portal/totp/confirm", enrolment, { code: totpAt(secret, Date.now()) }))["token"]);
    await rest("POST", `/api/v1/practices/${account}/bind`, admin, { unit: UNIT, mandantId });
    const code = String((await rest("POST", "/api/v1/portal/boxes", token, { name: `Box ${account}` }))["enrolmentCode"]);
    const p = await startProcess(
      [join(root, "services/cli/bin/tigw.js"), "sim", "vpnbox", "--account", account, "--enrol", code, "--listen", "127.0.0.1:0", "--state-dir", work],
      { TIGW_URL: url, TIGW_CONFIG_DIR: join(work, account) },
      /Konnektor for practice software: (http:\/\/\S+)\/connector\.sds/,
      60_000,
    );
    boxes.push(p.child);
    // The box prints its session once connected; the local port answers before that with 503.
    await eventually(() => p.output().includes("connected: session"), 30_000, `${account}'s box connected`);
    return /Konnektor for practice software: (http:\/\/\S+)\/connector\.sds/.exec(p.output())![1]!;
  };

  before(async () => {
    const p = await startEmbedded({ dataDir: join(work, "data"), adminPassword: "box-admin-password" });
    stop = () => stopProcess(p.child);
    url = p.url;
    const env = { TIGW_URL: url, TIGW_CONFIG_DIR: join(work, "operator") };
    t = (...args: string[]) => tigw(env, ...args);
    ok(await t("login", "--user", "admin", "--password", "box-admin-password"), "login");
    // The first practice's Mandant praxis-1: terminal KT-001, PVS1 at AP1, SMC-B unlocked, Prüfkarte 0001 in slot 1.
    ({ egkHandle, smcbHandle } = await pruefkarteCheck(t, UNIT));
    // The second practice's Mandant on the same unit, with a terminal and workplace of its own.
    ok(await t("mandant", "add", UNIT, "--id", "praxis-2", "--name", "Zweitpraxis"), "mandant 2");
    ok(await t("sim", "kt", "--unit", UNIT, "--mandant", "praxis-2", "--count", "1", "--prefix", "KTB-"), "terminal 2");
    ok(await t("infomodell", UNIT, "client-system", "--mandant", "praxis-2", "--client-system", "PVS2"), "client system 2");
    ok(await t("infomodell", UNIT, "workplace", "--mandant", "praxis-2", "--workplace", "AP2", "--client-system", "PVS2"), "workplace 2");
    ok(await t("infomodell", UNIT, "workplace-terminal", "--workplace", "AP2", "--ct-id", "KTB-001", "--kind", "local"), "local terminal 2");
    admin = String((await rest("POST", "/api/v1/auth/login", undefined, { username: "admin", password: "box-admin-password" }))["token"]);
    box["a"] = await newPractice("praxis-a", "praxis-1");
    box["b"] = await newPractice("praxis-b", "praxis-2");
  });
  after(async () => {
    for (const c of boxes) await stopProcess(c);
    await stop?.();
  });

  /** A SOAP call as practice software makes it, to an endpoint connector.sds named. */
  const call = async (endpoint: string, action: string, body: string) => {
    const res = await fetch(endpoint, {
      method: "POST",
      headers: { "content-type": "text/xml; charset=utf-8", soapaction: `"${action}"` },
      body: envelope(body),
    });
    return { status: res.status, text: await res.text() };
  };
  const endpointOf = async (base: string, service: string): Promise<string> => {
    const res = await fetch(`${base}/connector.sds`);
    assert.equal(res.status, 200);
    const sds = await res.text();
    const m = new RegExp(`<SI:Service Name="${service}">[\\s\\S]*?<SI:Endpoint Location="([^"]+)"`).exec(sds);
    assert.ok(m, `connector.sds through the box lists a plain-HTTP Endpoint of ${service}: ${sds.slice(0, 400)}`);
    return m[1]!;
  };

  it("connector.sds through the box names the box's own address, without TLS (the tunnel is encrypted)", async () => {
    const res = await fetch(`${box["a"]}/connector.sds`);
    const sds = await res.text();
    assert.equal(res.status, 200, sds);
    assert.match(sds, /<CONN:TLSMandatory>false<\/CONN:TLSMandatory>/);
    assert.ok(sds.includes(`<SI:Endpoint Location="${box["a"]}/soap/VSDService/5.2.0"/>`), sds);
    assert.match(sds, /<PI:ProductName>|ProductName/);
  });

  it("the first practice pairs and connects a terminal through its box (tigw sim kt --via) and puts Prüfkarte 0001 into it there", async () => {
    const paired = ok(await t("sim", "kt", "--via", box["a"]!, "--mandant", "praxis-1", "--count", "1", "--prefix", "KTA-", "-o", "json"), "sim kt --via");
    assert.deepEqual((JSON.parse(paired) as { admitted: string[] }).admitted, ["KTA-001"]);
    const kt = JSON.parse(ok(await t("kt", "show", "KTA-001", "-o", "json"), "kt show")) as { unitId: string; correlation: string; connected: boolean };
    assert.equal(kt.correlation, "aktiv");
    assert.equal(kt.connected, true);
    // The practice's workplace AP1 uses it (the operator's Infomodell); the card goes in at the terminal, through the box.
    ok(await t("infomodell", UNIT, "workplace-terminal", "--workplace", "AP1", "--ct-id", "KTA-001", "--kind", "local"), "workplace terminal");
    const egk = await rest("POST", "/api/v1/sim/egk", admin, { pruefkarte: 1 });
    const res = await fetch(`${box["a"]}/v1/terminals/KTA-001/cards`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ slot: 1, cardType: "PRUEFKARTE_EGK", iccsn: egk["iccsn"], certSerial: egk["certSerial"] }),
    });
    const card = (await res.json()) as { cardHandle: string };
    assert.equal(res.status, 200, JSON.stringify(card));
    egkHandle = card.cardHandle;
    // The second practice's box cannot touch it, nor pair it for itself: refused as if it did not exist.
    for (const [path, body] of [
      ["/v1/terminals/KTA-001/heartbeat", {}],
      ["/v1/terminals/KTA-001/cards", { slot: 2, cardType: "EGK", iccsn: "80276000000000000001" }],
      ["/v1/terminals/KT-NONE/heartbeat", {}],
      ["/v1/terminals", { ctId: "KTA-001", mac: "02:00:00:00:00:01", certSerial: "00", mandantId: "praxis-2" }],
      ["/v1/terminals", { ctId: "KTB-NEW", mac: "02:00:00:00:00:02", certSerial: "00", mandantId: "praxis-1" }],
      // A terminal registered by someone else (here the operator's, of the first practice) is not paired away.
      ["/v1/terminals", { ctId: "KT-001", mac: "02:00:00:00:00:03", certSerial: "00", mandantId: "praxis-2" }],
      // An HBA is a person's, not a Mandant's: not put in through a box (here into its own terminal).
      ["/v1/terminals/KTB-001/cards", { slot: 3, cardType: "HBA", iccsn: "80276000000000000002", certSerial: "00" }],
    ] as const) {
      const r = await fetch(`${box["b"]}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      const text = await r.text();
      assert.equal(r.status, 403, `${path}: ${text}`);
      assert.equal((JSON.parse(text) as { code: string }).code, "PERMISSION_DENIED", text);
    }
  });

  it("the first practice reads Prüfkarte 0001 with ReadVSD through its box", async () => {
    const endpoint = await endpointOf(box["a"]!, "VSDService");
    const read = await call(
      endpoint,
      VSD_ACTION,
      `<VSD:ReadVSD xmlns:VSD="${VSD}"><VSD:EhcHandle>${egkHandle}</VSD:EhcHandle><VSD:HpcHandle>${smcbHandle}</VSD:HpcHandle>` +
        `<VSD:PerformOnlineCheck>true</VSD:PerformOnlineCheck><VSD:ReadOnlineReceipt>true</VSD:ReadOnlineReceipt>${context("praxis-1", "PVS1", "AP1")}</VSD:ReadVSD>`,
    );
    assert.equal(read.status, 200, read.text);
    const doc = (name: string) => gunzipSync(Buffer.from(tag(read.text, name)!, "base64")).toString("latin1");
    assert.match(doc("PersoenlicheVersichertendaten"), /<Vorname>Dienstleister<\/Vorname><Nachname>Ort<\/Nachname>/);
    assert.match(doc("Pruefungsnachweis"), /<E>3<\/E>/);
  });

  it("the second practice, on the same unit through its own box, sees none of the first one's", async () => {
    const evt = await endpointOf(box["b"]!, "EventService");
    const vsd = await endpointOf(box["b"]!, "VSDService");
    const readAs = (m: string, cs: string, wp: string) =>
      call(
        vsd,
        VSD_ACTION,
        `<VSD:ReadVSD xmlns:VSD="${VSD}"><VSD:EhcHandle>${egkHandle}</VSD:EhcHandle><VSD:HpcHandle>${smcbHandle}</VSD:HpcHandle>` +
          `<VSD:PerformOnlineCheck>false</VSD:PerformOnlineCheck><VSD:ReadOnlineReceipt>false</VSD:ReadOnlineReceipt>${context(m, cs, wp)}</VSD:ReadVSD>`,
      );
    // The first practice's Mandant, named in the request: refused exactly as a Mandant that does not exist.
    const foreign = await readAs("praxis-1", "PVS1", "AP1");
    const missing = await readAs("praxis-9", "PVS1", "AP1");
    assert.equal(foreign.status, 500);
    assert.equal(tag(foreign.text, "Code"), "4004", foreign.text);
    const neutral = (text: string, mandant: string) =>
      text
        .replaceAll(mandant, "M")
        .replace(/<[^>]*Timestamp>[^<]*</g, "")
        .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, "ID");
    assert.equal(neutral(foreign.text, "praxis-1"), neutral(missing.text, "praxis-9"));
    // Its own Mandant with the first practice's card handles: refused by the access check, no insured data.
    const handles = await readAs("praxis-2", "PVS2", "AP2");
    assert.equal(handles.status, 500, handles.text);
    assert.ok(!/Dienstleister|Versichertendaten|X000000012/.test(handles.text), handles.text);
    // GetCards of its own Mandant (Mandant-wide) lists none of the first practice's cards.
    const cards = await call(
      evt,
      `${EVT}#GetCards`,
      `<EVT:GetCards xmlns:EVT="${EVT}" mandant-wide="true">${context("praxis-2", "PVS2", "AP2")}</EVT:GetCards>`,
    );
    assert.equal(cards.status, 200, cards.text);
    assert.ok(!cards.text.includes(egkHandle) && !cards.text.includes(smcbHandle) && !/KTA?-001/.test(cards.text), cards.text);
    // Nor a subscription: the Konnektor would dial the EventTo address from the datacentre.
    const sub = await call(
      evt,
      `${EVT}#Subscribe`,
      `<EVT:Subscribe xmlns:EVT="${EVT}">${context("praxis-2", "PVS2", "AP2")}<EVT:Subscription><EVT:EventTo>cetp://169.254.169.254:80</EVT:EventTo><EVT:Topic>CARD</EVT:Topic></EVT:Subscription></EVT:Subscribe>`,
    );
    assert.equal(tag(sub.text, "Code"), "4000", sub.text);
    assert.match(sub.text, /not carried through a VPN box/);
    // Straight at the unit's own HTTPS port (the datacentre side), a practice's Mandant is refused
    // as unknown too: practices come in through their boxes; and a caller that names a practice
    // without the Zugangsmodul's certificate is refused outright.
    const direct = /<SI:Service Name="VSDService">[\s\S]*?<SI:EndpointTLS Location="([^"]+)"/.exec(
      await (await fetch(`${box["b"]}/connector.sds`)).text(),
    )![1]!;
    const bound = await insecurePost(
      direct,
      VSD_ACTION,
      envelope(
        `<VSD:ReadVSD xmlns:VSD="${VSD}"><VSD:EhcHandle>${egkHandle}</VSD:EhcHandle><VSD:HpcHandle>${smcbHandle}</VSD:HpcHandle><VSD:PerformOnlineCheck>false</VSD:PerformOnlineCheck><VSD:ReadOnlineReceipt>false</VSD:ReadOnlineReceipt>${context("praxis-1", "PVS1", "AP1")}</VSD:ReadVSD>`,
      ),
    );
    assert.equal(tag(bound.text, "Code"), "4004", bound.text);
    const spoofed = await insecurePost(direct, VSD_ACTION, envelope(`<VSD:ReadVSD xmlns:VSD="${VSD}">${context("praxis-2", "PVS2", "AP2")}</VSD:ReadVSD>`), {
      "x-tigw-practice": "praxis-a",
    });
    assert.equal(tag(spoofed.text, "Code"), "4204", spoofed.text);
    // The first practice's box reaches the same Konnektor and still reads its own.
    const own = await call(
      await endpointOf(box["a"]!, "EventService"),
      `${EVT}#GetCards`,
      `<EVT:GetCards xmlns:EVT="${EVT}">${context("praxis-1", "PVS1", "AP1")}</EVT:GetCards>`,
    );
    assert.ok(own.text.includes(egkHandle), own.text);
  });
  it("two practices racing through their boxes to pair the same new terminal on one unit: one gets it, in its own Mandant only", async () => {
    const race = (b: string, mandant: string) => t("sim", "kt", "--via", b, "--mandant", mandant, "--count", "1", "--prefix", "KTR-", "-o", "json");
    const runs = await Promise.all([race(box["a"]!, "praxis-1"), race(box["b"]!, "praxis-2")]);
    const admitted = runs.map((r) => (r.code === 0 ? (JSON.parse(r.stdout) as { admitted: string[] }).admitted : []));
    assert.deepEqual(admitted.flat(), ["KTR-001"], runs.map((r) => `${r.code} ${r.stdout} ${r.stderr}`).join("\n"));
    const winner = admitted[0]!.length ? "praxis-1" : "praxis-2";
    const loser = winner === "praxis-1" ? "praxis-2" : "praxis-1";
    const info = JSON.parse(ok(await t("infomodell", "show", UNIT, "-o", "json"), "infomodell show")) as {
      mandanten: { mandantId: string; terminals: string[] }[];
    };
    const holders = info.mandanten.filter((m) => m.terminals.includes("KTR-001")).map((m) => m.mandantId);
    assert.deepEqual(holders, [winner], JSON.stringify(info.mandanten));
    // The loser's box cannot reach it afterwards either.
    const r = await fetch(`${box[loser === "praxis-1" ? "a" : "b"]}/v1/terminals/KTR-001/heartbeat`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    assert.equal(r.status, 403, await r.text());
  });

  it("a firmware update of the unit reaches practice software as the CETP event KSR/UPDATE/END (unit-wide)", async () => {
    // The operator's own client system on a Mandant bound to no practice subscribes at the unit's HTTPS port.
    ok(await t("mandant", "add", UNIT, "--id", "betrieb", "--name", "Betrieb"), "mandant");
    ok(await t("infomodell", UNIT, "mandant", "--mandant", "betrieb"), "Infomodell Mandant");
    ok(await t("infomodell", UNIT, "client-system", "--mandant", "betrieb", "--client-system", "PVS-B"), "client system");
    ok(await t("infomodell", UNIT, "workplace", "--mandant", "betrieb", "--workplace", "AP-B", "--client-system", "PVS-B"), "workplace");
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        join(work, "cetp-key.pem"),
        "-out",
        join(work, "cetp.pem"),
        "-subj",
        "/CN=PVS",
        "-days",
        "1",
      ],
      { stdio: "ignore" },
    );
    const frames: string[] = [];
    const listener = createTlsServer({ key: readFileSync(join(work, "cetp-key.pem")), cert: readFileSync(join(work, "cetp.pem")) }, (socket) => {
      let pending = Buffer.alloc(0);
      socket.on("data", (d: Buffer) => {
        pending = Buffer.concat([pending, d]);
        while (pending.length >= 8 && pending.length >= 8 + pending.readUInt32BE(4)) {
          frames.push(pending.subarray(8, 8 + pending.readUInt32BE(4)).toString("utf8"));
          pending = pending.subarray(8 + pending.readUInt32BE(4));
        }
      });
      socket.on("error", () => undefined);
    });
    await new Promise<void>((r) => listener.listen(0, "127.0.0.1", r));
    try {
      const sds = await (await fetch(`${box["a"]}/connector.sds`)).text();
      const evt = /<SI:Service Name="EventService">[\s\S]*?<SI:EndpointTLS Location="([^"]+)"/.exec(sds)![1]!;
      const eventTo = `cetp://127.0.0.1:${(listener.address() as { port: number }).port}`;
      const sub = await insecurePost(
        evt,
        `${EVT}#Subscribe`,
        envelope(
          `<EVT:Subscribe xmlns:EVT="${EVT}">${context("betrieb", "PVS-B", "AP-B")}<EVT:Subscription><EVT:EventTo>${eventTo}</EVT:EventTo><EVT:Topic>KSR</EVT:Topic></EVT:Subscription></EVT:Subscribe>`,
        ),
      );
      assert.equal(sub.status, 200, sub.text);
      const day = (d: number) => new Date(Date.now() + d * 86_400_000).toISOString().slice(0, 10);
      const version = `5.60.${Date.now() % 1000}:2.0.0`;
      ok(
        await t(
          "ksr",
          "publish",
          "--update-id",
          "BOX_KSR_1",
          "--product",
          "rz",
          "--version",
          version,
          "--priority",
          "Normal",
          "--start",
          day(0),
          "--deadline",
          day(30),
          "--approved-until",
          day(365),
        ),
        "ksr publish",
      );
      ok(await t("unit", "update", UNIT, "--version", version), "unit update");
      await eventually(() => frames.some((f) => f.includes("KSR/UPDATE/END")), 20_000, "KSR/UPDATE/END over CETP");
      const frame = frames.find((f) => f.includes("KSR/UPDATE/END"))!;
      assert.match(frame, new RegExp(`<EVT:Key>FWVersion</EVT:Key><EVT:Value>${version.replace(/\./g, "\\.")}</EVT:Value>`));
      assert.match(frame, /<EVT:Type>Infrastructure<\/EVT:Type>/);
    } finally {
      listener.close();
    }
  });

  it("tigw sim practices: new practices (portal, TOTP, box, a terminal through it, SMC-B unlocked over SOAP) read their patients' eGKs through their boxes, with tunnel drops, without an unexpected error", async () => {
    const r = await t("sim", "practices", "--count", "2", "--unit", UNIT, "--rate", "2", "--duration", "12s", "-o", "json");
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    const s = JSON.parse(r.stdout) as { practices: number; ok: number; errors: Record<string, number>; boxesConnectedAtEnd: number };
    assert.deepEqual(s.errors, {});
    assert.equal(s.boxesConnectedAtEnd, 2);
    assert.ok(s.ok >= 5, `at least 5 patients read through the boxes: ${r.stdout}`);
  });
});

/** A SOAP POST to the unit's own HTTPS port (its certificate is the test PKI's; the test does not check it). */
function insecurePost(url: string, action: string, body: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const r = request(
      url,
      { method: "POST", rejectUnauthorized: false, headers: { "content-type": "text/xml; charset=utf-8", soapaction: `"${action}"`, ...headers } },
      (res) => {
        let text = "";
        res.on("data", (c: Buffer) => (text += c.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    r.on("error", reject);
    r.end(body);
  });
}
