import { call, createClient, DomainError, ValidationError } from "@tigw/platform";
import { CardTerminalServiceClient } from "@tigw/contracts/cardterminal/v1/card_terminal";
import type * as kt from "@tigw/contracts/cardterminal/v1/card_terminal";

/** An instance of the session's practice, as the tunnel knows it. */
export interface OwnInstance {
  unit: string;
  unitId: string;
  mandanten: string[];
}

/** A refusal that looks the same whether the terminal is another practice's or does not exist. */
const notYours = (ctId: string) => new DomainError("PERMISSION_DENIED", `terminal ${ctId} is not one of your practice's`);

/**
 * The practice's card terminals, reached through its VPN box as they would be in the practice
 * network: a terminal pairs with the practice's instance for one of the practice's own Mandanten,
 * connects with its gSMC-KT and the pairing secret, keeps its connection with heartbeats, and
 * reports cards put into its slots. Every call is checked against the session's practice: a
 * terminal of another practice (or of no one's Mandant) is refused as if it did not exist.
 */
export class TunnelTerminals {
  private readonly kt: CardTerminalServiceClient;

  constructor(cardTerminalAddress: string) {
    this.kt = createClient(CardTerminalServiceClient, cardTerminalAddress, { deadlineMs: 60_000 });
  }

  close(): void {
    this.kt.close();
  }

  /**
   * Registers the terminal if it is new, pairs it with the instance (a KT slot of the licence) and
   * assigns it to the Mandant. A terminal some unit already has is paired again only if it is this
   * practice's. Answers the pairing secret (once, as the operator's pairing does).
   */
  async pair(
    inst: OwnInstance,
    b: { ctId: string; mac: string; certSerial: string; mandantId: string },
  ): Promise<{ terminal?: kt.Terminal; pairingSecret: string }> {
    if (!inst.mandanten.includes(b.mandantId)) throw new DomainError("PERMISSION_DENIED", `Mandant ${b.mandantId} is not one of your practice's`);
    // A new terminal, or one of this practice's paired again; never one someone else registered.
    const existing = await this.terminal(b.ctId);
    if (existing && !(await this.owns(inst, b.ctId))) throw notYours(b.ctId);
    if (!existing) {
      await call<kt.AddTerminalRequest, kt.AddTerminalResponse>(this.kt.addTerminal.bind(this.kt), {
        ctId: b.ctId,
        mac: b.mac,
        address: "",
        vendor: "",
        model: "",
        firmware: "",
      });
    }
    const r = await call<kt.PairTerminalRequest, kt.PairTerminalResponse>(this.kt.pairTerminal.bind(this.kt), {
      ctId: b.ctId,
      unit: inst.unitId,
      certSerial: b.certSerial,
    });
    await call<kt.ConfigureInfomodellRequest, kt.ConfigureInfomodellResponse>(this.kt.configureInfomodell.bind(this.kt), {
      unit: inst.unitId,
      action: "terminal",
      mandantId: b.mandantId,
      clientSystemId: "",
      workplaceId: "",
      clientSystemIds: [],
      ctId: b.ctId,
      kind: "",
      iccsn: "",
    });
    return { terminal: r.terminal, pairingSecret: Buffer.from(r.pairingSecret).toString("base64") };
  }

