import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { answer, type FakeGateway, fakeGateway, loggedIn, tigw } from "./support.js";

/** A registration as the gateway answers it (vpn's Registration). */
const registration = (over: Record<string, unknown> = {}) => ({
  unitId: "u-1",
  serial: "RZK-0001",
  registrationStatus: "Registriert",
  contractStatus: "Zugriff auf TI und SIS erlaubt",
  contractId: "VTR-1",
  sisRequested: true,
  dns: {
    dnsServersInt: ["10.0.0.53"],
    dnsDomainVpnZugdInt: "vpn-zugd.example",
    dnsServersTi: ["10.1.0.53", "10.1.0.54"],
    dnsServersSis: ["10.2.0.53"],
    dnsServersBestandsnetze: [],
  },
  mtu: 1500,
  tiTunnel: { state: "up", lastHeartbeat: "2025-01-01T10:00:00.000Z" },
  sisTunnel: { state: "up", lastHeartbeat: "2025-01-01T10:00:00.000Z" },
  blocked: false,
  blockedReason: "",
  lastResult: "OK",
  lastMessage: "",
  registeredAt: "2025-01-01T09:00:00.000Z",
  updatedAt: "2025-01-01T09:00:00.000Z",
  tiAccess: true,
  sisAccess: true,
  tiAccessReasons: [],
  version: "1",
  ...over,
});

const blocked = registration({
  registrationStatus: "Nicht registriert",
  contractStatus: "Kein Zugriff auf TI und SIS",
  tiTunnel: { state: "down", lastHeartbeat: "" },
  sisTunnel: { state: "down", lastHeartbeat: "" },
  blocked: true,
  blockedReason: "Diebstahl",
  tiAccess: false,
  sisAccess: false,
  tiAccessReasons: ["blocked at the VPN-ZugD (Sperrung: Diebstahl)", "not registered at the VPN-ZugD"],
});

const problem = (status: number, code: string, detail: string) => answer(status, { title: code, code, detail }, "application/problem+json");

