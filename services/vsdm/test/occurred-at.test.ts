import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Sql } from "@tigw/platform";
import { generatePopulation } from "../src/index.js";
import { rpc, setUpPractice, UNIT, type Practice } from "./support/practice.js";

/**
 * An event's occurred_at is the command's time: the service's clock, which an operator may have
 * moved (TIGW_CLOCK=simulated), not the wall clock. With the simulated clock 1,000 days ahead, the
 * events hsm, card-terminal and vsdm write carry the simulated time.
 */
describe("occurred_at follows the simulated clock (hsm, card-terminal, vsdm)", () => {
  let practice: Practice;
  before(async () => {
    practice = await setUpPractice({ populationSize: 100 });
  });
  after(async () => {
    await practice.stop();
  });

  it("events written after the clock moved 1,000 days carry the simulated time", async () => {
    const { t, h, c, v } = practice.clients;
    const stores: [string, Sql, string][] = [
      ["hsm", practice.sql.hsm, "hsm"],
      ["card-terminal", practice.sql.cardTerminal, "card_terminal"],
      ["vsdm", practice.sql.vsdm, practice.vsdmContext],
    ];
    const last = async (sql: Sql, schema: string) =>
      Number((await sql.query<{ p: string | null }>(`SELECT max(global_position) AS p FROM ${schema}.events`))[0]!.p ?? 0);
    const before = new Map<string, number>();
    for (const [name, sql, schema] of stores) before.set(name, await last(sql, schema));

    const { now } = await rpc<{ now: string }>(h, "advanceClock", { duration: "1000d" });
    const simulated = Date.parse(now);
    assert.ok(simulated - Date.now() > 999 * 86_400_000, `the clock is 1,000 days ahead (${now})`);

    // hsm: a unit's gSMC-K (provisioned on UnitCreated) and an eGK certificate.
    await rpc(t, "createUnit", { serial: "RZK-CLOCK-0001", profile: "rz", firmware: "", producedOn: "" });
    // An ordinary insured person's eGK (a Prüfkarte's online check ends in 11101 and writes no OnlineCheckSucceeded).
    const person = generatePopulation(100, 1).find(
      (p) => p.card.generation !== "G1" && p.card.certificate === "valid" && !p.card.healthApplicationBlocked && !p.card.vsdInconsistent,
    )!;
    const egk = await rpc<{ iccsn: string; certSerial: string }>(v, "prepareEgk", { kvnr: person.kvnr, pruefkarte: 0 });
    // card-terminal: a card inserted, a PIN verified, the Infomodell changed.
    const ehcHandle = await practice.insert(1, "EGK", egk.iccsn, egk.certSerial);
    await rpc(c, "verifyPin", { cardHandle: practice.smcbHandle, pin: "123456", fromPinPad: false });
    await rpc(c, "configureInfomodell", {
      unit: UNIT,
      action: "client-system",
      mandantId: "M1",
      clientSystemId: "PVS3",
      workplaceId: "",
      clientSystemIds: [],
      ctId: "",
      kind: "",
      iccsn: "",
    });
    // vsdm: a read with online check (the card's online check and the protocol entry).
    const context = { mandantId: "M1", clientSystemId: "PVS1", workplaceId: "AP1", userId: "" };
    const read = await rpc<{ result: number; errorCode: number }>(v, "readVsd", {
      unit: UNIT,
      context,
      ehcHandle,
      hpcHandle: practice.smcbHandle,
      performOnlineCheck: true,
      readOnlineReceipt: false,
    });
    // Result 1 or 2: the online check ran (the read's Prüfungsnachweis); anything else writes no OnlineCheckSucceeded.
    assert.ok([1, 2].includes(read.result), `the read with online check succeeded (result ${read.result}, error ${read.errorCode})`);

    const expected: Record<string, string[]> = {
      hsm: ["SecurityModuleProvisioned", "CertificateIssued"],
      "card-terminal": ["CardInserted", "PinVerified", "ClientSystemAssigned"],
      vsdm: ["OnlineCheckSucceeded", "VsdReadProtocolled"],
    };
    for (const [name, sql, schema] of stores) {
      const since = before.get(name)!;
      const newEvents = async () =>
        (
          await sql.query<{ type: string; occurred_at: string | Date }>(
            `SELECT type, occurred_at FROM ${schema}.events WHERE global_position > $1 ORDER BY global_position`,
            [since],
          )
        ).map((r) => ({
          type: r.type,
          at: new Date(r.occurred_at).getTime(),
        }));
      let events = await newEvents();
      // The gSMC-K is provisioned when hsm consumes UnitCreated from the bus.
      for (let i = 0; i < 600 && !expected[name]!.every((type) => events.some((e) => e.type === type)); i++) {
        await new Promise((r) => setTimeout(r, 100));
        events = await newEvents();
      }
      for (const type of expected[name]!)
        assert.ok(
          events.some((e) => e.type === type),
          `${name} wrote ${type} (wrote ${events.map((e) => e.type).join(", ")})`,
        );
      for (const e of events)
        assert.ok(
          e.at >= simulated && e.at < simulated + 3_600_000,
          `${name} ${e.type} occurred at ${new Date(e.at).toISOString()}, not at the simulated ${now}`,
        );
    }
  });
});
