import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { gunzipSync } from "node:zlib";
import { base32Decode, totpAt } from "@tigw/gateway";
import { schemaErrors } from "@tigw/vsdm/testing";
import { freePort, ok, pruefkarteCheck, startEmbedded, stopProcess, tigw } from "./support.js";
import { tempDir } from "@tigw/platform/testing";

/**
 * As an operator would: start ti-gateway in embedded mode as a child process, drive it only with
 * the tigw CLI, kill it with SIGKILL, start it again and find everything as before.
 */
describe("end to end: embedded start driven by the tigw CLI, surviving SIGKILL", () => {
  const dataDir = tempDir("tigw-e2e-");
  const work = tempDir("tigw-e2e-work-");
  let stop: (() => Promise<void>) | undefined;
  after(async () => stop?.());

  const start = async (port: number) => {
    const p = await startEmbedded({ dataDir, adminPassword: "", port });
    stop = () => stopProcess(p.child);
    return p;
  };
  it("serves the API, the CLI flows work, and all state survives a SIGKILL", async () => {
    const port = await freePort();
    const env = { TIGW_URL: `http://127.0.0.1:${port}`, TIGW_CONFIG_DIR: join(work, "config") };
    const first = await start(port);
    const password = /user admin, password (\S+)\s+\(shown once\)/.exec(first.output())?.[1];
    assert.ok(password, `the first start prints the generated admin password:\n${first.output()}`);

    assert.equal((await tigw(env, "unit", "list")).code, 1, "not logged in yet");
    const wrong = await tigw(env, "login", "--user", "admin", "--password", "not-the-password");
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /INVALID_CREDENTIALS/);
    ok(await tigw(env, "login", "--user", "admin", `--password=${password}`), "login");

    ok(await tigw(env, "unit", "create", "--serial", "RZK-E2E-0001", "--profile", "rz"), "create rz");
    ok(
      await tigw(env, "unit", "create", "--serial", "EBK-E2E-0002", "--profile", "einbox", "--firmware", "5.50.3:2.0.0", "--produced", "2020-11-03"),
      "create einbox",
    );
    const bad = await tigw(env, "unit", "create", "--serial", "RZK-E2E-0003", "--profile", "tower");
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /UNKNOWN_PROFILE.*field=profile/);
    for (let i = 1; i <= 10; i++)
      ok(await tigw(env, "mandant", "add", "RZK-E2E-0001", "--id", `praxis-${i}`, "--name", `Praxis ${i}`, "--bsnr", `${100000000 + i}`), `mandant ${i}`);
    const eleventh = await tigw(env, "mandant", "add", "RZK-E2E-0001", "--id", "praxis-11", "--name", "Praxis 11");
    assert.equal(eleventh.code, 1);
    assert.match(eleventh.stderr, /error MANDANT_LIMIT_REACHED: .*limit=10/);

    const key = join(dataDir, "vendor", "demo-vendor.key.pem");
    const older = join(work, "older-licence.json");
    ok(await tigw(env, "licence", "issue", "--serial", "EBK-E2E-0002", "--kt-per-compute-unit", "90", "--key", key, "--out", older), "older licence issue");
    const licence = join(work, "licence.json");
    ok(
      await tigw(env, "licence", "issue", "--serial", "EBK-E2E-0002", "--kt-per-compute-unit", "75", "--feature", "LZV", "--key", key, "--out", licence),
      "licence issue",
    );
    const tampered = join(work, "tampered.json");
    writeFileSync(tampered, readFileSync(licence, "utf8").replace('"ktPerComputeUnit": 75', '"ktPerComputeUnit": 500'));
    const refused = await tigw(env, "licence", "import", "EBK-E2E-0002", tampered);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /error LICENCE_INVALID/);
    const mismatch = await tigw(env, "licence", "import", "RZK-E2E-0001", licence);
    assert.match(mismatch.stderr, /error LICENCE_SERIAL_MISMATCH/);
    ok(await tigw(env, "licence", "import", "EBK-E2E-0002", licence), "licence import");
    const rollback = await tigw(env, "licence", "import", "EBK-E2E-0002", older);
    assert.equal(rollback.code, 1);
    assert.match(rollback.stderr, /error LICENCE_OUTDATED: licence \S+ was issued \S+, not after the unit's current licence/);
    assert.match(
      (await tigw(env, "unit", "show", "EBK-E2E-0002")).stdout,
      /75 KTs per compute unit, features LZV \(licence \S+ issued \d{4}-\d\d-\d\dT/,
      "unit show names the current licence's issue time",
    );

    const before = JSON.parse((await tigw(env, "unit", "list", "-o", "json")).stdout) as { units: unknown[] };
    assert.equal(before.units.length, 2);
    const table = await tigw(env, "unit", "list");
    assert.match(table.stdout, /RZK-E2E-0001\s+rz\s+provisioned\s+5\.50\.4:2\.0\.0\s+\d{4}-\d\d-\d\d\s+10\/10\s+0\/50 0\/50/);
    assert.match(table.stdout, /EBK-E2E-0002\s+einbox\s+provisioned\s+5\.50\.3:2\.0\.0\s+2020-11-03\s+0\/10\s+0\/75/);

    await stopProcess(first.child, "SIGKILL");
    const second = await start(port);
    assert.doesNotMatch(second.output(), /shown once/, "the admin password is shown on the first start only");

    // The stored token still works: the signing secret survived with the accounts.
    const after = JSON.parse((await tigw(env, "unit", "list", "-o", "json")).stdout) as { units: unknown[] };
    assert.deepEqual(after.units, before.units);
    const mandanten = JSON.parse((await tigw(env, "mandant", "list", "RZK-E2E-0001", "-o", "json")).stdout) as { mandanten: { mandantId: string }[] };
    assert.deepEqual(mandanten.mandanten.map((m) => m.mandantId).sort(), Array.from({ length: 10 }, (_, i) => `praxis-${i + 1}`).sort());
    const einbox = JSON.parse((await tigw(env, "unit", "show", "EBK-E2E-0002", "-o", "json")).stdout) as {
      licence: { ktPerComputeUnit: number; features: string[] };
    };
    assert.deepEqual([einbox.licence.ktPerComputeUnit, einbox.licence.features], [75, ["LZV"]]);
    ok(await tigw(env, "unit", "activate", "RZK-E2E-0001"), "activate after restart");
    const clock = await tigw(env, "clock", "advance", "30d");
    assert.equal(clock.code, 1);
    assert.match(clock.stderr, /CLOCK_NOT_SIMULATED/);

    // Card terminals with the KT simulator, an SMC-B with its PIN, unpairing.
    const sim = await tigw(env, "sim", "kt", "--unit", "EBK-E2E-0002", "--mandant", "praxis-e2e", "--count", "3", "--prefix", "E2E-KT-");
    assert.equal(sim.code, 1, "the Mandant must exist in tenancy first");
    assert.match(sim.stderr, /error 4004/);
    ok(await tigw(env, "mandant", "add", "EBK-E2E-0002", "--id", "praxis-e2e", "--name", "Praxis E2E"), "mandant on einbox");
    assert.match(
      ok(await tigw(env, "sim", "kt", "--unit", "EBK-E2E-0002", "--mandant", "praxis-e2e", "--count", "3", "--prefix", "E2E-KT-"), "sim kt"),
      /^3 terminals paired and connected, 0 refused/,
    );
    const kts = JSON.parse(ok(await tigw(env, "kt", "list", "--unit", "EBK-E2E-0002", "--mandant", "praxis-e2e", "-o", "json"), "kt list")) as {
      terminals: { ctId: string; correlation: string; connected: boolean }[];
    };
    assert.deepEqual(
      kts.terminals.map((t) => [t.ctId, t.correlation, t.connected]),
      [
        ["E2E-KT-001", "aktiv", true],
        ["E2E-KT-002", "aktiv", true],
        ["E2E-KT-003", "aktiv", true],
      ],
    );
    const inserted = JSON.parse(
      ok(await tigw(env, "sim", "card", "insert", "E2E-KT-001", "--type", "SMC-B", "--slot", "2", "--pin", "123456", "-o", "json"), "insert"),
    ) as { cardHandle: string };
    const wrongPin = await tigw(env, "card", "pin", "verify", inserted.cardHandle, "--pin", "000000");
    assert.deepEqual([wrongPin.code, wrongPin.stdout.trim()], [1, "PIN REJECTED (2 tries left)"]);
    assert.match(ok(await tigw(env, "card", "pin", "verify", inserted.cardHandle, "--pin", "123456"), "pin"), /PIN OK/);
    assert.match(ok(await tigw(env, "card", "list", "EBK-E2E-0002"), "cards"), /E2E-KT-001\s+2\s+SMC-B/);
    ok(await tigw(env, "kt", "unpair", "E2E-KT-003", "--reason", "Diebstahl"), "unpair");
    const unit = JSON.parse(ok(await tigw(env, "unit", "show", "EBK-E2E-0002", "-o", "json"), "unit")) as { computeUnits: { ktsUsed: number }[] };
    assert.equal(unit.computeUnits[0]!.ktsUsed, 2, "the unpaired terminal's slot is free again");

    // Operator accounts: a second admin with TOTP, a password change, logout, removal.
    const dana = { ...env, TIGW_CONFIG_DIR: join(work, "config-dana") };
    ok(await tigw(env, "user", "add", "--user", "dana", "--role", "admin", "--password", "dana-password-1"), "user add");
    ok(await tigw(dana, "login", "--user", "dana", "--password", "dana-password-1"), "dana login");
    const enrol = JSON.parse(ok(await tigw(dana, "totp", "enroll", "-o", "json"), "totp enroll")) as { secret: string };
    const secret = base32Decode(enrol.secret);
    ok(await tigw(dana, "totp", "confirm", totpAt(secret, Date.now())), "totp confirm");
    const noCode = await tigw(dana, "login", "--user", "dana", "--password", "dana-password-1");
    assert.match(noCode.stderr, /TOTP_REQUIRED/);
    ok(await tigw(dana, "login", "--user", "dana", "--password", "dana-password-1", "--totp", totpAt(secret, Date.now() + 30_000)), "login with TOTP");
    ok(await tigw(dana, "passwd", "--password", "dana-password-1", "--new-password", "dana-password-2"), "passwd");
    ok(await tigw(dana, "unit", "list"), "the new token is stored");
    assert.match(ok(await tigw(env, "user", "list"), "user list"), /dana\s+admin\s+yes/);
    ok(await tigw(dana, "logout"), "logout");
    ok(await tigw(env, "user", "remove", "dana"), "user remove");
    const removed = await tigw(env, "user", "remove", "admin");
    assert.match(removed.stderr, /LAST_ADMIN/, "the last admin stays");
  });
});

