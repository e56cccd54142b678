import { DomainError, type Decider } from "@tigw/platform";

/**
 * The PIN of an SMC-B or HBA (stream card-<iccsn>): three tries, then blocked; a verification
 * holds for the insertion (card handle) it was made in. The PIN itself is in the vault; events
 * carry only outcomes. Results as in gemSpec_Kon VerifyPin: OK, REJECTED, NOWBLOCKED, WASBLOCKED.
 */
export const PIN_TRIES = 3;
/** A PUK unblocks a blocked PIN; after ten wrong PUKs the card's PIN is lost for good. */
export const PUK_TRIES = 10;
export type PinResult = "OK" | "REJECTED" | "NOWBLOCKED" | "WASBLOCKED";

export interface CardPinState {
  exists: boolean;
  iccsn: string;
  cardType: string;
  pinRef: string;
  leftTries: number;
  blocked: boolean;
  verifiedHandle: string;
  /** Vault reference of the PUK ("" on cards personalised before cards had one). */
  pukRef: string;
  pukLeftTries: number;
}

export type CardPinCommand =
  | { type: "Personalise"; iccsn: string; cardType: string; pinRef: string; pukRef?: string; at: string }
  | { type: "Verify"; handle: string; correct: boolean; at: string }
  /** ChangePin: the old PIN typed (right or not) and where the new one is kept. */
  | { type: "ChangePin"; handle: string; correct: boolean; newPinRef: string; at: string }
  /** UnblockPin: the PUK typed (right or not), and a new PIN's reference when one was set. */
  | { type: "UnblockPin"; handle: string; pukCorrect: boolean; newPinRef?: string; at: string };

export type CardPinEvent =
  | { type: "CardPersonalised"; data: { iccsn: string; cardType: string; pinRef: string; pukRef?: string; at: string } }
  | { type: "PinVerified"; data: { iccsn: string; handle: string; at: string } }
  | { type: "PinRejected"; data: { iccsn: string; handle: string; leftTries: number; at: string } }
  | { type: "PinBlocked"; data: { iccsn: string; at: string } }
  | { type: "PinChanged"; data: { iccsn: string; handle: string; pinRef: string; at: string } }
  | { type: "PinUnblocked"; data: { iccsn: string; handle: string; pinRef?: string; at: string } }
  | { type: "PukRejected"; data: { iccsn: string; handle: string; leftTries: number; at: string } };

export const initialCardPin = (): CardPinState => ({
  exists: false,
  iccsn: "",
  cardType: "",
  pinRef: "",
  leftTries: PIN_TRIES,
  blocked: false,
  verifiedHandle: "",
  pukRef: "",
  pukLeftTries: PUK_TRIES,
});

/** What VerifyPin, ChangePin and UnblockPin answer for the events decided. */
export function pinResult(events: CardPinEvent[], s: CardPinState): PinResult {
  if (events.some((e) => e.type === "PinBlocked")) return "NOWBLOCKED";
  if (events.some((e) => e.type === "PinRejected")) return "REJECTED";
  if (events.some((e) => e.type === "PukRejected")) return s.pukLeftTries > 0 ? "REJECTED" : "NOWBLOCKED";
  if (events.some((e) => e.type === "PinUnblocked")) return "OK";
  if (s.blocked) return "WASBLOCKED";
  return "OK";
}

export const cardPinDecider: Decider<CardPinState, CardPinCommand, CardPinEvent> = {
  initialState: initialCardPin,
  decide(c, s) {
    if (c.type === "Personalise")
      return s.exists ? [] : [{ type: "CardPersonalised", data: { iccsn: c.iccsn, cardType: c.cardType, pinRef: c.pinRef, pukRef: c.pukRef, at: c.at } }];
    if (!s.exists) throw new DomainError("PIN_NOT_SET", `card ${s.iccsn || "?"} has no PIN (insert it with --pin first)`);
    if (c.type === "UnblockPin") {
      if (!s.pukRef) throw new DomainError("PUK_NOT_SET", `card ${s.iccsn} has no PUK (personalised before cards had one)`);
      if (s.pukLeftTries <= 0) return [];
      if (c.pukCorrect) return [{ type: "PinUnblocked", data: { iccsn: s.iccsn, handle: c.handle, pinRef: c.newPinRef, at: c.at } }];
      return [{ type: "PukRejected", data: { iccsn: s.iccsn, handle: c.handle, leftTries: s.pukLeftTries - 1, at: c.at } }];
    }
    if (s.blocked) return [];
    if (c.type === "ChangePin" && c.correct) return [{ type: "PinChanged", data: { iccsn: s.iccsn, handle: c.handle, pinRef: c.newPinRef, at: c.at } }];
    if (c.correct) return [{ type: "PinVerified", data: { iccsn: s.iccsn, handle: c.handle, at: c.at } }];
    const leftTries = s.leftTries - 1;
    const rejected: CardPinEvent = { type: "PinRejected", data: { iccsn: s.iccsn, handle: c.handle, leftTries, at: c.at } };
    return leftTries > 0 ? [rejected] : [rejected, { type: "PinBlocked", data: { iccsn: s.iccsn, at: c.at } }];
  },
  evolve(s, e) {
    switch (e.type) {
      case "CardPersonalised":
        return {
          ...s,
          exists: true,
          iccsn: e.data.iccsn,
          cardType: e.data.cardType,
          pinRef: e.data.pinRef,
          pukRef: e.data.pukRef ?? "",
          pukLeftTries: PUK_TRIES,
        };
      case "PinVerified":
        return { ...s, leftTries: PIN_TRIES, verifiedHandle: e.data.handle };
      case "PinRejected":
        return { ...s, leftTries: e.data.leftTries, verifiedHandle: "" };
      case "PinBlocked":
        return { ...s, blocked: true, verifiedHandle: "" };
      // A changed PIN counts as verified in this insertion, as the card's security status has it.
      case "PinChanged":
        return { ...s, pinRef: e.data.pinRef, leftTries: PIN_TRIES, verifiedHandle: e.data.handle };
      case "PinUnblocked":
        return { ...s, pinRef: e.data.pinRef ?? s.pinRef, blocked: false, leftTries: PIN_TRIES, pukLeftTries: s.pukLeftTries, verifiedHandle: "" };
      case "PukRejected":
        return { ...s, pukLeftTries: e.data.leftTries };
    }
  },
};
