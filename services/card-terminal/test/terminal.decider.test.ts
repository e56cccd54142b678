import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DomainError, spec } from "@tigw/platform";
import {
  cardPinDecider,
  checkAccess,
  infomodellDecider,
  pinResult,
  terminalDecider as d,
  type AccessTarget,
  type CallContext,
  type CardPinEvent,
  type InfomodellEvent,
  type TerminalEvent,
} from "../src/index.js";

const at = "2026-11-23T10:00:00.000Z";
const ctId = "KT-0001";
const added: TerminalEvent = {
  type: "TerminalAdded",
  data: { ctId, mac: "00:0D:F8:12:34:56", address: "10.0.0.21", vendor: "ORGA", model: "6141", firmware: "3.9.0", at },
};
const assigned: TerminalEvent = { type: "TerminalAssigned", data: { ctId, unitId: "u1", computeUnit: 1, at } };
const paired: TerminalEvent = { type: "TerminalPaired", data: { ctId, unitId: "u1", certSerial: "AB", certPem: "PEM", secretRef: "secret:1", at } };
const connected: TerminalEvent = { type: "TerminalConnected", data: { ctId, unitId: "u1", at } };
const base = { ctId, unitId: "u1", at };

describe("Terminal decider: correlation states", () => {
  it("adds a terminal as bekannt, normalising the MAC", () => {
    spec(d)
      .given([])
      .when({ type: "AddTerminal", ctId, mac: "00-0d-f8-12-34-56", address: "10.0.0.21", vendor: "ORGA", model: "6141", firmware: "3.9.0", at })
      .then([added]);
  });
  it("refuses a bad ctId or MAC and a duplicate", () => {
    spec(d)
      .given([])
      .when({ type: "AddTerminal", ctId: "", mac: "00:0D:F8:12:34:56", address: "", vendor: "", model: "", firmware: "", at })
      .thenThrows("INVALID_CT_ID", { field: "ctId" });
    spec(d)
      .given([])
      .when({ type: "AddTerminal", ctId, mac: "00:0D:F8", address: "", vendor: "", model: "", firmware: "", at })
      .thenThrows("INVALID_MAC", { field: "mac" });
    spec(d)
      .given([added])
      .when({ type: "AddTerminal", ctId, mac: "00:0D:F8:12:34:56", address: "", vendor: "", model: "", firmware: "", at })
      .thenThrows("TERMINAL_EXISTS");
  });
  it("bekannt -> zugewiesen -> gepairt -> aktiv (on first connect)", () => {
    spec(d).given([added]).when({ type: "Assign", unitId: "u1", computeUnit: 1, at }).then([assigned]);
    spec(d).given([added, assigned]).when({ type: "Pair", certSerial: "AB", certPem: "PEM", secretRef: "secret:1", at }).then([paired]);
    spec(d).given([added, assigned, paired]).when({ type: "RecordConnect", at }).then([connected]);
    const s = [added, assigned, paired, connected].reduce(d.evolve, d.initialState());
    assert.deepEqual([s.correlation, s.connected], ["aktiv", true]);
  });
  it("refuses pairing an unassigned terminal and connecting an unpaired one", () => {
    spec(d)
      .given([added])
      .when({ type: "Pair", certSerial: "AB", certPem: "PEM", secretRef: "s", at })
      .thenThrows("INVALID_TERMINAL_STATE", { correlation: "bekannt" });
    spec(d).given([added, assigned]).when({ type: "RecordConnect", at }).thenThrows("INVALID_TERMINAL_STATE", { correlation: "zugewiesen" });
    spec(d).given([]).when({ type: "RecordConnect", at }).thenThrows("TERMINAL_NOT_FOUND");
  });
  it("records a refused connect as a security event; the terminal stays disconnected", () => {
    spec(d)
      .given([added, assigned, paired])
      .when({ type: "RefuseConnect", reason: "WRONG_SECRET", at })
      .then([{ type: "TerminalConnectRefused", data: { ...base, reason: "WRONG_SECRET" } }]);
    const s = [added, assigned, paired, { type: "TerminalConnectRefused", data: { ...base, reason: "WRONG_KEY" } } as TerminalEvent].reduce(
      d.evolve,
      d.initialState(),
    );
    assert.deepEqual([s.connected, s.refusedConnects], [false, 1]);
  });
  it("unpairing removes cards, disconnects and returns the terminal to bekannt", () => {
    const card: TerminalEvent = {
      type: "CardInserted",
      data: { ...base, slot: 1, handle: "h1", cardType: "EGK", iccsn: "80276001234567890123", certSerial: "", at },
    };
    spec(d)
      .given([added, assigned, paired, connected, card])
      .when({ type: "Unpair", reason: "theft", at })
      .then([
        { type: "CardRemoved", data: { ...base, slot: 1, handle: "h1", cardType: "EGK", iccsn: "80276001234567890123" } },
        { type: "TerminalDisconnected", data: base },
        { type: "TerminalUnpaired", data: { ...base, reason: "theft" } },
      ]);
    const s = [added, assigned, paired, connected, { type: "TerminalUnpaired", data: { ...base, reason: "" } } as TerminalEvent].reduce(
      d.evolve,
      d.initialState(),
    );
    assert.deepEqual([s.correlation, s.secretRef, s.unitId], ["bekannt", "", ""]);
  });
});