/**
 * The certificate story of the hsm issue, as an operator tells it: a unit with an old production
 * date, its expiry in the fleet view, simulated time advanced, the warnings, LZV where allowed,
 * Sperrung; only the CLI, on the one-command start.
 */
describe("end to end: gSMC-K expiry, LZV and Sperrung through the tigw CLI (simulated clock)", () => {
  const dataDir = tempDir("tigw-e2e-hsm-");
  const work = tempDir("tigw-e2e-hsm-work-");
  let stop: (() => Promise<void>) | undefined;
  after(async () => stop?.());
  it("shows the expiry coming, warns at 180 and 90 days, refuses LZV until licensed, extends by LZV, refuses it for a 2021 unit, and revokes", async () => {
    const p = await startEmbedded({ dataDir, adminPassword: "e2e-admin-password", env: { TIGW_CLOCK: "simulated", TIGW_CLOCK_START: "2025-03-01T00:00:00Z" } });
    stop = () => stopProcess(p.child);
    const port = p.port;
    const env = { TIGW_URL: `http://127.0.0.1:${port}`, TIGW_CONFIG_DIR: join(work, "config") };
    ok(await tigw(env, "login", "--user", "admin", "--password", "e2e-admin-password"), "login");
    ok(await tigw(env, "unit", "create", "--serial", "EBK-OLD-0001", "--profile", "einbox", "--produced", "2020-07-15"), "old unit");
    ok(await tigw(env, "unit", "create", "--serial", "EBK-NEW-0002", "--profile", "einbox", "--produced", "2021-04-01"), "newer unit");
    // The gSMC-K is provisioned from tenancy's event: wait for it.
    for (let i = 0; i < 100 && (await tigw(env, "unit", "certs", "EBK-NEW-0002")).code !== 0; i++) await new Promise((r) => setTimeout(r, 200));

    assert.match(ok(await tigw(env, "fleet"), "fleet"), /EBK-OLD-0001 .* 2025-07-15 \(136 d\)/);
    const certs = JSON.parse(ok(await tigw(env, "unit", "certs", "EBK-OLD-0001", "-o", "json"), "certs")) as {
      identities: { name: string; warnings: number[]; certificate: { notAfter: string } }[];
    };
    assert.deepEqual(
      certs.identities.map((i) => [i.name, i.certificate.notAfter.slice(0, 10), i.warnings]),
      [
        ["C.NK.VPN", "2025-07-15", [180]],
        ["C.AK.AUT", "2025-07-15", [180]],
        ["C.SAK.AUT", "2025-07-15", [180]],
      ],
    );

    ok(await tigw(env, "clock", "advance", "50d"), "advance to 86 days before expiry");
    const expiries = JSON.parse(ok(await tigw(env, "fleet", "expiries", "--within", "90d", "-o", "json"), "expiries")) as {
      expiries: { serial: string; daysToExpiry: number; exchangeDue: boolean; lzvReason: string }[];
    };
    assert.deepEqual(
      expiries.expiries.map((e) => [e.serial, e.daysToExpiry, e.exchangeDue, e.lzvReason]),
      [["EBK-OLD-0001", 86, true, "LZV_NOT_LICENSED"]],
    );
    const warned = JSON.parse(ok(await tigw(env, "unit", "certs", "EBK-OLD-0001", "-o", "json"), "certs")) as { identities: { warnings: number[] }[] };
    assert.deepEqual(warned.identities[0]!.warnings, [180, 90]);

    const refused = await tigw(env, "unit", "lzv", "EBK-OLD-0001");
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /error LZV_NOT_LICENSED/);
    const licence = join(work, "lzv.json");
    ok(
      await tigw(
        env,
        "licence",
        "issue",
        "--serial",
        "EBK-OLD-0001",
        "--kt-per-compute-unit",
        "50",
        "--feature",
        "LZV",
        "--key",
        join(dataDir, "vendor", "demo-vendor.key.pem"),
        "--out",
        licence,
      ),
      "issue",
    );
    ok(await tigw(env, "licence", "import", "EBK-OLD-0001", licence), "import");
    for (
      let i = 0;
      i < 100 && !(JSON.parse(ok(await tigw(env, "unit", "certs", "EBK-OLD-0001", "-o", "json"), "certs")) as { lzvLicensed: boolean }).lzvLicensed;
      i++
    )
      await new Promise((r) => setTimeout(r, 200));
    assert.match(ok(await tigw(env, "unit", "lzv", "EBK-OLD-0001"), "lzv"), /valid until 2025-12-31/);

    ok(await tigw(env, "clock", "advance", "60d"), "advance");
    const newer = await tigw(env, "unit", "lzv", "EBK-NEW-0002");
    assert.match(newer.stderr, /error LZV_NOT_ELIGIBLE/);
    assert.match(ok(await tigw(env, "unit", "revoke", "EBK-NEW-0002", "--reason", "keyCompromise"), "revoke"), /TI access off/);
    const after = JSON.parse(ok(await tigw(env, "unit", "certs", "EBK-NEW-0002", "-o", "json"), "certs")) as {
      tiAccess: boolean;
      identities: { certificate: { ocspStatus: string } }[];
    };
    assert.equal(after.tiAccess, false);
    assert.ok(after.identities.every((i) => i.certificate.ocspStatus === "revoked"));
    assert.match(ok(await tigw(env, "clock", "show"), "clock"), /^2025-06-19T00:00:00\.000Z \(simulated clock\)/);
  });
});