  /** The terminal side of a paired terminal of this practice: connect, heartbeat, cards. */
  async act(instances: OwnInstance[], ctId: string, action: string, body: Record<string, unknown>): Promise<unknown> {
    let own: OwnInstance | undefined;
    for (const inst of instances) if (!own && (await this.owns(inst, ctId))) own = inst;
    if (!own) throw notYours(ctId);
    const k = this.kt;
    switch (action) {
      case "connect/begin":
        return {
          challenge: Buffer.from((await call<kt.BeginConnectRequest, kt.BeginConnectResponse>(k.beginConnect.bind(k), { ctId })).challenge).toString("base64"),
        };
      case "connect/complete":
        return (
          await call<kt.CompleteConnectRequest, kt.CompleteConnectResponse>(k.completeConnect.bind(k), {
            ctId,
            challenge: b64(body, "challenge"),
            signature: b64(body, "signature"),
            secretProof: b64(body, "secretProof"),
          })
        ).terminal;
      case "heartbeat":
        return call<kt.HeartbeatRequest, kt.HeartbeatResponse>(k.heartbeat.bind(k), { ctId });
      case "cards":
        await this.mayInsert(own, text(body, "cardType"), text(body, "iccsn"));
        return (
          await call<kt.InsertCardRequest, kt.InsertCardResponse>(k.insertCard.bind(k), {
            ctId,
            slot: slotOf(body),
            cardType: text(body, "cardType"),
            iccsn: text(body, "iccsn"),
            certSerial: text(body, "certSerial", true),
            pin: text(body, "pin", true),
          })
        ).card;
      case "cards/remove":
        return call<kt.RemoveCardRequest, kt.RemoveCardResponse>(k.removeCard.bind(k), { ctId, slot: slotOf(body) });
      default:
        throw new DomainError("NOT_FOUND", `no terminal action ${action.slice(0, 40)} (connect/begin, connect/complete, heartbeat, cards, cards/remove)`);
    }
  }

  /**
   * Which cards a practice may put in through its box: a patient's eGK (or a Prüfkarte), and an
   * SMC-B the operator assigned to one of its Mandanten (the Infomodell's managed SM-Bs). An HBA
   * belongs to a person, not a Mandant, and nothing yet says whose: it is put in by the operator.
   */
  private async mayInsert(inst: OwnInstance, cardType: string, iccsn: string): Promise<void> {
    if (cardType === "EGK" || cardType === "PRUEFKARTE_EGK") return;
    if (cardType === "SMC-B") {
      const { infomodell } = await call<kt.GetInfomodellRequest, kt.GetInfomodellResponse>(this.kt.getInfomodell.bind(this.kt), { unit: inst.unitId });
      if ((infomodell?.mandanten ?? []).some((m) => inst.mandanten.includes(m.mandantId) && m.smbs.includes(iccsn))) return;
      throw new DomainError("PERMISSION_DENIED", "this SMC-B is not one of your practice's (the operator assigns a Mandant's SM-B)");
    }
    throw new DomainError("PERMISSION_DENIED", `a ${cardType.slice(0, 20)} is not put in through a VPN box (eGK, Prüfkarte and the practice's SMC-B are)`);
  }

  private async terminal(ctId: string): Promise<kt.Terminal | undefined> {
    try {
      return (await call<kt.GetTerminalRequest, kt.GetTerminalResponse>(this.kt.getTerminal.bind(this.kt), { ctId })).terminal;
    } catch (e) {
      if (e instanceof DomainError && /NOT_FOUND$/.test(e.code)) return undefined;
      throw e;
    }
  }

  /** The terminal is one of the instance's Mandanten of this practice (the Infomodell's assignment). */
  private async owns(inst: OwnInstance, ctId: string): Promise<boolean> {
    const { infomodell } = await call<kt.GetInfomodellRequest, kt.GetInfomodellResponse>(this.kt.getInfomodell.bind(this.kt), { unit: inst.unitId });
    return (infomodell?.mandanten ?? []).some((m) => inst.mandanten.includes(m.mandantId) && m.terminals.includes(ctId));
  }
}

function text(body: Record<string, unknown>, name: string, optional = false): string {
  const v = body[name];
  if (v === undefined && optional) return "";
  if (typeof v !== "string" || (!v && !optional)) throw new ValidationError("INVALID_ARGUMENT", name, `${name} is required (a string)`);
  return v;
}

function slotOf(body: Record<string, unknown>): number {
  const v = body["slot"] ?? 1;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > 16) throw new ValidationError("INVALID_ARGUMENT", "slot", "slot is a whole number 1-16");
  return v;
}

function b64(body: Record<string, unknown>, name: string): Buffer {
  const v = text(body, name);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(v)) throw new ValidationError("INVALID_ARGUMENT", name, `${name} must be base64`);
  return Buffer.from(v, "base64");
}
