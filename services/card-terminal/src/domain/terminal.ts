import { DomainError, ValidationError, type Decider } from "@tigw/platform";

/**
 * A Kartenterminal (eHealth KT): correlation state bekannt -> zugewiesen (a slot of a unit is
 * reserved) -> gepairt (its C.SMKT.AUT certificate and a shared secret are stored) -> aktiv (it
 * connected once since pairing); aktualisierend during a firmware update. Connected or not is
 * separate. Cards sit in its slots. The pairing secret is in the vault, never in an event.
 */
export type Correlation = "bekannt" | "zugewiesen" | "gepairt" | "aktiv" | "aktualisierend";
export const CARD_TYPES = ["EGK", "HBA", "SMC-B", "PRUEFKARTE_EGK"] as const;
export type CardType = (typeof CARD_TYPES)[number];
export const SLOTS = 4;

export interface CardInSlot {
  handle: string;
  cardType: CardType;
  iccsn: string;
  certSerial: string;
  insertedAt: string;
}

export interface TerminalState {
  exists: boolean;
  ctId: string;
  mac: string;
  address: string;
  vendor: string;
  model: string;
  firmware: string;
  unitId: string;
  computeUnit: number;
  correlation: Correlation;
  connected: boolean;
  certSerial: string;
  certPem: string;
  secretRef: string;
  cards: Record<string, CardInSlot>;
  refusedConnects: number;
  /** Firmware being installed while aktualisierend. */
  targetFirmware: string;
}

export type TerminalCommand =
  | { type: "AddTerminal"; ctId: string; mac: string; address: string; vendor: string; model: string; firmware: string; at: string }
  | { type: "Assign"; unitId: string; computeUnit: number; at: string }
  | { type: "Pair"; certSerial: string; certPem: string; secretRef: string; at: string }
  | { type: "RecordConnect"; at: string }
  | { type: "RefuseConnect"; reason: "NOT_PAIRED" | "WRONG_KEY" | "WRONG_SECRET" | "CERT_INVALID"; at: string }
  | { type: "Disconnect"; at: string }
  | { type: "Unpair"; reason: string; at: string }
  | { type: "InsertCard"; slot: number; handle: string; cardType: string; iccsn: string; certSerial: string; at: string }
  | { type: "RemoveCard"; slot: number; at: string }
  | { type: "StartFirmwareUpdate"; targetFirmware: string; at: string }
  | { type: "FinishFirmwareUpdate"; succeeded: boolean; at: string };

export type TerminalEvent =
  | { type: "TerminalAdded"; data: { ctId: string; mac: string; address: string; vendor: string; model: string; firmware: string; at: string } }
  | { type: "TerminalAssigned"; data: { ctId: string; unitId: string; computeUnit: number; at: string } }
  | { type: "TerminalPaired"; data: { ctId: string; unitId: string; certSerial: string; certPem: string; secretRef: string; at: string } }
  | { type: "TerminalConnected"; data: { ctId: string; unitId: string; at: string } }
  | { type: "TerminalConnectRefused"; data: { ctId: string; unitId: string; reason: string; at: string } }
  | { type: "TerminalDisconnected"; data: { ctId: string; unitId: string; at: string } }
  | { type: "TerminalUnpaired"; data: { ctId: string; unitId: string; reason: string; at: string } }
  | {
      type: "CardInserted";
      data: { ctId: string; unitId: string; slot: number; handle: string; cardType: CardType; iccsn: string; certSerial: string; at: string };
    }
  | { type: "CardRemoved"; data: { ctId: string; unitId: string; slot: number; handle: string; cardType: CardType; iccsn: string; at: string } }
  | { type: "FirmwareUpdateStarted"; data: { ctId: string; unitId: string; from: string; to: string; at: string } }
  | { type: "FirmwareUpdateFinished"; data: { ctId: string; unitId: string; firmware: string; succeeded: boolean; at: string } };

