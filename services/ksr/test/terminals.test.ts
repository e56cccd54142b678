import assert from "node:assert/strict";
import { createHmac, randomBytes, randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { DomainError, toBusMessage } from "@tigw/platform";
import { eventually } from "@tigw/platform/testing";
import { startFleet, type Fleet } from "./support.js";

/**
 * Card-terminal firmware updates through the KSR, with card-terminal, tenancy and hsm as real
 * services on the simulated clock: the KSR learns the terminals from card-terminal's events; a
 * release for the terminals' model starts on a paired terminal when it connects (aktualisierend
 * meanwhile, at card-terminal); an unpaired terminal cannot be updated; a Konnektor release of a
 * batch "Konnektor only after all KT updates succeeded" waits in its window until they have.
 */
describe("card-terminal updates (KSR, card-terminal, simulated clock)", () => {
  let fleet: Fleet;
  const secrets = new Map<string, { cert: string; secret: Buffer }>();
  const UNIT = "RZK-KTFW-1";
  const MODEL = "ORGA 6141 online";

  const kts = () => fleet.cardTerminal!.cardTerminals;
  const terminals = () => fleet.ksr.ksr.terminals!;
  const ksrView = (ctId: string) => terminals().view(ctId);
  const ctView = (ctId: string) => kts().terminal(ctId);

  /** A terminal with a real gSMC-KT of the test PKI, registered and (unless told) paired with the unit. */
  const newTerminal = async (ctId: string, pair = true) => {
    const cert = (await fleet.hsm.hsm.issueCard({ cardType: "GSMC_KT", keyType: "ecc", holder: `gSMC-KT ${ctId}` })).serialHex;
    await kts().add({
      ctId,
      mac: `00:0D:F8:${randomBytes(3).toString("hex").match(/../g)!.join(":")}`,
      address: "",
      vendor: "ORGA",
      model: "6141 online",
      firmware: "3.9.0",
    });
    if (pair) secrets.set(ctId, { cert, secret: (await kts().pair(ctId, UNIT, cert)).secret });
  };
  /** The terminal's side of a connect: its gSMC-KT proves the key on the challenge, then the pairing secret. */
  const connect = async (ctId: string) => {
    const { cert, secret } = secrets.get(ctId)!;
    const challenge = await kts().beginConnect(ctId);
    const signature = await fleet.hsm.hsm.proveTerminalKey(cert, ctId, challenge);
    await kts().completeConnect(ctId, challenge, signature, createHmac("sha256", secret).update(challenge).digest());
  };
  const known = (ctId: string, check: (t: Awaited<ReturnType<typeof ksrView>>) => boolean, what: string) =>
    eventually(
      async () => {
        const t = await ksrView(ctId).catch(() => undefined);
        return t !== undefined && check(t);
      },
      60_000,
      what,
    );

  before(async () => {
    // Wednesday 10.01.2024: the releases start on Monday 15.01.
    fleet = await startFleet("2024-01-10T09:00:00.000Z", { cardTerminals: true });
    await fleet.tenancy.tenancy.createUnit({ serial: UNIT, profile: "rz", firmware: "5.50.3:2.0.0", producedOn: "2023-06-01" });
    await eventually(async () => (await fleet.ksr.ksr.list()).length === 1, 30_000, "ksr enrols the unit");
    for (const id of ["KT-1", "KT-2"]) await newTerminal(id);
    await newTerminal("KT-LOOSE", false);
    for (const id of ["KT-1", "KT-2", "KT-LOOSE"]) await known(id, (t) => t.product === MODEL && t.firmware === "3.9.0", `the KSR learns ${id}`);
    await fleet.ksr.ksr.publish({
      updateId: "ORGA_6141_3_9_2",
      product: MODEL,
      fwVersion: "3.9.2",
      fwPriority: "Normal",
      startDate: "2024-01-15",
      deadline: "2024-03-31",
      releaseNotes: "KT firmware of the batch",
    });
    await fleet.ksr.ksr.publish({
      updateId: "RZ_5_50_4_BATCH",
      product: "rz",
      fwVersion: "5.50.4:2.0.0",
      fwPriority: "Normal",
      startDate: "2024-01-15",
      deadline: "2024-03-31",
      releaseNotes: "Konnektor of the batch, after its KTs",
      afterTerminals: true,
    });
  });
  after(() => fleet.stop());

  it("lists the terminals with the update due; an unpaired one is flagged and cannot be updated", async () => {
    const list = await terminals().list();
    assert.deepEqual(list.map((t) => [t.ctId, t.due?.updateId]).sort(), [
      ["KT-1", "ORGA_6141_3_9_2"],
      ["KT-2", "ORGA_6141_3_9_2"],
      ["KT-LOOSE", "ORGA_6141_3_9_2"],
    ]);
    assert.match(list.find((t) => t.ctId === "KT-LOOSE")!.flags.join(" "), /not paired/);
    const e = await terminals()
      .update("KT-LOOSE")
      .then(
        () => assert.fail("an unpaired terminal was updated"),
        (x: unknown) => x as DomainError,
      );
    assert.equal(e.code, "TERMINAL_NOT_PAIRED");
    assert.match(e.message, /KT-LOOSE is not paired/);
    assert.equal((await ctView("KT-LOOSE")).firmware, "3.9.0");
  });

  it("before the start date a connect installs nothing", async () => {
    await connect("KT-1");
    await known("KT-1", (t) => t.connected, "the KSR sees the connect");
    assert.equal((await ctView("KT-1")).firmware, "3.9.0");
    await kts().disconnect("KT-1");
    await known("KT-1", (t) => !t.connected, "the KSR sees the disconnect");
  });

  it("in the Monday window the Konnektor waits for its terminals (window missed, naming them)", async () => {
    await fleet.advance("5d"); // Monday 15.01. 09:00, past the 01:00 window
    const unit = await fleet.ksr.ksr.view(UNIT);
    assert.equal(unit.firmware, "5.50.3:2.0.0");
    assert.equal(unit.lastResult, "MISSED");
    assert.match(unit.lastMessage, /card terminals update first: KT-1 \(3\.9\.0 -> 3\.9\.2\), KT-2 \(3\.9\.0 -> 3\.9\.2\)/);
    const manual = await fleet.ksr.ksr.updateUnit(UNIT).then(
      () => assert.fail("the Konnektor was updated before its terminals"),
      (x: unknown) => x as DomainError,
    );
    assert.equal(manual.code, "KT_UPDATES_PENDING");
  });

  it("a pending update starts when the terminal connects: aktualisierend at card-terminal, then aktiv on 3.9.2", async () => {
    await connect("KT-1");
    await known("KT-1", (t) => t.firmware === "3.9.2" && t.lastResult === "OK", "KT-1 updated on connect");
    const ct = await ctView("KT-1");
    assert.deepEqual([ct.firmware, ct.correlation, ct.connected], ["3.9.2", "aktiv", true]);
    const ctStore = (fleet.cardTerminal!.cardTerminals as unknown as { store: { readStream(id: string): Promise<{ events: { type: string }[] }> } }).store;
    const ctEvents = (await ctStore.readStream("kt-KT-1")).events.map((e) => e.type);
    assert.ok(ctEvents.includes("FirmwareUpdateStarted") && ctEvents.includes("FirmwareUpdateFinished"), "card-terminal ran it (aktualisierend meanwhile)");
  });

  it("a failed apply on the terminal is 4184 and it keeps its firmware; planned by hand, it runs on the next connect", async () => {
    fleet.ksr.ksr.setFault("apply", true);
    await connect("KT-2");
    await known("KT-2", (t) => t.lastResult === "4184", "KT-2's apply fails");
    assert.equal((await ctView("KT-2")).firmware, "3.9.0");
    assert.equal((await ctView("KT-2")).correlation, "aktiv");
    fleet.ksr.ksr.setFault("apply", false);
    await kts().disconnect("KT-2");
    await known("KT-2", (t) => !t.connected, "the KSR sees the disconnect");
    const planned = await terminals().update("KT-2", "3.9.2");
    assert.equal(planned.planned, "ORGA_6141_3_9_2");
    assert.equal(planned.firmware, "3.9.0");
    await connect("KT-2");
    await known("KT-2", (t) => t.firmware === "3.9.2" && t.planned === "", "KT-2 updated when it connected");
  });

  it("malformed card-terminal events are passed over: nothing recorded for them, the consumer keeps going", async () => {
    const before = await ksrView("KT-1");
    // Straight onto card-terminal's topic, as a faulty producer (or another deployment) would.
    const malformed: [string, unknown][] = [
      ["TerminalAdded", { ctId: 42, vendor: null, model: ["x"], firmware: { $gt: 1 } }],
      ["TerminalConnected", { ctId: "<script>alert(1)</script>", at: "yesterday" }],
      ["FirmwareUpdateFinished", { ctId: "KT-1", firmware: { $gt: 1 }, succeeded: "yes", at: 7 }],
      ["TerminalAssigned", { ctId: "KT-1", unitId: "'; DROP TABLE x; --" }],
      ["TerminalPaired", "not an object"],
      ["TerminalConnected", null],
      ["TerminalAdded", { ctId: "FUZZ-2", vendor: "ORGA", model: "6141 online\u0000", firmware: "9".repeat(5000) }],
    ];
    await fleet.bus.publish(
      fleet.cardTerminalTopic,
      malformed.map(([type, data], i) =>
        toBusMessage({
          eventId: randomUUID(),
          context: "card-terminal",
          streamId: `kt-FUZZ-${i}`,
          streamVersion: 1,
          globalPosition: 0,
          transactionId: "",
          type,
          schemaVersion: 1,
          data,
          unitId: "",
          mandantId: "",
          occurredAt: new Date().toISOString(),
          correlationId: "",
          causationId: "",
        }),
      ),
    );
    // A valid event after them is handled: the consumer did not stop at the malformed ones.
    await kts().disconnect("KT-1");
    await known("KT-1", (t) => !t.connected, "the KSR handles the event after the malformed ones");
    const after = await ksrView("KT-1");
    assert.deepEqual([after.firmware, after.unitId, after.paired], [before.firmware, before.unitId, before.paired]);
    assert.ok(!(await terminals().list()).some((t) => t.ctId.includes("<") || t.firmware.length > 20), "nothing implausible recorded");
    await connect("KT-1");
  });

  it("with all its terminals updated, the Konnektor installs in its next window", async () => {
    await fleet.advance("7d"); // Monday 22.01. 09:00
    const unit = await fleet.ksr.ksr.view(UNIT);
    assert.equal(unit.firmware, "5.50.4:2.0.0");
    assert.equal(unit.lastResult, "OK");
    const list = await terminals().list(unit.unitId);
    assert.deepEqual(list.map((t) => [t.ctId, t.firmware]).sort(), [
      ["KT-1", "3.9.2"],
      ["KT-2", "3.9.2"],
    ]);
  });
});
