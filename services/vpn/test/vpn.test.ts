import assert from "node:assert/strict";
import { X509Certificate, randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { VpnServiceClient } from "@tigw/contracts/vpn/v1/vpn";
import { VsdmServiceClient } from "@tigw/contracts/vsdm/v1/vsdm";
import { createClient, type EventBus, type Sql } from "@tigw/platform";
import { freshContext, refusal, serviceSetups } from "@tigw/platform/testing";
import { generatePopulation } from "@tigw/vsdm";
import { rpc, setUpPractice, UNIT, type Practice } from "@tigw/vsdm/testing";
import { startVpn, type RunningVpn } from "../src/index.js";

/**
 * The vpn service with the simulated VPN-ZugD, over gRPC, against tenancy, hsm, card-terminal
 * and vsdm as real services (embedded; vpn's own store and bus also on PostgreSQL and Kafka when
 * DATABASE_URL and KAFKA_BROKERS are set). The practice's unit was produced 5 years minus 20
 * days ago, so moving the simulated clock 30 days lets its C.NK.VPN expire (the last test).
 */
type Registration = {
  unitId: string;
  registrationStatus: string;
  contractStatus: string;
  contractId: string;
  dns: { dnsServersTi: string[]; dnsServersSis: string[]; dnsServersInt: string[]; dnsDomainVpnZugdInt: string; dnsServersBestandsnetze: string[] };
  mtu: number;
  tiTunnel: { state: string; lastHeartbeat: string };
  sisTunnel: { state: string };
  blocked: boolean;
  lastResult: string;
  tiAccess: boolean;
  sisAccess: boolean;
  tiAccessReasons: string[];
};

/** Timeouts for a loaded CI machine: a slow OCSP answer must not look like an unreachable one. */
const SLOW_MACHINE = { ocspTimeoutMs: 120_000, callTimeoutMs: 240_000 };
const producedOn = new Date(Date.now() - 5 * 365.25 * 86_400_000 + 20 * 86_400_000).toISOString().slice(0, 10);
const ordinary = generatePopulation(2000, 1).find(
  (p) => p.card.generation !== "G1" && p.card.certificate === "valid" && !p.card.healthApplicationBlocked && !p.card.vsdInconsistent,
)!;

for (const setup of serviceSetups()) {
  describe(`vpn and the VPN-ZugD (${setup.store.name} store, ${setup.bus.name} bus)`, () => {
    let practice: Practice;
    let vpn: RunningVpn;
    let vpnPort = 0;
    let client: VpnServiceClient;
    let sql: Sql;
    let bus: EventBus;
    const context = freshContext("vpn");
    const start = async () => {
      vpn = await startVpn({
        sql,
        bus,
        clock: practice.hsm.hsm.clock,
        tenancyAddress: practice.tenancy.address,
        hsmAddress: practice.hsm.address,
        cardTerminalAddress: practice.cardTerminal.address,
        masterKey: randomBytes(32),
        context,
        heartbeatMs: 3_600_000,
        ...SLOW_MACHINE,
        // A restart keeps the address, as a Kubernetes Service does: vsdm asks vpn's rule there.
        grpc: { host: "127.0.0.1", port: vpnPort },
      });
      vpnPort = Number(vpn.address.split(":").at(-1));
      client = createClient(VpnServiceClient, vpn.address, { deadlineMs: 300_000 });
      // The channel to this address may still be backing off from while vpn was down.
      await new Promise<void>((ok, fail) => client.waitForReady(Date.now() + 30_000, (e) => (e ? fail(e) : ok())));
    };
    const status = () => rpc<{ registration: Registration }>(client, "getRegistration", { unit: UNIT }).then((r) => r.registration);
    const register = (contractId: string, sis = false) =>
      rpc<{ registration: Registration }>(client, "register", { unit: UNIT, contractId, sis }).then((r) => r.registration);
    const fault = (f: string, on: boolean) => rpc(client, "setFault", { fault: f, on });
    /** ReadVSD with online check of an ordinary insured person: the Prüfungsnachweis result. */
    const readResult = async () => {
      const { c } = practice.clients;
      const v = createClient(VsdmServiceClient, practice.vsdm.address, { deadlineMs: 300_000 });
      const egk = await rpc<{ iccsn: string; certSerial: string }>(v, "prepareEgk", { kvnr: ordinary.kvnr, pruefkarte: 0 });
      const handle = await practice.insert(1, "EGK", egk.iccsn, egk.certSerial);
      try {
        const r = await rpc<{ result: number }>(v, "readVsd", {
          unit: UNIT,
          context: { mandantId: "M1", clientSystemId: "PVS1", workplaceId: "AP1", userId: "" },
          ehcHandle: handle,
          hpcHandle: practice.smcbHandle,
          performOnlineCheck: true,
          readOnlineReceipt: true,
        });
        return r.result;
      } finally {
        await rpc(c, "removeCard", { ctId: "KT-VSD-1", slot: 1 });
        v.close();
      }
    };

    before(async () => {
      practice = await setUpPractice({ producedOn });
      sql = await setup.store.sql();
      bus = await setup.bus.bus();
      await start();
      await practice.restartVsdm({ vpnAddress: vpn.address, ocspTimeoutMs: 120_000, fachdienst: { timeoutMs: 120_000 } });
      await rpc(practice.clients.c, "verifyPin", { cardHandle: practice.smcbHandle, pin: "123456", fromPinPad: false });
      await rpc(client, "addContract", { contractId: "VTR-TI-1", customer: "Praxis M1", sis: false });
      await rpc(client, "addContract", { contractId: "VTR-SIS-1", customer: "Praxis M1", sis: true });
    });
    after(async () => {
      client.close();
      await vpn.stop();
      await practice.stop();
      await bus.close();
    });

    it("TI access is off by default: an unregistered unit's online check gives Prüfungsnachweis 5", async () => {
      const ti = await rpc<{ tiAccess: boolean; reasons: string[] }>(client, "getTiAccess", { unit: UNIT });
      assert.equal(ti.tiAccess, false);
      assert.match(ti.reasons.join(), /not registered at the VPN-ZugD/);
      assert.equal(await readResult(), 5);
    });

    it("registers over mutual TLS with TI and SIS: Registriert, DNS parameters, tunnels up, and the online check works", async () => {
      const r = await register("VTR-SIS-1", true);
      assert.equal(r.registrationStatus, "Registriert");
      assert.equal(r.contractStatus, "Zugriff auf TI und SIS erlaubt");
      assert.deepEqual(r.dns.dnsServersTi, ["10.97.0.53", "10.97.1.53"]);
      assert.deepEqual(r.dns.dnsServersSis, ["10.98.0.53"]);
      assert.ok(r.dns.dnsDomainVpnZugdInt && r.dns.dnsServersInt.length && r.dns.dnsServersBestandsnetze.length);
      assert.deepEqual([r.tiAccess, r.sisAccess, r.tiTunnel.state, r.sisTunnel.state, r.mtu], [true, true, "up", "up", 1500]);
      assert.ok(r.tiTunnel.lastHeartbeat);
      assert.equal(await readResult(), 2);
    });

    it("MTU 1400 for DS-Lite is accepted, 1492 refused with a message", async () => {
      assert.equal((await rpc<{ registration: Registration }>(client, "setMtu", { unit: UNIT, mtu: 1400 })).registration.mtu, 1400);
      const e = await refusal(rpc(client, "setMtu", { unit: UNIT, mtu: 1492 }));
      assert.equal(e.code, "INVALID_MTU");
      assert.match(e.message, /1500.*1400.*DS-Lite/);
      await rpc(client, "setMtu", { unit: UNIT, mtu: 1500 });
    });

    /** A registered unit's re-registration refused with `code` (provoked after the first): unregistered afterwards, no TI access. */
    const refusedWith = async (code: string, contractId = "VTR-TI-1", provoke = async () => undefined as unknown) => {
      await register("VTR-TI-1");
      assert.equal((await status()).tiAccess, true);
      await provoke();
      const e = await refusal(register(contractId));
      assert.equal(e.code, code, e.message);
      const s = await status();
      assert.deepEqual(
        [s.registrationStatus, s.contractStatus, s.lastResult, s.tiAccess, s.tiTunnel.state],
        ["Nicht registriert", "Kein Zugriff auf TI und SIS", code, false, "down"],
      );
      return e;
    };
    for (const code of ["7011", "7031", "7061", "7071", "7091"]) {
      it(`${code} from the VPN-ZugD (switched on at runtime): the failed re-registration leaves the unit unregistered`, async () => {
        try {
          await refusedWith(code, "VTR-TI-1", () => fault(code, true));
        } finally {
          await fault(code, false);
        }
      });
    }

    it("7041: an unknown ContractID is refused and leaves the unit unregistered", async () => {
      const e = await refusedWith("7041", "VTR-UNKNOWN");
      assert.match(e.message, /unknown ContractID VTR-UNKNOWN/);
    });

    it("7081: a failed deregistration leaves the unit registered; without the fault it deregisters", async () => {
      await register("VTR-TI-1");
      await fault("7081", true);
      try {
        assert.equal((await refusal(rpc(client, "deregister", { unit: UNIT }))).code, "7081");
      } finally {
        await fault("7081", false);
      }
      const s = await status();
      assert.deepEqual([s.registrationStatus, s.lastResult, s.tiAccess], ["Registriert", "7081", true]);
      const d = (await rpc<{ registration: Registration }>(client, "deregister", { unit: UNIT })).registration;
      assert.deepEqual([d.registrationStatus, d.tiAccess], ["Nicht registriert", false]);
    });

    it("a VPN-ZugD that cannot be reached: registration fails, the unit stays without TI access", async () => {
      await fault("unreachable", true);
      try {
        assert.equal((await refusal(register("VTR-TI-1"))).code, "PEER_UNREACHABLE");
      } finally {
        await fault("unreachable", false);
      }
      assert.equal((await status()).tiAccess, false);
    });

    it("Sperrung by serial and contract ends TI access (ReadVSD: 5); unblocking alone does not restore it, a new registration does", async () => {
      await register("VTR-TI-1");
      assert.equal(await readResult(), 2);
      const wrong = await refusal(rpc(client, "block", { serial: UNIT, contractId: "VTR-NOPE", reason: "Diebstahl" }));
      assert.equal(wrong.code, "7041");
      const b = (await rpc<{ registration: Registration }>(client, "block", { serial: UNIT, contractId: "VTR-TI-1", reason: "Diebstahl" })).registration;
      assert.deepEqual([b.blocked, b.tiAccess, b.registrationStatus], [true, false, "Nicht registriert"]);
      assert.match(b.tiAccessReasons.join(), /Sperrung: Diebstahl/);
      assert.equal(await readResult(), 5);
      assert.equal((await refusal(register("VTR-TI-1"))).code, "UNIT_BLOCKED");
      const u = (await rpc<{ registration: Registration }>(client, "unblock", { serial: UNIT, contractId: "VTR-TI-1" })).registration;
      assert.deepEqual([u.blocked, u.tiAccess], [false, false]);
      assert.equal((await register("VTR-TI-1")).tiAccess, true);
      assert.equal(await readResult(), 2);
    });

    it("a restart keeps the registration and adds no events (the heartbeat is not an event); while vpn is down ReadVSD gives 5", async () => {
      const before = await status();
      const events = () => vpn.vpn.store.readStream(`reg-${before.unitId}`);
      const n = (await events()).version;
      await vpn.vpn.heartbeat();
      client.close();
      await vpn.stop();
      // While vpn is down, the TI-access rule cannot be asked: a card read still answers, as a
      // Konnektor's without a tunnel does (Prüfungsnachweis 5), instead of failing.
      assert.equal(await readResult(), 5);
      await start(); // on the same database and address
      const s = await status();
      assert.deepEqual([s.registrationStatus, s.contractId, s.tiAccess], ["Registriert", "VTR-TI-1", true]);
      await vpn.vpn.heartbeat();
      assert.equal((await events()).version, n);
      assert.equal((await status()).tiTunnel.state, "up");
    });

    it("a 5-year-old unit: its C.NK.VPN expires on the simulated clock, re-registration gets 7021, TI access ends, ReadVSD gives 5", async () => {
      assert.equal((await status()).tiAccess, true);
      assert.equal(await readResult(), 2, "vsdm asks vpn's rule again after vpn's restart");
      await rpc(practice.clients.h, "advanceClock", { duration: "30d" });
      const ti = await rpc<{ tiAccess: boolean; reasons: string[] }>(client, "getTiAccess", { unit: UNIT });
      assert.equal(ti.tiAccess, false);
      assert.match(ti.reasons.join(), /C\.NK\.VPN expired/);
      const e = await refusal(register("VTR-TI-1"));
      assert.equal(e.code, "7021");
      assert.match(e.message, /C\.NK\.VPN is not valid/);
      assert.equal((await status()).registrationStatus, "Nicht registriert");
      assert.equal(await readResult(), 5);
      const cert = new X509Certificate(
        (
          await rpc<{ securityModule: { identities: { name: string; certificate: { pem: string } }[] } }>(practice.clients.h, "getSecurityModule", {
            unitId: (await status()).unitId,
          })
        ).securityModule.identities[0]!.certificate.pem,
      );
      assert.ok(new Date(cert.validTo) > new Date(), "still valid at the real time: the TLS layer let it through, the VPN-ZugD's clock refused it");
    });
  });
}