export const initialTerminal = (): TerminalState => ({
  exists: false,
  ctId: "",
  mac: "",
  address: "",
  vendor: "",
  model: "",
  firmware: "",
  unitId: "",
  computeUnit: 0,
  correlation: "bekannt",
  connected: false,
  certSerial: "",
  certPem: "",
  secretRef: "",
  cards: {},
  refusedConnects: 0,
  targetFirmware: "",
});

const MAC = /^[0-9A-F]{2}(:[0-9A-F]{2}){5}$/;
const CT_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;

const wrongState = (s: TerminalState, action: string) =>
  new DomainError("INVALID_TERMINAL_STATE", `terminal ${s.ctId} is ${s.correlation}${s.connected ? " and connected" : ""}: cannot ${action}`, {
    ctId: s.ctId,
    correlation: s.correlation,
  });

function decide(c: TerminalCommand, s: TerminalState): TerminalEvent[] {
  if (c.type === "AddTerminal") {
    if (!CT_ID.test(c.ctId)) throw new ValidationError("INVALID_CT_ID", "ctId", `ctId "${c.ctId}" is not 1-64 letters, digits, '_', '.', ':' or '-'`);
    const mac = c.mac.toUpperCase().replaceAll("-", ":");
    if (!MAC.test(mac)) throw new ValidationError("INVALID_MAC", "mac", `MAC "${c.mac}" is not six hex pairs`);
    if (s.exists) throw new DomainError("TERMINAL_EXISTS", `terminal ${c.ctId} exists`, { field: "ctId", value: c.ctId });
    return [{ type: "TerminalAdded", data: { ctId: c.ctId, mac, address: c.address, vendor: c.vendor, model: c.model, firmware: c.firmware, at: c.at } }];
  }
  if (!s.exists) throw new DomainError("TERMINAL_NOT_FOUND", "no such terminal", { field: "ctId" });
  const base = { ctId: s.ctId, unitId: s.unitId, at: c.at };
  switch (c.type) {
    case "Assign":
      if (s.correlation !== "bekannt") {
        if (s.unitId === c.unitId) return [];
        throw wrongState(s, "assign it to another unit (unpair it first)");
      }
      return [{ type: "TerminalAssigned", data: { ctId: s.ctId, unitId: c.unitId, computeUnit: c.computeUnit, at: c.at } }];
    case "Pair":
      if (s.correlation !== "zugewiesen") throw wrongState(s, "pair");
      return [{ type: "TerminalPaired", data: { ...base, certSerial: c.certSerial, certPem: c.certPem, secretRef: c.secretRef } }];
    case "RecordConnect":
      if (s.correlation !== "gepairt" && s.correlation !== "aktiv" && s.correlation !== "aktualisierend") throw wrongState(s, "connect");
      return s.connected ? [] : [{ type: "TerminalConnected", data: base }];
    case "RefuseConnect":
      return [{ type: "TerminalConnectRefused", data: { ...base, reason: c.reason } }];
    case "Disconnect":
      return s.connected ? [{ type: "TerminalDisconnected", data: base }] : [];
    case "Unpair": {
      if (s.correlation === "bekannt") return [];
      const out: TerminalEvent[] = [];
      for (const [slot, card] of Object.entries(s.cards))
        out.push({ type: "CardRemoved", data: { ...base, slot: Number(slot), handle: card.handle, cardType: card.cardType, iccsn: card.iccsn } });
      if (s.connected) out.push({ type: "TerminalDisconnected", data: base });
      out.push({ type: "TerminalUnpaired", data: { ...base, reason: c.reason } });
      return out;
    }
    case "InsertCard": {
      if (!s.connected) throw new DomainError("TERMINAL_NOT_CONNECTED", `terminal ${s.ctId} is not connected`, { ctId: s.ctId });
      if (!Number.isInteger(c.slot) || c.slot < 1 || c.slot > SLOTS) throw new ValidationError("INVALID_SLOT", "slot", `slot must be 1-${SLOTS}`);
      if (!(CARD_TYPES as readonly string[]).includes(c.cardType))
        throw new ValidationError("INVALID_CARD_TYPE", "cardType", `card type must be one of ${CARD_TYPES.join(", ")}`);
      if (!/^\d{20}$/.test(c.iccsn)) throw new ValidationError("INVALID_ICCSN", "iccsn", "an ICCSN has 20 digits");
      if (s.cards[String(c.slot)]) throw new DomainError("SLOT_OCCUPIED", `slot ${c.slot} of ${s.ctId} holds a card`, { ctId: s.ctId, slot: String(c.slot) });
      return [
        { type: "CardInserted", data: { ...base, slot: c.slot, handle: c.handle, cardType: c.cardType as CardType, iccsn: c.iccsn, certSerial: c.certSerial } },
      ];
    }
    case "RemoveCard": {
      const card = s.cards[String(c.slot)];
      if (!card) return [];
      return [{ type: "CardRemoved", data: { ...base, slot: c.slot, handle: card.handle, cardType: card.cardType, iccsn: card.iccsn } }];
    }
    case "StartFirmwareUpdate":
      // Only a terminal that is at least paired can be updated (gemSpec_Kon, KSR).
      if (s.correlation !== "aktiv" && s.correlation !== "gepairt") throw wrongState(s, "update its firmware");
      if (!/^\d+(\.\d+){1,3}$/.test(c.targetFirmware))
        throw new ValidationError("INVALID_FIRMWARE_VERSION", "firmware", `firmware "${c.targetFirmware}" is not a version`);
      return [{ type: "FirmwareUpdateStarted", data: { ...base, from: s.firmware, to: c.targetFirmware } }];
    case "FinishFirmwareUpdate":
      if (s.correlation !== "aktualisierend") throw wrongState(s, "finish a firmware update");
      return [{ type: "FirmwareUpdateFinished", data: { ...base, firmware: c.succeeded ? s.targetFirmware : s.firmware, succeeded: c.succeeded } }];
  }
}