describe("tigw vpn and tigw sim vpnzugd", () => {
  let gw: FakeGateway;
  before(async () => {
    gw = await fakeGateway({
      "POST /api/v1/units/RZK-0001/vpn/register": () => registration(),
      "POST /api/v1/units/RZK-0009/vpn/register": () => problem(422, "7041", "unknown ContractID VTR-X (registrationStatus=Nicht registriert)"),
      "POST /api/v1/units/RZK-0001/vpn/deregister": () =>
        registration({ registrationStatus: "Nicht registriert", contractStatus: "Kein Zugriff auf TI und SIS", tiAccess: false }),
      "GET /api/v1/units/RZK-0001/vpn": () => registration(),
      "GET /api/v1/units/RZK-0002/vpn": () => blocked,
      "POST /api/v1/units/RZK-0001/vpn/mtu": (r) => registration({ mtu: (r.body as { mtu: number }).mtu }),
      "POST /api/v1/vpn/block": () => blocked,
      "POST /api/v1/vpn/unblock": () => registration({ ...blocked, blocked: false, blockedReason: "" }),
      "GET /api/v1/vpn/registrations": () => ({ registrations: [registration(), { ...blocked, serial: "RZK-0002" }] }),
      "GET /api/v1/sim/vpnzugd": () => ({
        url: "https://127.0.0.1:8443/ProvisioningService",
        contracts: [{ contractId: "VTR-1", customer: "Praxis Eins", sis: true }],
        faults: ["7071"],
        blocks: [{ serial: "RZK-0002", contractId: "VTR-2", reason: "Diebstahl", at: "2025-01-01T11:00:00.000Z" }],
      }),
      "POST /api/v1/sim/vpnzugd/contracts": (r) => ({ customer: "", ...(r.body as object) }),
      "POST /api/v1/sim/vpnzugd/faults": (r) => ({ faults: (r.body as { on: boolean }).on ? ["7071"] : [] }),
    });
    loggedIn(gw.url);
  });
  after(() => gw.close());

  it("register sends the ContractID and the SIS wish, and shows registration, contract status, TI access and DNS", async () => {
    const r = await tigw(gw.url, "vpn", "register", "RZK-0001", "--contract-id", "VTR-1", "--sis");
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(gw.last.body, { contractId: "VTR-1", sis: true });
    assert.equal(gw.last.authorization, "Bearer token-of-op");
    assert.match(r.out, /^RZK-0001: Registriert, Zugriff auf TI und SIS erlaubt/);
    assert.match(r.out, /TI access:\s+yes/);
    assert.match(r.out, /TI tunnel:\s+up \(last heartbeat 2025-01-01T10:00:00\.000Z\)/);
    assert.match(r.out, /DNS_SERVERS_TI:\s+10\.1\.0\.53, 10\.1\.0\.54/);
    assert.match(r.out, /DNS_SERVERS_BESTANDSNETZE:\s+-/);
  });

  it("register without --contract-id is a usage error and sends nothing; a VPN-ZugD refusal exits 1 with its code", async () => {
    const sent = gw.requests.length;
    const missing = await tigw(gw.url, "vpn", "register", "RZK-0001");
    assert.equal(missing.code, 2);
    assert.match(missing.err, /missing --contract-id/);
    assert.equal(gw.requests.length, sent);
    const refused = await tigw(gw.url, "vpn", "register", "RZK-0009", "--contract-id", "VTR-X");
    assert.equal(refused.code, 1);
    assert.match(refused.err, /7041.*unknown ContractID VTR-X/);
    assert.deepEqual(gw.last.body, { contractId: "VTR-X", sis: false }, "no --sis: false");
  });

  it("status of a blocked unit: no TI access with every reason, the Sperrung and down tunnels; -o json is the gateway's answer", async () => {
    const r = await tigw(gw.url, "vpn", "status", "RZK-0002");
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /TI access:\s+NO: blocked at the VPN-ZugD \(Sperrung: Diebstahl\); not registered at the VPN-ZugD/);
    assert.match(r.out, /Sperrung:\s+yes: Diebstahl/);
    assert.match(r.out, /TI tunnel:\s+down\n/);
    assert.match(r.out, /SIS:\s+requested, not granted/);
    const json = await tigw(gw.url, "vpn", "status", "RZK-0002", "-o", "json");
    assert.deepEqual(JSON.parse(json.out), blocked);
  });

  it("deregister, and mtu sends the number; an MTU that is not a number is refused before sending", async () => {
    assert.match((await tigw(gw.url, "vpn", "deregister", "RZK-0001")).out, /^RZK-0001: Nicht registriert/);
    assert.equal(gw.last.path, "/api/v1/units/RZK-0001/vpn/deregister");
    const r = await tigw(gw.url, "vpn", "mtu", "RZK-0001", "1400");
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(gw.last.body, { mtu: 1400 });
    assert.match(r.out, /^RZK-0001: MTU 1400/);
    const sent = gw.requests.length;
    const bad = await tigw(gw.url, "vpn", "mtu", "RZK-0001", "big");
    assert.equal(bad.code, 2);
    assert.match(bad.err, /MTU must be 1500 or 1400, not "big"/);
    assert.equal((await tigw(gw.url, "vpn", "mtu", "RZK-0001")).code, 2, "no MTU at all");
    assert.equal(gw.requests.length, sent);
  });

  it("block sends serial, contract and reason and says TI access ended; unblock says to register again", async () => {
    const sent = gw.requests.length;
    const missing = await tigw(gw.url, "vpn", "block", "--contract-id", "VTR-2");
    assert.equal(missing.code, 2);
    assert.match(missing.err, /missing --serial/);
    assert.equal(gw.requests.length, sent);
    const r = await tigw(gw.url, "vpn", "block", "--serial", "RZK-0001", "--contract-id", "VTR-1", "--reason", "Diebstahl");
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(gw.last.body, { serial: "RZK-0001", contractId: "VTR-1", reason: "Diebstahl" });
    assert.match(r.out, /^RZK-0001 blocked at the VPN-ZugD \(Sperrung\): no TI access/);
    const u = await tigw(gw.url, "vpn", "unblock", "--serial", "RZK-0001", "--contract-id", "VTR-1");
    assert.equal(u.code, 0, u.err);
    assert.deepEqual(gw.last.body, { serial: "RZK-0001", contractId: "VTR-1" });
    assert.match(u.out, /register it again \(tigw vpn register RZK-0001 --contract-id VTR-1\)/);
  });

  it("list: one row per unit with TI access, and the Sperrung named", async () => {
    const r = await tigw(gw.url, "vpn", "list");
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /RZK-0001\s+Registriert\s+VTR-1\s+Zugriff auf TI und SIS erlaubt\s+yes\s+yes\s+up\s+OK/);
    assert.match(r.out, /RZK-0002\s+Nicht registriert\s+VTR-1\s+Kein Zugriff auf TI und SIS\s+NO \(Sperrung\)\s+no\s+down/);
  });

  it("an unknown vpn verb is a usage error", async () => {
    const r = await tigw(gw.url, "vpn", "frobnicate");
    assert.equal(r.code, 2);
    assert.match(r.err, /unknown command: tigw vpn frobnicate/);
  });

  it("sim vpnzugd: show, contract add with SIS, fault on/off; a fault state other than on|off is a usage error", async () => {
    const s = await tigw(gw.url, "sim", "vpnzugd", "show");
    assert.equal(s.code, 0, s.err);
    assert.match(s.out, /Faults:\s+7071/);
    assert.match(s.out, /VTR-1\s+Praxis Eins\s+TI und SIS/);
    assert.match(s.out, /RZK-0002\s+VTR-2\s+2025-01-01T11:00:00\.000Z\s+Diebstahl/);
    const c = await tigw(gw.url, "sim", "vpnzugd", "contract", "add", "--id", "VTR-3", "--customer", "Praxis Drei", "--sis");
    assert.equal(c.code, 0, c.err);
    assert.deepEqual(gw.last.body, { contractId: "VTR-3", customer: "Praxis Drei", sis: true });
    assert.match(c.out, /^contract VTR-3 at the VPN-ZugD: Zugriff auf TI und SIS/);
    const on = await tigw(gw.url, "sim", "vpnzugd", "fault", "7071", "on");
    assert.deepEqual([on.code, gw.last.body, on.out], [0, { fault: "7071", on: true }, "VPN-ZugD faults now: 7071"]);
    const off = await tigw(gw.url, "sim", "vpnzugd", "fault", "7071", "off");
    assert.deepEqual([off.code, gw.last.body, off.out], [0, { fault: "7071", on: false }, "VPN-ZugD faults now: -"]);
    const sent = gw.requests.length;
    const bad = await tigw(gw.url, "sim", "vpnzugd", "fault", "7071", "maybe");
    assert.equal(bad.code, 2);
    assert.match(bad.err, /tigw sim vpnzugd fault CODE on\|off/);
    assert.equal((await tigw(gw.url, "sim", "vpnzugd", "contract", "add")).code, 2, "no --id");
    assert.equal(gw.requests.length, sent);
  });
});
