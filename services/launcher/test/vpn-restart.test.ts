import assert from "node:assert/strict";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { freePort, ok, startEmbedded, stopProcess, tigw } from "./support.js";
import { tempDir } from "@tigw/platform/testing";

interface Registration {
  serial: string;
  registrationStatus: string;
  contractStatus: string;
  contractId: string;
  mtu: number;
  blocked: boolean;
  blockedReason: string;
  tiAccess: boolean;
  sisAccess: boolean;
  tiAccessReasons: string[];
  /** The unit's registration stream version: how many registration events it has. */
  version: number | string;
}

/**
 * VPN-ZugD registrations survive a SIGKILL of the embedded process: the registered demo unit
 * (TI+SIS, MTU changed) and the one under Sperrung come back as they were, the demo seeding on
 * the second `--demo` start records no second registration, and the simulated VPN-ZugD still
 * knows the contracts and the Sperrung (unblock + register works once, adding exactly its events).
 */
describe("vpn: registration state survives a SIGKILL, without duplicate registration events", () => {
  const dataDir = tempDir("tigw-vpn-kill-");
  const work = tempDir("tigw-vpn-kill-work-");
  let stop: (() => Promise<void>) | undefined;
  after(async () => stop?.());

  it("keeps registration, contract status, MTU and Sperrung across a SIGKILL and adds no events on the restart", async () => {
    const port = await freePort();
    // The OCSP responder's address is written into the gSMC-K certificates on the first start; as
    // in production it must stay the same across the restart (a fresh port 0 would orphan it).
    const ocspPort = String(await freePort());
    const start = async () => {
      const p = await startEmbedded({ dataDir, adminPassword: "vpn-admin-password", port, args: ["--demo"], env: { TIGW_OCSP_PORT: ocspPort } });
      stop = () => stopProcess(p.child);
      return p;
    };
    const env = { TIGW_URL: `http://127.0.0.1:${port}`, TIGW_CONFIG_DIR: join(work, "config") };
    const t = (...args: string[]) => tigw(env, ...args);
    const status = async (unit: string) => JSON.parse(ok(await t("vpn", "status", unit, "-o", "json"), `vpn status ${unit}`)) as Registration;
    const events = async (unit: string) => Number((await status(unit)).version);

    const first = await start();
    ok(await t("login", "--user", "admin", "--password", "vpn-admin-password"), "login");
    const sis = await status("RZK-DEMO-0002");
    assert.deepEqual(
      [sis.registrationStatus, sis.contractId, sis.contractStatus, sis.tiAccess, sis.sisAccess],
      ["Registriert", "VTR-DEMO-0002", "Zugriff auf TI und SIS erlaubt", true, true],
    );
    assert.match(ok(await t("vpn", "mtu", "RZK-DEMO-0002", "1400"), "mtu"), /MTU 1400/);
    assert.match(
      ok(await t("vpn", "block", "--serial", "RZK-DEMO-0001", "--contract-id", "VTR-DEMO-0001", "--reason", "Diebstahl"), "block"),
      /blocked at the VPN-ZugD/,
    );
    const before = { sis: await events("RZK-DEMO-0002"), blocked: await events("RZK-DEMO-0001") };
    assert.ok(before.sis >= 2 && before.blocked >= 2, `registration + MTU, registration + Sperrung: ${JSON.stringify(before)}`);

    await stopProcess(first.child, "SIGKILL");
    const second = await start();
    assert.match(second.output(), /demo fleet already present/, "the second --demo start seeds nothing");

    const kept = await status("RZK-DEMO-0002");
    assert.deepEqual(
      [kept.registrationStatus, kept.contractId, kept.contractStatus, kept.mtu, kept.tiAccess, kept.sisAccess],
      ["Registriert", "VTR-DEMO-0002", "Zugriff auf TI und SIS erlaubt", 1400, true, true],
    );
    const blocked = await status("RZK-DEMO-0001");
    assert.deepEqual([blocked.blocked, blocked.blockedReason, blocked.tiAccess], [true, "Diebstahl", false]);
    assert.match(blocked.tiAccessReasons.join("; "), /blocked at the VPN-ZugD \(Sperrung: Diebstahl\)/);
    assert.deepEqual({ sis: await events("RZK-DEMO-0002"), blocked: await events("RZK-DEMO-0001") }, before, "no registration event added by the restart");
    const list = JSON.parse(ok(await t("vpn", "list", "-o", "json"), "vpn list")) as { registrations: Registration[] };
    for (const serial of ["RZK-DEMO-0001", "RZK-DEMO-0002"])
      assert.equal(list.registrations.filter((r) => r.serial === serial).length, 1, `${serial} listed once`);

    // The simulated VPN-ZugD kept its Sperrung and contracts: register is refused until unblocked, then works.
    const refused = await t("vpn", "register", "RZK-DEMO-0001", "--contract-id", "VTR-DEMO-0001");
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /UNIT_BLOCKED/);
    ok(await t("vpn", "unblock", "--serial", "RZK-DEMO-0001", "--contract-id", "VTR-DEMO-0001"), "unblock");
    assert.match(ok(await t("vpn", "register", "RZK-DEMO-0001", "--contract-id", "VTR-DEMO-0001"), "register again"), /Registriert, Zugriff auf TI erlaubt/);
    const back = await status("RZK-DEMO-0001");
    assert.deepEqual([back.tiAccess, Number(back.version)], [true, before.blocked + 2], "exactly the unblock and the registration were added");
  });
});