function evolve(s: TerminalState, e: TerminalEvent): TerminalState {
  switch (e.type) {
    case "TerminalAdded": {
      const { at: _at, ...d } = e.data;
      return { ...s, exists: true, ...d, correlation: "bekannt" };
    }
    case "TerminalAssigned":
      return { ...s, unitId: e.data.unitId, computeUnit: e.data.computeUnit, correlation: "zugewiesen" };
    case "TerminalPaired":
      return { ...s, correlation: "gepairt", certSerial: e.data.certSerial, certPem: e.data.certPem, secretRef: e.data.secretRef };
    case "TerminalConnected":
      return { ...s, connected: true, correlation: s.correlation === "gepairt" ? "aktiv" : s.correlation };
    case "TerminalConnectRefused":
      return { ...s, refusedConnects: s.refusedConnects + 1 };
    case "TerminalDisconnected":
      return { ...s, connected: false };
    case "TerminalUnpaired":
      return { ...s, correlation: "bekannt", unitId: "", computeUnit: 0, connected: false, certSerial: "", certPem: "", secretRef: "", cards: {} };
    case "CardInserted": {
      const { slot, handle, cardType, iccsn, certSerial, at } = e.data;
      return { ...s, cards: { ...s.cards, [String(slot)]: { handle, cardType, iccsn, certSerial, insertedAt: at } } };
    }
    case "CardRemoved": {
      const cards = { ...s.cards };
      delete cards[String(e.data.slot)];
      return { ...s, cards };
    }
    case "FirmwareUpdateStarted":
      return { ...s, correlation: "aktualisierend", targetFirmware: e.data.to };
    case "FirmwareUpdateFinished":
      return { ...s, correlation: "aktiv", firmware: e.data.firmware, targetFirmware: "" };
  }
}

export const terminalDecider: Decider<TerminalState, TerminalCommand, TerminalEvent> = { decide, evolve, initialState: initialTerminal };
