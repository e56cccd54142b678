import assert from "node:assert/strict";
import { generateKeyPairSync, randomBytes, X509Certificate } from "node:crypto";
import { connect } from "node:http2";
import { createServer, connect as tcpConnect, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { base32Decode, createClient, DomainError, EmbeddedBus, embeddedSql, totpAt, type Sql } from "@tigw/platform";
import { HsmServiceClient } from "@tigw/contracts/hsm/v1/hsm";
import { ZugangsmodulServiceClient } from "@tigw/contracts/vpn/v1/zugangsmodul";
import { ClockControl, issueCertificate, startHsm, toPem, type RunningHsm } from "@tigw/hsm";
import { loadProfiles, startTenancy, type RunningTenancy } from "@tigw/tenancy";
import { rpc } from "@tigw/vsdm/testing";
import { BoxTunnel, enrolBox, startVpn, ZUGANGSMODUL_NAME, type BoxCredentials, type BoxSessionInfo, type RunningVpn } from "../src/index.js";

const PASSWORD = "practice-password-1";
const refusal = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof DomainError || (e as { code?: unknown }).code, `a refusal with a code, not ${String(e)}`);
    return String((e as { code: string }).code);
  }
  assert.fail("expected a refusal");
};
const until = async (what: string, f: () => boolean | Promise<boolean>, ms = 15_000) => {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};
const json = (b: Buffer) => JSON.parse(b.toString("utf8")) as Record<string, unknown>;

/**
 * VPN boxes at the Zugangsmodul, as a practice lives them: announce a box in the portal (a
 * one-time code), the box enrols with a key of its own and gets a certificate of the VPN-box
 * sub-CA, opens a session (HTTP/2 over mutual TLS) bound to its practice, keeps it with
 * heartbeats, reconnects after a drop; blocked, removed, revoked or expired: ended and refused,
 * each with its reason as an event. hsm (the PKI and OCSP) and tenancy run as real services.
 */
