import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { callByName, createClient, SystemClock, topicOf, type EventBus, type Sql } from "@tigw/platform";
import { CardTerminalServiceClient } from "@tigw/contracts/cardterminal/v1/card_terminal";
import { HsmServiceClient } from "@tigw/contracts/hsm/v1/hsm";
import { TenancyServiceClient } from "@tigw/contracts/tenancy/v1/tenancy";
import { freshContext, refusal, serviceSetups } from "@tigw/platform/testing";
import { ClockControl, startHsm, type RunningHsm } from "@tigw/hsm";
import { loadProfiles, startTenancy, type RunningTenancy } from "@tigw/tenancy";
import { startCardTerminal, type RunningCardTerminal } from "../src/index.js";

/**
 * card-terminal over gRPC with tenancy (slots) and hsm (gSMC-KT certificates, signatures) as
 * real services: pairing under concurrency, the connect proof, unpairing, cards, the access check.
 */
for (const setup of serviceSetups()) {
  describe(`card-terminal over gRPC (${setup.store.name} store, ${setup.bus.name} bus)`, () => {
    const ctx = { tenancy: freshContext("tenancy"), hsm: freshContext("hsm"), kt: freshContext("kt") };
    let sql: Sql;
    let bus: EventBus;
    let tenancy: RunningTenancy;
    let hsm: RunningHsm;
    let kt: RunningCardTerminal;
    let t: TenancyServiceClient;
    let h: HsmServiceClient;
    let c: CardTerminalServiceClient;
    const rpc = callByName;
    type Terminal = { ctId: string; correlation: string; connected: boolean; refusedConnects: number; unitId: string };

    /** A terminal with a real gSMC-KT from the test PKI, registered (bekannt). */
    const newTerminal = async (ctId: string) => {
      const { certificate } = await rpc<{ certificate: { certSerial: string } }>(h, "issueCard", {
        cardType: "GSMC_KT",
        keyType: "ecc",
        holder: `gSMC-KT ${ctId}`,
        iccsn: "",
        notBefore: "",
        validityYears: 5,
      });
      await rpc(c, "addTerminal", {
        ctId,
        mac: `00:0D:F8:${randomBytes(3).toString("hex").match(/../g)!.join(":")}`,
        address: "127.0.0.1",
        vendor: "ORGA",
        model: "6141 online",
        firmware: "3.9.0",
      });
      return certificate.certSerial;
    };
    const pair = (ctId: string, unit: string, certSerial: string) =>
      rpc<{ terminal: Terminal; pairingSecret: Buffer }>(c, "pairTerminal", { ctId, unit, certSerial });
    /** The terminal's side of a connect: its gSMC-KT (in hsm) proves the key on the challenge, then the secret. */
    const connect = async (ctId: string, signWith: string, secret: Buffer) => {
      const { challenge } = await rpc<{ challenge: Buffer }>(c, "beginConnect", { ctId });
      const { signature } = await rpc<{ signature: Buffer }>(h, "proveTerminalKey", { certSerial: signWith, ctId, challenge });
      const secretProof = createHmac("sha256", secret).update(challenge).digest();
      return rpc<{ terminal: Terminal }>(c, "completeConnect", { ctId, challenge, signature, secretProof }).then((r) => r.terminal);
    };
    /** A terminal of its own, paired with RZK-KT-0001 and connected (aktiv): ready to take cards. */
    const connectedTerminal = async (ctId: string) => {
      const cert = await newTerminal(ctId);
      const { pairingSecret } = await pair(ctId, "RZK-KT-0001", cert);
      await connect(ctId, cert, pairingSecret);
      return ctId;
    };
    const slotsUsed = async (unit: string) =>
      (await rpc<{ unit: { computeUnits: { ktsUsed: number }[] } }>(t, "getUnit", { unit })).unit.computeUnits.reduce((a, x) => a + x.ktsUsed, 0);

    before(async () => {
      sql = await setup.store.sql();
      bus = await setup.bus.bus();
      const clock = ClockControl.system(new SystemClock());
      tenancy = await startTenancy({ sql, bus, clock, profiles: loadProfiles(), vendorKeys: [], context: ctx.tenancy });
      hsm = await startHsm({ sql, bus, clock, masterKey: randomBytes(32), context: ctx.hsm, tenancyTopic: topicOf(ctx.tenancy) });
      // 150 simultaneous pairings each ask the OCSP responder; on one embedded database shared by
      // three services the last answers queue behind the slot reservations for longer than 30 s.
      kt = await startCardTerminal({
        sql,
        bus,
        clock,
        masterKey: randomBytes(32),
        tenancyAddress: tenancy.address,
        hsmAddress: hsm.address,
        context: ctx.kt,
        ocspTimeoutMs: 180_000,
      });
      t = createClient(TenancyServiceClient, tenancy.address, { deadlineMs: 60_000 });
      h = createClient(HsmServiceClient, hsm.address, { deadlineMs: 60_000 });
      c = createClient(CardTerminalServiceClient, kt.address, { deadlineMs: 240_000 });
      await rpc(t, "createUnit", { serial: "RZK-KT-0001", profile: "rz", firmware: "", producedOn: "" });
      await rpc(t, "createUnit", { serial: "RZK-KT-0002", profile: "rz", firmware: "", producedOn: "" });
    });
    after(async () => {
      for (const x of [t, h, c]) x.close();
      await kt.stop();
      await hsm.stop();
      await tenancy.stop();
      await bus.close();
    });

    it("pairs a terminal (bekannt -> gepairt), connects it with its gSMC-KT and the secret (aktiv), keeps it alive, takes cards", async () => {
      const cert = await newTerminal("KT-A");
      const { terminal, pairingSecret } = await pair("KT-A", "RZK-KT-0001", cert);
      assert.deepEqual([terminal.correlation, terminal.connected], ["gepairt", false]);
      assert.equal(pairingSecret.length, 32);
      const connected = await connect("KT-A", cert, pairingSecret);
      assert.deepEqual([connected.correlation, connected.connected], ["aktiv", true]);
      assert.ok((await rpc<{ seenAt: string }>(c, "heartbeat", { ctId: "KT-A" })).seenAt);
      const { card } = await rpc<{ card: { cardHandle: string; slot: number } }>(c, "insertCard", {
        ctId: "KT-A",
        slot: 1,
        cardType: "EGK",
        iccsn: "80276883110000000001",
        certSerial: "",
        pin: "",
      });
      assert.ok(card.cardHandle);
      const { cards } = await rpc<{ cards: { cardHandle: string }[] }>(c, "listCards", { unit: "RZK-KT-0001" });
      assert.deepEqual(
        cards.map((x) => x.cardHandle),
        [card.cardHandle],
      );
      assert.equal((await rpc<{ removed: boolean }>(c, "removeCard", { ctId: "KT-A", slot: 1 })).removed, true);
      const updating = await rpc<{ terminal: Terminal }>(c, "updateFirmware", { ctId: "KT-A", phase: "start", firmware: "3.10.0", succeeded: false });
      assert.equal(updating.terminal.correlation, "aktualisierend");
      const updated = await rpc<{ terminal: Terminal & { firmware: string } }>(c, "updateFirmware", {
        ctId: "KT-A",
        phase: "finish",
        firmware: "",
        succeeded: true,
      });
      assert.deepEqual([updated.terminal.correlation, updated.terminal.firmware], ["aktiv", "3.10.0"]);
    });

    it("of 150 simultaneous pairings onto a unit with 100 free slots exactly 100 are admitted; tenancy and card-terminal agree", async () => {
      const ids = Array.from({ length: 150 }, (_, i) => `KT-B-${String(i).padStart(3, "0")}`);
      const certs = new Map<string, string>();
      for (const id of ids) certs.set(id, await newTerminal(id));
      const results = await Promise.allSettled(ids.map((id) => pair(id, "RZK-KT-0002", certs.get(id)!)));
      const ok = results.filter((r) => r.status === "fulfilled").length;
      const refusals = results
        .filter((r): r is PromiseRejectedResult => r.status === "rejected")
        .map((r) => r.reason as { code?: string; details?: { problem?: string } });
      const codes = refusals.map((r) => r.code);
      const problems = [...new Set(refusals.map((r) => r.details?.problem).filter(Boolean))];
      assert.equal(
        ok,
        100,
        `refused with ${[...new Set(codes)].join(", ")} ${problems.join(", ")}: ${(refusals[0] as { message?: string } | undefined)?.message ?? ""}`,
      );
      assert.deepEqual(
        [...new Set(codes)],
        ["KT_LIMIT_REACHED"],
        `tenancy's refusal reaches the caller unchanged (certificate problems: ${problems.join(", ") || "none"})`,
      );
      const { terminals } = await rpc<{ terminals: Terminal[] }>(c, "listTerminals", { unit: "RZK-KT-0002", mandantId: "" });
      assert.equal(terminals.filter((x) => x.correlation === "gepairt").length, 100);
      assert.equal(await slotsUsed("RZK-KT-0002"), 100);
    });

    it("refuses a right certificate with a wrong secret and a copied secret with another key; records both; an unpaired terminal cannot reconnect and frees its slot", async () => {
      const cert = await newTerminal("KT-C");
      const other = await newTerminal("KT-D");
      const { pairingSecret } = await pair("KT-C", "RZK-KT-0001", cert);
      const wrongSecret = await refusal(connect("KT-C", cert, randomBytes(32)));
      assert.deepEqual([wrongSecret.code, wrongSecret.details["reason"]], ["CONNECT_REFUSED", "WRONG_SECRET"]);
      const wrongKey = await refusal(connect("KT-C", other, pairingSecret));
      assert.deepEqual([wrongKey.code, wrongKey.details["reason"]], ["CONNECT_REFUSED", "WRONG_KEY"]);
      const after = (await rpc<{ terminal: Terminal }>(c, "getTerminal", { ctId: "KT-C" })).terminal;
      assert.deepEqual([after.connected, after.refusedConnects], [false, 2]);
      const events = await kt.cardTerminals.projection.get(sql, "KT-C");
      assert.equal(events?.refusedConnects, 2);

      await connect("KT-C", cert, pairingSecret);
      const before = await slotsUsed("RZK-KT-0001");
      const unpaired = (await rpc<{ terminal: Terminal }>(c, "unpairTerminal", { ctId: "KT-C", reason: "Diebstahl" })).terminal;
      assert.deepEqual([unpaired.correlation, unpaired.connected, unpaired.unitId], ["bekannt", false, ""]);
      assert.equal(await slotsUsed("RZK-KT-0001"), before - 1, "the slot is released in tenancy");
      const again = await refusal(connect("KT-C", cert, pairingSecret));
      assert.deepEqual([again.code, again.details["reason"]], ["CONNECT_REFUSED", "NOT_PAIRED"]);
    });

    it("configures the Infomodell and checks access: allowed for a local eGK, 4016 from a remote terminal", async () => {
      await rpc(t, "addMandant", { unit: "RZK-KT-0001", mandantId: "M1", name: "Praxis M1", bsnr: "", smcbIccsn: "" });
      const cert = await newTerminal("KT-E");
      const { pairingSecret } = await pair("KT-E", "RZK-KT-0001", cert);
      await connect("KT-E", cert, pairingSecret);
      const conf = (action: string, over: object) =>
        rpc(c, "configureInfomodell", {
          unit: "RZK-KT-0001",
          action,
          mandantId: "M1",
          clientSystemId: "",
          workplaceId: "",
          clientSystemIds: [],
          ctId: "",
          kind: "",
          iccsn: "",
          ...over,
        });
      assert.equal((await refusal(conf("mandant", { mandantId: "M9" }))).code, "4004");
      await conf("mandant", {});
      await conf("client-system", { clientSystemId: "PVS1" });
      await conf("workplace", { workplaceId: "AP1", clientSystemIds: ["PVS1"] });
      await conf("workplace", { workplaceId: "AP2", clientSystemIds: ["PVS1"] });
      await conf("terminal", { ctId: "KT-E" });
      await conf("workplace-terminal", { workplaceId: "AP1", ctId: "KT-E", kind: "local" });
      await conf("workplace-terminal", { workplaceId: "AP2", ctId: "KT-E", kind: "remote" });
      const { card } = await rpc<{ card: { cardHandle: string } }>(c, "insertCard", {
        ctId: "KT-E",
        slot: 1,
        cardType: "EGK",
        iccsn: "80276883110000000002",
        certSerial: "",
        pin: "",
      });
      const check = (workplaceId: string) =>
        rpc<{ allowed: boolean }>(c, "checkAccess", {
          unit: "RZK-KT-0001",
          mandantId: "M1",
          clientSystemId: "PVS1",
          workplaceId,
          userId: "",
          ctId: "",
          cardHandle: card.cardHandle,
          workplaceRequired: true,
        });
      assert.equal((await check("AP1")).allowed, true);
      assert.equal((await refusal(check("AP2"))).code, "4016");
    });

    it("an SMC-B's PIN: rejected with tries counting down, verified for this insertion only, blocked after three wrong", async () => {
      const ctId = await connectedTerminal("KT-P");
      const iccsn = "80276001234500000001";
      const insert = async (slot: number, pin = "") =>
        (await rpc<{ card: { cardHandle: string } }>(c, "insertCard", { ctId, slot, cardType: "SMC-B", iccsn, certSerial: "", pin })).card.cardHandle;
      const verifyPin = (cardHandle: string, pin: string) => rpc<{ result: string; leftTries: number }>(c, "verifyPin", { cardHandle, pin, fromPinPad: false });
      const status = (cardHandle: string) => rpc<{ status: string; leftTries: number }>(c, "getPinStatus", { cardHandle });
      let handle = await insert(2, "123456");
      assert.deepEqual(await verifyPin(handle, "000000"), { result: "REJECTED", leftTries: 2 });
      assert.deepEqual(await verifyPin(handle, "123456"), { result: "OK", leftTries: 3 });
      assert.equal((await status(handle)).status, "VERIFIED");
      await rpc(c, "removeCard", { ctId, slot: 2 });
      handle = await insert(2);
      assert.deepEqual(await status(handle), { status: "VERIFIABLE", leftTries: 3 }, "a new insertion must be verified again");
      for (const left of [2, 1]) assert.deepEqual(await verifyPin(handle, "999999"), { result: "REJECTED", leftTries: left });
      assert.equal((await verifyPin(handle, "999999")).result, "NOWBLOCKED");
      assert.equal((await verifyPin(handle, "123456")).result, "WASBLOCKED");
      assert.equal((await status(handle)).status, "BLOCKED");
      const rows = await sql.query<{ data: unknown }>(`SELECT data FROM ${ctx.kt}.events WHERE type LIKE 'Pin%' OR type = 'CardPersonalised'`);
      assert.ok(rows.length >= 7 && !rows.some((r) => JSON.stringify(r.data).includes("123456")), "no PIN in the events");
    });

    it("keeps pairing secrets out of the events", async () => {
      const cert = await newTerminal("KT-F");
      const { pairingSecret } = await pair("KT-F", "RZK-KT-0001", cert);
      const rows = await sql.query<{ data: unknown }>(`SELECT data FROM ${ctx.kt}.events`);
      const text = rows.map((r) => JSON.stringify(r.data)).join("\n");
      for (const needle of [pairingSecret.toString("base64"), pairingSecret.toString("hex"), pairingSecret.toString("base64url")])
        assert.ok(!text.includes(needle));
    });
  });
}