describe("Terminal decider: firmware update (aktualisierend)", () => {
  it("an aktiv terminal goes aktualisierend during an update and back to aktiv with the new firmware", () => {
    spec(d)
      .given([added, assigned, paired, connected])
      .when({ type: "StartFirmwareUpdate", targetFirmware: "3.10.0", at })
      .then([{ type: "FirmwareUpdateStarted", data: { ...base, from: "3.9.0", to: "3.10.0" } }]);
    const started: TerminalEvent = { type: "FirmwareUpdateStarted", data: { ...base, from: "3.9.0", to: "3.10.0" } };
    spec(d)
      .given([added, assigned, paired, connected, started])
      .when({ type: "FinishFirmwareUpdate", succeeded: true, at })
      .then([{ type: "FirmwareUpdateFinished", data: { ...base, firmware: "3.10.0", succeeded: true } }]);
    const s = [
      added,
      assigned,
      paired,
      connected,
      started,
      { type: "FirmwareUpdateFinished", data: { ...base, firmware: "3.10.0", succeeded: true } } as TerminalEvent,
    ].reduce(d.evolve, d.initialState());
    assert.deepEqual([s.correlation, s.firmware], ["aktiv", "3.10.0"]);
  });
  it("a failed update keeps the old firmware; an unpaired terminal cannot be updated", () => {
    const started: TerminalEvent = { type: "FirmwareUpdateStarted", data: { ...base, from: "3.9.0", to: "3.10.0" } };
    spec(d)
      .given([added, assigned, paired, connected, started])
      .when({ type: "FinishFirmwareUpdate", succeeded: false, at })
      .then([{ type: "FirmwareUpdateFinished", data: { ...base, firmware: "3.9.0", succeeded: false } }]);
    spec(d).given([added]).when({ type: "StartFirmwareUpdate", targetFirmware: "3.10.0", at }).thenThrows("INVALID_TERMINAL_STATE");
    spec(d).given([added, assigned, paired]).when({ type: "FinishFirmwareUpdate", succeeded: true, at }).thenThrows("INVALID_TERMINAL_STATE");
  });
});