describe("Zugangsmodul: VPN boxes and their sessions", () => {
  let tenancy: RunningTenancy;
  let hsm: RunningHsm;
  let vpn: RunningVpn;
  let sql: Sql;
  let clock: ClockControl;
  let zm: ZugangsmodulServiceClient;
  const tunnels: BoxTunnel[] = [];
  const boxOf: Record<string, BoxCredentials> = {};

  const practice = async (account: string) => {
    const z = vpn.zugangsmodul;
    await z.register(account, PASSWORD, `Praxis ${account}`);
    const secret = base32Decode((await z.beginTotp(account)).secret);
    await z.confirmTotp(account, totpAt(secret, Date.now()));
  };
  const announce = (account: string, name = "Empfang") =>
    rpc<{ box: { boxId: string; state: string; enrolmentExpiresAt: string }; enrolmentCode: string }>(zm, "createBoxEnrolment", { account, name });
  const boxes = (account = "") =>
    rpc<{ boxes: { boxId: string; account: string; state: string; connected: boolean; lastSessionEnd: string; lastHeartbeat: string; certSerial: string }[] }>(
      zm,
      "listBoxes",
      { account },
    ).then((r) => r.boxes);
  const tunnel = (creds: BoxCredentials, o: { heartbeatMs?: number } = {}) => {
    const t = new BoxTunnel(creds, vpn.endpoint.address, { heartbeatMs: o.heartbeatMs ?? 100, maxBackoffMs: 300 }).start();
    tunnels.push(t);
    return t;
  };
  const boxEvents = async (boxId: string) =>
    (
      await sql.query<{ type: string; data: Record<string, string> }>(`SELECT type, data FROM vpn.events WHERE stream_id = $1 ORDER BY stream_version`, [
        `vpnbox-${boxId}`,
      ])
    ).map((e) => ({ type: e.type, ...(typeof e.data === "string" ? JSON.parse(e.data) : e.data) }) as Record<string, string>);

  before(async () => {
    const bus = await EmbeddedBus.open(await embeddedSql());
    clock = await ClockControl.simulated(await embeddedSql(), "clock", new Date());
    tenancy = await startTenancy({ sql: await embeddedSql(), bus, clock, profiles: loadProfiles(), vendorKeys: [] });
    hsm = await startHsm({ sql: await embeddedSql(), bus, clock, masterKey: randomBytes(32) });
    for (const serial of ["RZK-BOX-0001", "RZK-BOX-0002"]) {
      await tenancy.tenancy.createUnit({ serial, profile: "rz", firmware: "", producedOn: "" });
      for (const id of ["btrs-01", "btrs-02"]) await tenancy.tenancy.addMandant(serial, { mandantId: id, name: `Praxis ${id}`, bsnr: "", smcbIccsn: "" });
    }
    sql = await embeddedSql();
    vpn = await startVpn({
      sql,
      bus,
      clock,
      tenancyAddress: tenancy.address,
      hsmAddress: hsm.address,
      cardTerminalAddress: "127.0.0.1:1",
      masterKey: randomBytes(32),
      heartbeatMs: 3_600_000,
      boxes: { heartbeatMs: 300, recheckMs: 3_600_000 },
    });
    zm = createClient(ZugangsmodulServiceClient, vpn.address, { deadlineMs: 60_000 });
    await practice("praxis-ost");
    await practice("praxis-west");
    await vpn.zugangsmodul.bind("praxis-ost", "RZK-BOX-0001", "btrs-01", "op");
    await vpn.zugangsmodul.bind("praxis-west", "RZK-BOX-0001", "btrs-02", "op");
    await vpn.zugangsmodul.bind("praxis-west", "RZK-BOX-0002", "btrs-01", "op");
  });
  after(async () => {
    for (const t of tunnels) t.stop();
    zm?.close();
    await vpn?.stop();
    await hsm?.stop();
    await tenancy?.stop();
  });

  it("enrols: a one-time code from the portal, the box's own key, a certificate of the VPN-box CA; the code is in no event", async () => {
    const { box, enrolmentCode } = await announce("praxis-ost");
    assert.equal(box.state, "awaiting-enrolment");
    assert.match(enrolmentCode, /^[A-Z2-9]{4}(-[A-Z2-9]{4}){3}$/);
    assert.equal(
      await refusal(enrolBox({ address: vpn.endpoint.address, caPems: vpn.boxTrustPems, code: "AAAA-BBBB-CCCC-DDDD" })),
      "ENROLMENT_CODE_INVALID",
      "a wrong code",
    );
    const creds = await enrolBox({ address: vpn.endpoint.address, caPems: vpn.boxTrustPems, code: enrolmentCode.toLowerCase() });
    boxOf["ost"] = creds;
    assert.equal(creds.account, "praxis-ost");
    const cert = new X509Certificate(creds.certificatePem);
    assert.match(cert.issuer, /CN=GEM\.VPNBOX-CA-TIGW-TEST-RSA/);
    assert.match(cert.subject, new RegExp(`CN=${creds.boxId}`));
    assert.match(cert.subject, /OU=praxis-ost/);
    assert.ok(cert.publicKey.equals(new X509Certificate(creds.certificatePem).publicKey));
    assert.equal(
      await refusal(enrolBox({ address: vpn.endpoint.address, caPems: vpn.boxTrustPems, code: enrolmentCode })),
      "ENROLMENT_CODE_INVALID",
      "a code works once",
    );
    const [b] = await boxes("praxis-ost");
    assert.equal(b!.state, "enrolled");
    assert.equal(b!.certSerial, cert.serialNumber.toUpperCase());
    const events = JSON.stringify(await sql.query("SELECT data FROM vpn.events"));
    assert.ok(!events.includes(enrolmentCode) && !events.includes(enrolmentCode.replace(/-/g, "")), "the code is in no event");
    assert.ok(!events.includes("PRIVATE KEY"));
  });

  it("connects: the certificate alone names the practice; its own instances and Mandanten only; another's instance: 403", async () => {
    const t = tunnel(boxOf["ost"]!);
    const info: BoxSessionInfo = await t.whenConnected();
    assert.equal(info.account, "praxis-ost");
    assert.deepEqual(
      info.instances.map((i) => [i.unit, i.mandanten]),
      [["RZK-BOX-0001", ["btrs-01"]]],
      "unit 1 with its own Mandant only, not praxis-west's btrs-02; unit 2 not at all",
    );
    const other = await t.request("GET", "/v1/instances/RZK-BOX-0002");
    assert.equal(other.status, 403);
    assert.equal(json(other.body)["code"], "PERMISSION_DENIED");
    assert.ok(!other.body.toString().includes("praxis-west"));
    // A name in the request changes nothing: the session is the identity.
    const spoof = await t.request("GET", "/v1/session?account=praxis-west", undefined, { "x-account": "praxis-west" });
    assert.equal(json(spoof.body)["account"], "praxis-ost");
    assert.equal((await t.request("GET", "/v1/nothing")).status, 404);
    // The practice network's view: a local port whose requests go through the tunnel.
    const { server, url } = await t.listen("127.0.0.1", 0);
    try {
      const r = await fetch(`${url}/v1/instances/RZK-BOX-0001`);
      assert.equal(r.status, 200);
      assert.deepEqual(((await r.json()) as { mandanten: string[] }).mandanten, ["btrs-01"]);
    } finally {
      server.close();
    }
    const [b] = await boxes("praxis-ost");
    assert.equal(b!.connected, true);
    assert.equal(vpn.endpoint.connectedCount(), 1);
  });

  it("heartbeats keep a session; a silent box is ended after three missed ones; a dropped tunnel reconnects by itself", async () => {
    const t = tunnels[0]!;
    const first = t.sessionInfo!.sessionId;
    await new Promise((r) => setTimeout(r, 1_500));
    assert.equal(t.sessionInfo?.sessionId, first, "five heartbeat periods later the same session");
    assert.ok((await boxes("praxis-ost"))[0]!.lastHeartbeat, "the last heartbeat is shown");
    t.drop();
    await until("a new session", () => Boolean(t.connected && t.sessionInfo!.sessionId !== first));
    assert.ok(t.drops >= 1);
    const ev = await boxEvents(boxOf["ost"]!.boxId);
    assert.ok(
      ev.some((e) => e["type"] === "BoxSessionDisconnected" && e["sessionId"] === first && e["reason"] === "BOX_DISCONNECTED"),
      JSON.stringify(ev),
    );
    t.stop();
    await until("the box's session ended", async () => !(await boxes("praxis-ost"))[0]!.connected);
    // A box that never pings: the Zugangsmodul ends its session (900 ms without a sign of life).
    const silent = tunnel(boxOf["ost"]!, { heartbeatMs: 3_600_000 });
    await silent.whenConnected();
    await until("the heartbeat timeout", async () => (await boxEvents(boxOf["ost"]!.boxId)).some((e) => e["reason"] === "HEARTBEAT_TIMEOUT"));
    silent.stop();
  });

  it("a box whose line freezes (no packet, no close) notices by its unanswered heartbeat and reconnects", async () => {
    // A TCP relay in front of the Zugangsmodul whose open connections can be frozen: nothing passes
    // any more, nothing is closed (a NAT that forgot the flow). New connections pass again.
    const [host, port] = [vpn.endpoint.address.split(":")[0]!, Number(vpn.endpoint.address.split(":")[1])];
    const open: { a: Socket; b: Socket; frozen: boolean }[] = [];
    const relay = createServer((a) => {
      const c = { a, b: tcpConnect(port, host), frozen: false };
      open.push(c);
      for (const [from, to] of [
        [c.a, c.b],
        [c.b, c.a],
      ] as const) {
        from.on("data", (d) => void (c.frozen || to.write(d)));
        from.on("error", () => undefined);
        from.on("close", () => to.destroy());
      }
    });
    await new Promise<void>((r) => relay.listen(0, "127.0.0.1", r));
    const relayPort = (relay.address() as { port: number }).port;
    const t = new BoxTunnel(boxOf["ost"]!, `127.0.0.1:${relayPort}`, { heartbeatMs: 100, maxBackoffMs: 300 }).start();
    tunnels.push(t);
    const reasons: string[] = [];
    t.on("disconnected", (r: string) => reasons.push(r));
    try {
      const first = (await t.whenConnected()).sessionId;
      for (const c of open) c.frozen = true;
      await until("a new session over a fresh connection", () => Boolean(t.connected && t.sessionInfo!.sessionId !== first));
      assert.deepEqual(reasons, ["HEARTBEAT_TIMEOUT"], "the box saw the line dead by itself, before any close");
      const r = await t.request("GET", "/v1/instances/RZK-BOX-0001");
      assert.equal(r.status, 200, "the new session carries requests");
    } finally {
      t.stop();
      for (const c of open) for (const sock of [c.a, c.b]) sock.destroy();
      relay.close();
    }
  });

  it("a blocked account's session ends at once and is refused until the block is lifted", async () => {
    const t = tunnel(boxOf["ost"]!);
    await t.whenConnected();
    const refused: string[] = [];
    t.on("refused", (r: { code: string }) => refused.push(r.code));
    await vpn.zugangsmodul.block("praxis-ost", "Zahlungsverzug", "op");
    await until("the session ended", () => !t.connected, 5_000);
    await until("a refusal", () => refused.includes("ACCOUNT_BLOCKED"));
    assert.equal((await boxes("praxis-ost"))[0]!.lastSessionEnd, "ACCOUNT_BLOCKED");
    await vpn.zugangsmodul.unblock("praxis-ost", "op");
    await t.whenConnected(10_000);
    t.stop();
  });

  it("another account's box cannot reuse a key, a certificate of another CA opens nothing, nor does no certificate", async () => {
    // praxis-west's box presents praxis-ost's key with its own code: refused.
    const { enrolmentCode } = await announce("praxis-west");
    const ostKey = boxOf["ost"]!.keyPem;
    const { createPrivateKey, createPublicKey, sign } = await import("node:crypto");
    const spki = createPublicKey(createPrivateKey(ostKey)).export({ type: "spki", format: "der" });
    const code = enrolmentCode.replace(/-/g, "");
    const proof = sign("sha256", Buffer.concat([Buffer.from(`tigw.vpnbox.enrol.v1\u0000${code}\u0000`), spki]), createPrivateKey(ostKey));
    const s = connect(`https://${vpn.endpoint.address}`, { ca: vpn.boxTrustPems, servername: ZUGANGSMODUL_NAME });
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = s.request({ ":method": "POST", ":path": "/v1/enrol", "content-type": "application/json" });
      let status = 0;
      let body = "";
      req.on("response", (h) => (status = Number(h[":status"])));
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => resolve({ status, body }));
      req.on("error", reject);
      req.end(JSON.stringify({ code, publicKey: spki.toString("base64"), proof: proof.toString("base64") }));
    });
    assert.equal(answer.status, 409);
    assert.equal(JSON.parse(answer.body).code, "KEY_IN_USE");
    // No certificate: only the enrolment is open.
    const plain = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = s.request({ ":method": "GET", ":path": "/v1/session" });
      let status = 0;
      let body = "";
      req.on("response", (h) => (status = Number(h[":status"])));
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => resolve({ status, body }));
      req.on("error", reject);
      req.end();
    });
    s.destroy();
    assert.equal(plain.status, 403);
    assert.equal(JSON.parse(plain.body).code, "NO_CLIENT_CERTIFICATE");
    // A self-made certificate naming the box: TLS does not trust it, no session.
    const k = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const fake = issueCertificate({
      subject: { cn: boxOf["ost"]!.boxId, o: "ti-gateway test VPN box", ou: "praxis-ost" },
      publicKey: k.publicKey,
      issuer: "self",
      selfKey: k.privateKey,
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 86_400_000),
      usage: ["digitalSignature"],
    });
    const forged: BoxCredentials = {
      ...boxOf["ost"]!,
      keyPem: k.privateKey.export({ type: "pkcs8", format: "pem" }) as string,
      certificatePem: toPem(fake.der),
      chainPems: [],
    };
    const t = tunnel(forged);
    assert.equal(await refusal(t.whenConnected()), "UNTRUSTED_CERTIFICATE");
    t.stop();
    // praxis-west's own box works, and sees only its own.
    const west = await enrolBox({ address: vpn.endpoint.address, caPems: vpn.boxTrustPems, code: (await announce("praxis-west", "Filiale")).enrolmentCode });
    boxOf["west"] = west;
    const wt = tunnel(west);
    const info = await wt.whenConnected();
    assert.deepEqual(
      // The instances in any order: sorted by unit before comparing.
      info.instances.map((i) => [i.unit, i.mandanten]).sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
      [
        ["RZK-BOX-0001", ["btrs-02"]],
        ["RZK-BOX-0002", ["btrs-01"]],
      ],
    );
    assert.deepEqual(
      (await boxes("praxis-west")).map((b) => b.account),
      ["praxis-west", "praxis-west"],
      "a practice's list holds its own boxes only",
    );
    assert.equal(await refusal(rpc(zm, "removeBox", { account: "praxis-west", boxId: boxOf["ost"]!.boxId })), "BOX_NOT_FOUND", "another's box is not found");
    wt.stop();
  });

  it("removed: the certificate is revoked at the PKI and the session ends; a revoked certificate is refused", async () => {
    const t = tunnel(boxOf["west"]!);
    await t.whenConnected();
    const refused: string[] = [];
    t.on("refused", (r: { code: string }) => refused.push(r.code));
    // An operator revokes the certificate at the PKI: the next check ends the session.
    const h = createClient(HsmServiceClient, hsm.address, { deadlineMs: 30_000 });
    const serial = new X509Certificate(boxOf["west"]!.certificatePem).serialNumber.toUpperCase();
    await rpc(h, "revokeCertificate", { certSerial: serial, reason: "keyCompromise" });
    await vpn.endpoint.recheckNow();
    await until("refused as revoked", () => refused.includes("CERTIFICATE_REVOKED"));
    assert.equal(t.connected, false);
    t.stop();
    // The practice removes its other box (praxis-ost's): revoked and ended at once.
    const o = tunnel(boxOf["ost"]!);
    await o.whenConnected();
    const gone: string[] = [];
    o.on("refused", (r: { code: string }) => gone.push(r.code));
    await rpc(zm, "removeBox", { account: "praxis-ost", boxId: boxOf["ost"]!.boxId });
    await until("refused as removed", () => gone.includes("BOX_REMOVED"));
    const st = await rpc<{ status: string }>(h, "getOcspStatus", { certSerial: new X509Certificate(boxOf["ost"]!.certificatePem).serialNumber.toUpperCase() });
    assert.equal(st.status, "revoked");
    o.stop();
    h.close();
    const ev = await boxEvents(boxOf["ost"]!.boxId);
    assert.ok(ev.some((e) => e["type"] === "BoxRemoved"));
    assert.ok(ev.some((e) => e["type"] === "BoxSessionRefused" && e["reason"] === "BOX_REMOVED"));
  });

  it("expired on the clock ti-gateway runs on: the session ends and a new one is refused", async () => {
    const creds = await enrolBox({ address: vpn.endpoint.address, caPems: vpn.boxTrustPems, code: (await announce("praxis-ost", "Neu")).enrolmentCode });
    const t = tunnel(creds);
    await t.whenConnected();
    const refused: string[] = [];
    t.on("refused", (r: { code: string }) => refused.push(r.code));
    await clock.advance("366d");
    await vpn.endpoint.recheckNow();
    await until("refused as expired", () => refused.includes("CERTIFICATE_EXPIRED"));
    t.stop();
    const ev = await boxEvents(creds.boxId);
    assert.ok(
      ev.some((e) => e["type"] === "BoxSessionDisconnected" && e["reason"] === "CERTIFICATE_EXPIRED"),
      JSON.stringify(ev),
    );
    assert.ok(vpn.endpoint.refused.get("CERTIFICATE_EXPIRED")! >= 1, "counted for the metric");
  });
});