/** Seed 004's technician check on the one-command start, only through the tigw CLI. */
describe("end to end: the Prüfkarte check of seed 004 through the tigw CLI", () => {
  const dataDir = tempDir("tigw-e2e-vsd-");
  const work = tempDir("tigw-e2e-vsd-work-");
  let stop: (() => Promise<void>) | undefined;
  after(async () => stop?.());
  it("pairs a terminal, unlocks the SMC-B, inserts Prüfkarte 0001, reads: the fictitious identity, result 3 and the protocol entry", async () => {
    const p = await startEmbedded({ dataDir, adminPassword: "e2e-admin-password" });
    stop = () => stopProcess(p.child);
    const port = p.port;
    const env = { TIGW_URL: `http://127.0.0.1:${port}`, TIGW_CONFIG_DIR: join(work, "config") };
    const t = (...args: string[]) => tigw(env, ...args);
    ok(await t("login", "--user", "admin", "--password", "e2e-admin-password"), "login");
    const { egkHandle, smcbHandle, readOutput: out } = await pruefkarteCheck(t, "RZK-PRAXIS-01");
    assert.match(out, /Name:\s+Dienstleister vor Ort/);
    assert.match(out, /Geburtsdatum:\s+01\.01\.1980/);
    assert.match(out, /Anschrift:\s+Friedrichstraße 136, 10117 Berlin/);
    assert.match(out, /Kostenträger:\s+109500969 Test GKV-SV/);
    assert.match(out, /Prüfungsnachweis: 3 \(update technically impossible\)/);
    assert.match(ok(await t("vsd", "log", "RZK-PRAXIS-01"), "log"), /KT-001\s+X000000012\s+ok\s+warning\s+11101\s+3/);
    const errors = ok(await t("vsd", "log", "RZK-PRAXIS-01", "--mandant", "praxis-1", "--outcome", "error", "--from", "1h"), "log of errors");
    assert.match(errors, /praxis-1\s+AP1\s+KT-001\s+-\s+-\s+error\s+3041/, "the locked SMC-B's read, before any OCSP");
    assert.doesNotMatch(errors, /warning/);
    assert.match(ok(await t("vsd", "log", "RZK-PRAXIS-01", "--to", "1h"), "log before an hour ago"), /no reads protocolled/);

    // The functional check a technician runs before leaving: the unit was never activated, and
    // one of the reads was refused (3041); everything else is in order.
    const check = await t("unit", "check", "RZK-PRAXIS-01");
    assert.equal(check.code, 0, check.stderr);
    assert.match(check.stdout, /unit state\s+warning\s+provisioned, not yet active/);
    assert.match(check.stdout, /TI access \(gSMC-K\)\s+ok/);
    assert.match(check.stdout, /card terminals\s+ok\s+1 paired and connected/);
    assert.match(check.stdout, /SM-B of praxis-1\s+ok\s+inserted and unlocked in KT-001/);
    assert.match(check.stdout, /VSDM \(last 24 h\)\s+warning\s+\d+ reads, 1 refused.*codes 3041/);
    assert.match(check.stdout, /overall: warning/);
    const fleet = await t("fleet", "check");
    assert.equal(fleet.code, 0, fleet.stderr);
    assert.match(fleet.stdout, /RZK-PRAXIS-01\s+warning\s+unit state: provisioned, not yet active/);

    // A Primärsystem's view: the gematik XML shapes through REST with Accept: application/xml.
    const { token } = (await (
      await fetch(`${env.TIGW_URL}/api/v1/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username: "admin", password: "e2e-admin-password" }),
      })
    ).json()) as { token: string };
    const readXml = (ehcHandle: string) =>
      fetch(`${env.TIGW_URL}/api/v1/vsd/read`, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/xml", authorization: `Bearer ${token}` },
        body: JSON.stringify({
          unit: "RZK-PRAXIS-01",
          mandantId: "praxis-1",
          clientSystemId: "PVS1",
          workplaceId: "AP1",
          ehcHandle,
          hpcHandle: smcbHandle,
          performOnlineCheck: true,
          readOnlineReceipt: true,
        }),
      });
    const answer = await readXml(egkHandle);
    assert.equal(answer.status, 200);
    assert.match(answer.headers.get("content-type") ?? "", /^application\/xml/);
    const xml = await answer.text();
    assert.deepEqual(await schemaErrors("ReadVSDResponse", xml), []);
    const pn = Buffer.from(/<VSD:Pruefungsnachweis>([^<]+)</.exec(xml)![1]!, "base64");
    assert.match(gunzipSync(pn).toString("latin1"), /<E>3<\/E><EC>11101<\/EC>/);
    const cliXml = ok(
      await t(
        "vsd",
        "read",
        "--unit",
        "RZK-PRAXIS-01",
        "--mandant",
        "praxis-1",
        "--workplace",
        "AP1",
        "--ct-id",
        "KT-001",
        "--slot",
        "1",
        "--online-check",
        "-o",
        "xml",
      ),
      "vsd read -o xml",
    );
    assert.deepEqual(await schemaErrors("ReadVSDResponse", cliXml.trim()), [], "tigw vsd read -o xml");
    const fault = await readXml("no-such-card");
    assert.equal(fault.status, 409);
    const gerror = await fault.text();
    assert.deepEqual(await schemaErrors("Error", gerror), []);
    assert.match(gerror, /<GERROR:Code>4008<\/GERROR:Code>/);
  });
});