describe("Terminal decider: cards", () => {
  const insert = (slot: number, cardType = "EGK", iccsn = "80276001234567890123") => ({
    type: "InsertCard" as const,
    slot,
    handle: `h${slot}`,
    cardType,
    iccsn,
    certSerial: "",
    at,
  });
  it("inserts and removes cards in slots of a connected terminal", () => {
    spec(d)
      .given([added, assigned, paired, connected])
      .when(insert(2))
      .then([{ type: "CardInserted", data: { ...base, slot: 2, handle: "h2", cardType: "EGK", iccsn: "80276001234567890123", certSerial: "" } }]);
    const inserted: TerminalEvent = {
      type: "CardInserted",
      data: { ...base, slot: 2, handle: "h2", cardType: "EGK", iccsn: "80276001234567890123", certSerial: "" },
    };
    spec(d)
      .given([added, assigned, paired, connected, inserted])
      .when({ type: "RemoveCard", slot: 2, at })
      .then([{ type: "CardRemoved", data: { ...base, slot: 2, handle: "h2", cardType: "EGK", iccsn: "80276001234567890123" } }]);
    spec(d).given([added, assigned, paired, connected, inserted]).when(insert(2)).thenThrows("SLOT_OCCUPIED");
  });
  it("refuses cards in a disconnected terminal, a bad slot, type or ICCSN", () => {
    spec(d).given([added, assigned, paired]).when(insert(1)).thenThrows("TERMINAL_NOT_CONNECTED");
    spec(d).given([added, assigned, paired, connected]).when(insert(5)).thenThrows("INVALID_SLOT", { field: "slot" });
    spec(d).given([added, assigned, paired, connected]).when(insert(1, "KVK")).thenThrows("INVALID_CARD_TYPE", { field: "cardType" });
    spec(d)
      .given([added, assigned, paired, connected])
      .when(insert(1, "EGK", "123"))
      .thenThrows("INVALID_ICCSN", { field: "iccsn" });
  });
});

