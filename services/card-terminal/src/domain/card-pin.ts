import { DomainError, type Decider } from "@tigw/platform";

/**
 * The PIN of an SMC-B or HBA (stream card-<iccsn>): three tries, then blocked; a verification
 * holds for the insertion (card handle) it was made in. The PIN itself is in the vault; events
 * carry only outcomes. Results as in gemSpec_Kon VerifyPin: OK, REJECTED, NOWBLOCKED, WASBLOCKED.
 */
export const PIN_TRIES = 3;
export type PinResult = "OK" | "REJECTED" | "NOWBLOCKED" | "WASBLOCKED";

export interface CardPinState {
  exists: boolean;
  iccsn: string;
  cardType: string;
  pinRef: string;
  leftTries: number;
  blocked: boolean;
  verifiedHandle: string;
}

export type CardPinCommand =
  { type: "Personalise"; iccsn: string; cardType: string; pinRef: string; at: string } | { type: "Verify"; handle: string; correct: boolean; at: string };

export type CardPinEvent =
  | { type: "CardPersonalised"; data: { iccsn: string; cardType: string; pinRef: string; at: string } }
  | { type: "PinVerified"; data: { iccsn: string; handle: string; at: string } }
  | { type: "PinRejected"; data: { iccsn: string; handle: string; leftTries: number; at: string } }
  | { type: "PinBlocked"; data: { iccsn: string; at: string } };

export const initialCardPin = (): CardPinState => ({
  exists: false,
  iccsn: "",
  cardType: "",
  pinRef: "",
  leftTries: PIN_TRIES,
  blocked: false,
  verifiedHandle: "",
});

/** What VerifyPin answers for the events decided. */
export function pinResult(events: CardPinEvent[], s: CardPinState): PinResult {
  if (events.some((e) => e.type === "PinBlocked")) return "NOWBLOCKED";
  if (events.some((e) => e.type === "PinRejected")) return "REJECTED";
  if (s.blocked) return "WASBLOCKED";
  return "OK";
}

export const cardPinDecider: Decider<CardPinState, CardPinCommand, CardPinEvent> = {
  initialState: initialCardPin,
  decide(c, s) {
    if (c.type === "Personalise")
      return s.exists ? [] : [{ type: "CardPersonalised", data: { iccsn: c.iccsn, cardType: c.cardType, pinRef: c.pinRef, at: c.at } }];
    if (!s.exists) throw new DomainError("PIN_NOT_SET", `card ${s.iccsn || "?"} has no PIN (insert it with --pin first)`);
    if (s.blocked) return [];
    if (c.correct) return [{ type: "PinVerified", data: { iccsn: s.iccsn, handle: c.handle, at: c.at } }];
    const leftTries = s.leftTries - 1;
    const rejected: CardPinEvent = { type: "PinRejected", data: { iccsn: s.iccsn, handle: c.handle, leftTries, at: c.at } };
    return leftTries > 0 ? [rejected] : [rejected, { type: "PinBlocked", data: { iccsn: s.iccsn, at: c.at } }];
  },
  evolve(s, e) {
    switch (e.type) {
      case "CardPersonalised":
        return { ...s, exists: true, iccsn: e.data.iccsn, cardType: e.data.cardType, pinRef: e.data.pinRef };
      case "PinVerified":
        return { ...s, leftTries: PIN_TRIES, verifiedHandle: e.data.handle };
      case "PinRejected":
        return { ...s, leftTries: e.data.leftTries, verifiedHandle: "" };
      case "PinBlocked":
        return { ...s, blocked: true, verifiedHandle: "" };
    }
  },
};