describe("Access check TUC_KON_000: one case per gematik code", () => {
  const ev: InfomodellEvent[] = [
    { type: "InfomodellMandantRegistered", data: { unitId: "u1", mandantId: "M1", at } },
    { type: "InfomodellMandantRegistered", data: { unitId: "u1", mandantId: "M2", at } },
    { type: "ClientSystemAssigned", data: { mandantId: "M1", clientSystemId: "CS1", at } },
    { type: "ClientSystemAssigned", data: { mandantId: "M2", clientSystemId: "CS2", at } },
    { type: "ClientSystemAssigned", data: { mandantId: "M1", clientSystemId: "CS3", at } },
    { type: "WorkplaceAssigned", data: { mandantId: "M1", workplaceId: "AP1", clientSystemIds: ["CS1"], at } },
    { type: "WorkplaceAssigned", data: { mandantId: "M1", workplaceId: "AP2", clientSystemIds: ["CS1"], at } },
    { type: "WorkplaceAssigned", data: { mandantId: "M2", workplaceId: "AP9", clientSystemIds: ["CS2"], at } },
    { type: "TerminalAssignedToMandant", data: { mandantId: "M1", ctId: "KT1", at } },
    { type: "TerminalAssignedToMandant", data: { mandantId: "M1", ctId: "KT2", at } },
    { type: "TerminalAssignedToMandant", data: { mandantId: "M1", ctId: "KT3", at } },
    { type: "WorkplaceTerminalSet", data: { workplaceId: "AP1", ctId: "KT1", kind: "local", at } },
    { type: "WorkplaceTerminalSet", data: { workplaceId: "AP1", ctId: "KT2", kind: "remote", at } },
    { type: "SmbManaged", data: { mandantId: "M1", iccsn: "80276001111111111111", at } },
    { type: "SmbManaged", data: { mandantId: "M2", iccsn: "80276002222222222222", at } },
  ];
  const info = ev.reduce(infomodellDecider.evolve, infomodellDecider.initialState());
  const ctx: CallContext = { mandantId: "M1", clientSystemId: "CS1", workplaceId: "AP1" };
  const target = (t: Partial<AccessTarget> = {}): AccessTarget => ({ knownTerminals: ["KT1", "KT2", "KT3", "KT9"], workplaceRequired: true, ...t });
  const egk = (ctIdOf = "KT1") => ({ cardType: "EGK", iccsn: "80276883110000000001", ctId: ctIdOf });
  const code = (c: Partial<CallContext>, t: Partial<AccessTarget>): string => {
    try {
      checkAccess(info, { ...ctx, ...c }, target(t));
      return "OK";
    } catch (e) {
      assert.ok(e instanceof DomainError);
      return e.code;
    }
  };

  it("lets a well-configured call through (eGK in a local terminal, SMC-B of the Mandant in a remote one)", () => {
    assert.equal(code({}, { cardHandle: "h", card: egk() }), "OK");
    assert.equal(code({}, { cardHandle: "h", card: { cardType: "SMC-B", iccsn: "80276001111111111111", ctId: "KT2" } }), "OK");
  });
  const cases: [string, string, Partial<CallContext>, Partial<AccessTarget>][] = [
    ["4021", "a mandatory id is missing", { workplaceId: "" }, {}],
    ["4004", "unknown Mandant", { mandantId: "M9" }, {}],
    ["4005", "unknown client system", { clientSystemId: "CS9" }, {}],
    ["4006", "unknown workplace", { workplaceId: "AP7" }, {}],
    ["4007", "unknown terminal", {}, { ctId: "KT7" }],
    ["4008", "card not inserted", {}, { cardHandle: "gone", card: null }],
    ["4009", "SM-B not managed", {}, { cardHandle: "h", card: { cardType: "SMC-B", iccsn: "80276009999999999999", ctId: "KT2" } }],
    ["4010", "client system not assigned to the Mandant", { clientSystemId: "CS2" }, {}],
    ["4011", "workplace not assigned to the Mandant", { workplaceId: "AP9" }, {}],
    ["4012", "terminal not assigned to the Mandant", {}, { ctId: "KT9" }],
    ["4013", "SM-B of another Mandant", {}, { cardHandle: "h", card: { cardType: "SMC-B", iccsn: "80276002222222222222", ctId: "KT2" } }],
    ["4014", "workplace not assigned to the client system", { clientSystemId: "CS3" }, {}],
    ["4015", "terminal neither local nor remote for the workplace", {}, { ctId: "KT3" }],
    ["4016", "eGK in a remote terminal", {}, { cardHandle: "h", card: egk("KT2") }],
    ["4017", "eGK in a session at another workplace", {}, { cardHandle: "h", card: egk(), egkSessionWorkplace: "AP2" }],
    ["4019", "no rule for the card type", {}, { cardHandle: "h", card: { cardType: "gSMC-KT", iccsn: "80276000000000000001", ctId: "KT1" } }],
    ["4204", "client system not authenticated", {}, { clientAuthenticated: false }],
  ];
  for (const [expected, what, c, t] of cases) {
    it(`${expected}: ${what}`, () => assert.equal(code(c, t), expected));
  }
  it("the Infomodell refuses a workplace for a client system of another Mandant (4010) and an unknown Mandant (4004)", () => {
    spec(infomodellDecider)
      .given(ev)
      .when({ type: "AssignWorkplace", mandantId: "M1", workplaceId: "AP3", clientSystemIds: ["CS2"], at })
      .thenThrows("4010");
    spec(infomodellDecider).given(ev).when({ type: "AssignClientSystem", mandantId: "M7", clientSystemId: "CS7", at }).thenThrows("4004");
  });
});

describe("Card PIN decider (SMC-B, HBA)", () => {
  const iccsn = "80276001111111111111";
  const personalised: CardPinEvent = { type: "CardPersonalised", data: { iccsn, cardType: "SMC-B", pinRef: "pin:1", at } };
  const wrong = (leftTries: number): CardPinEvent => ({ type: "PinRejected", data: { iccsn, handle: "h1", leftTries, at } });
  it("verifies a right PIN for this insertion; a wrong one counts down; the third blocks", () => {
    spec(cardPinDecider)
      .given([personalised])
      .when({ type: "Verify", handle: "h1", correct: true, at })
      .then([{ type: "PinVerified", data: { iccsn, handle: "h1", at } }]);
    spec(cardPinDecider)
      .given([personalised])
      .when({ type: "Verify", handle: "h1", correct: false, at })
      .then([wrong(2)]);
    spec(cardPinDecider)
      .given([personalised, wrong(2), wrong(1)])
      .when({ type: "Verify", handle: "h1", correct: false, at })
      .then([wrong(0), { type: "PinBlocked", data: { iccsn, at } }]);
  });
  it("a blocked card stays blocked, even for the right PIN (WASBLOCKED)", () => {
    const blocked = [personalised, wrong(2), wrong(1), wrong(0), { type: "PinBlocked", data: { iccsn, at } } as CardPinEvent];
    spec(cardPinDecider).given(blocked).when({ type: "Verify", handle: "h1", correct: true, at }).then([]);
    assert.equal(pinResult([], blocked.reduce(cardPinDecider.evolve, cardPinDecider.initialState())), "WASBLOCKED");
  });
  it("a right PIN restores the tries; a card without PIN cannot be verified", () => {
    const s = [personalised, wrong(2), { type: "PinVerified", data: { iccsn, handle: "h1", at } } as CardPinEvent].reduce(
      cardPinDecider.evolve,
      cardPinDecider.initialState(),
    );
    assert.deepEqual([s.leftTries, s.verifiedHandle], [3, "h1"]);
    spec(cardPinDecider).given([]).when({ type: "Verify", handle: "h1", correct: true, at }).thenThrows("PIN_NOT_SET");
  });
  it("ChangePin with the right old PIN sets the new one; a wrong old PIN counts down as VerifyPin does", () => {
    spec(cardPinDecider)
      .given([personalised])
      .when({ type: "ChangePin", handle: "h1", correct: true, newPinRef: "pin:2", at })
      .then([{ type: "PinChanged", data: { iccsn, handle: "h1", pinRef: "pin:2", at } }]);
    spec(cardPinDecider)
      .given([personalised])
      .when({ type: "ChangePin", handle: "h1", correct: false, newPinRef: "pin:2", at })
      .then([wrong(2)]);
  });
  it("UnblockPin: the right PUK unblocks (with or without a new PIN), a wrong one counts down from 10; no PUK, no unblocking", () => {
    const withPuk: CardPinEvent = { type: "CardPersonalised", data: { iccsn, cardType: "SMC-B", pinRef: "pin:1", pukRef: "puk:1", at } };
    const blocked = [withPuk, wrong(2), wrong(1), wrong(0), { type: "PinBlocked", data: { iccsn, at } } as CardPinEvent];
    spec(cardPinDecider)
      .given(blocked)
      .when({ type: "UnblockPin", handle: "h1", pukCorrect: true, newPinRef: "pin:3", at })
      .then([{ type: "PinUnblocked", data: { iccsn, handle: "h1", pinRef: "pin:3", at } }]);
    const rejected: CardPinEvent = { type: "PukRejected", data: { iccsn, handle: "h1", leftTries: 9, at } };
    spec(cardPinDecider).given(blocked).when({ type: "UnblockPin", handle: "h1", pukCorrect: false, at }).then([rejected]);
    const unblocked = [...blocked, { type: "PinUnblocked", data: { iccsn, handle: "h1", at } } as CardPinEvent].reduce(
      cardPinDecider.evolve,
      cardPinDecider.initialState(),
    );
    assert.deepEqual([unblocked.blocked, unblocked.leftTries, unblocked.pinRef], [false, 3, "pin:1"], "without a new PIN the old one stays");
    const spent = Array.from({ length: 10 }, (_, i): CardPinEvent => ({ type: "PukRejected", data: { iccsn, handle: "h1", leftTries: 9 - i, at } }));
    spec(cardPinDecider)
      .given([...blocked, ...spent])
      .when({ type: "UnblockPin", handle: "h1", pukCorrect: true, at })
      .then([]);
    spec(cardPinDecider).given([personalised]).when({ type: "UnblockPin", handle: "h1", pukCorrect: true, at }).thenThrows("PUK_NOT_SET");
  });
});
