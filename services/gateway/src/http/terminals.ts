import { Body, Controller, Get, HttpCode, Inject, Param, Post, Query } from "@nestjs/common";
import { ValidationError } from "@tigw/platform";
import type { CardTerminalApi, HsmApi } from "../grpc-clients.js";
import { CARD_TERMINAL, HSM } from "../tokens.js";
import { Access } from "./access.js";
import { field, stringsBody } from "./body.js";

/** Bytes travel as base64 in JSON. */
function bytes(body: unknown, name: string): Buffer {
  const v = field(body, name);
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(v)) throw new ValidationError("INVALID_REQUEST", name, `${name} must be base64`);
  return Buffer.from(v, "base64");
}
const b64 = (b: Uint8Array) => Buffer.from(b).toString("base64");

@Controller("api/v1")
export class TerminalsController {
  constructor(@Inject(CARD_TERMINAL) private readonly kt: CardTerminalApi) {}

  @Get("terminals")
  @Access({ role: "viewer", summary: "Card terminals, optionally of one unit (?unit=) and Mandant (?mandant=)" })
  list(@Query("unit") unit?: string, @Query("mandant") mandant?: string) {
    return this.kt.listTerminals({ unit: unit ?? "", mandantId: mandant ?? "" });
  }

  @Post("terminals")
  @Access({
    role: "operator",
    summary: "Register a card terminal (state bekannt)",
    body: stringsBody(["ctId", "mac"], ["address", "vendor", "model", "firmware"]),
    status: 201,
  })
  async add(@Body() body: unknown) {
    const o = { optional: true };
    return (
      await this.kt.addTerminal({
        ctId: field(body, "ctId"),
        mac: field(body, "mac"),
        address: field(body, "address", o),
        vendor: field(body, "vendor", o),
        model: field(body, "model", o),
        firmware: field(body, "firmware", o),
      })
    ).terminal;
  }

  @Get("terminals/:ctId")
  @Access({ role: "viewer", summary: "A card terminal with its state and cards" })
  async get(@Param("ctId") ctId: string) {
    return (await this.kt.getTerminal({ ctId })).terminal;
  }

  @Post("terminals/:ctId/pair")
  @HttpCode(200)
  @Access({
    role: "operator",
    summary:
      "Assign to a unit (reserves a KT slot; KT_LIMIT_REACHED beyond the licence) and pair with the terminal's gSMC-KT certificate; answers the pairing secret once",
    body: stringsBody(["unit", "certSerial"]),
  })
  async pair(@Param("ctId") ctId: string, @Body() body: unknown) {
    const r = await this.kt.pairTerminal({ ctId, unit: field(body, "unit"), certSerial: field(body, "certSerial") });
    return { terminal: r.terminal, pairingSecret: b64(r.pairingSecret) };
  }

  @Post("terminals/:ctId/unpair")
  @HttpCode(200)
  @Access({
    role: "operator",
    summary: "Remove the pairing (theft, loss, exchange): frees the slot, the terminal can no longer connect",
    body: stringsBody([], ["reason"]),
  })
  async unpair(@Param("ctId") ctId: string, @Body() body: unknown) {
    return (await this.kt.unpairTerminal({ ctId, reason: field(body, "reason", { optional: true }) })).terminal;
  }

  @Post("terminals/:ctId/connect/begin")
  @HttpCode(200)
  @Access({ role: "operator", summary: "Terminal side (simulators): a fresh connect challenge (base64)" })
  async begin(@Param("ctId") ctId: string) {
    return { challenge: b64((await this.kt.beginConnect({ ctId })).challenge) };
  }

  @Post("terminals/:ctId/connect/complete")
  @HttpCode(200)
  @Access({
    role: "operator",
    summary: "Terminal side (simulators): gSMC-KT signature over the challenge and HMAC-SHA256(secret, challenge), base64; CONNECT_REFUSED with the reason",
    body: stringsBody(["challenge", "signature", "secretProof"]),
  })
  async complete(@Param("ctId") ctId: string, @Body() body: unknown) {
    return (
      await this.kt.completeConnect({ ctId, challenge: bytes(body, "challenge"), signature: bytes(body, "signature"), secretProof: bytes(body, "secretProof") })
    ).terminal;
  }

  @Post("terminals/:ctId/heartbeat")
  @HttpCode(200)
  @Access({ role: "operator", summary: "Terminal side (simulators): keep-alive of a connected terminal" })
  heartbeat(@Param("ctId") ctId: string) {
    return this.kt.heartbeat({ ctId });
  }

  @Post("terminals/:ctId/disconnect")
  @HttpCode(200)
  @Access({ role: "operator", summary: "Terminal side (simulators): the terminal goes offline" })
  async disconnect(@Param("ctId") ctId: string) {
    return (await this.kt.disconnect({ ctId })).terminal;
  }

  @Post("terminals/:ctId/cards")
  @Access({
    role: "operator",
    summary: "Insert a card into a slot (EGK, HBA, SMC-B, PRUEFKARTE_EGK); an SMC-B/HBA seen first time takes its PIN",
    body: stringsBody(["cardType", "iccsn"], ["slot", "certSerial", "pin"]),
    status: 201,
  })
  async insert(@Param("ctId") ctId: string, @Body() body: unknown) {
    const slot = Number((body as { slot?: unknown })?.slot ?? 1);
    const o = { optional: true };
    return (
      await this.kt.insertCard({
        ctId,
        slot,
        cardType: field(body, "cardType"),
        iccsn: field(body, "iccsn"),
        certSerial: field(body, "certSerial", o),
        pin: field(body, "pin", o),
      })
    ).card;
  }

  @Post("cards/:handle/verify-pin")
  @HttpCode(200)
  @Access({ role: "operator", summary: "VerifyPin of an inserted SMC-B or HBA: OK, REJECTED (tries left), NOWBLOCKED, WASBLOCKED", body: stringsBody(["pin"]) })
  verifyPin(@Param("handle") handle: string, @Body() body: unknown) {
    return this.kt.verifyPin({ cardHandle: handle, pin: field(body, "pin"), fromPinPad: false });
  }

  @Get("cards/:handle/pin-status")
  @Access({ role: "viewer", summary: "GetPinStatus of an inserted card: VERIFIED, VERIFIABLE (tries left), BLOCKED, EMPTY_PIN" })
  pinStatus(@Param("handle") handle: string) {
    return this.kt.getPinStatus({ cardHandle: handle });
  }

  @Post("terminals/:ctId/cards/:slot/remove")
  @HttpCode(200)
  @Access({ role: "operator", summary: "Remove the card from a slot" })
  remove(@Param("ctId") ctId: string, @Param("slot") slot: string) {
    return this.kt.removeCard({ ctId, slot: Number(slot) });
  }

  @Get("units/:unit/cards")
  @Access({ role: "viewer", summary: "Cards currently inserted in the unit's terminals" })
  cards(@Param("unit") unit: string) {
    return this.kt.listCards({ unit });
  }

  @Get("units/:unit/infomodell")
  @Access({ role: "viewer", summary: "The unit's Infomodell: Mandanten, client systems, workplaces, terminals, managed SM-Bs" })
  async infomodell(@Param("unit") unit: string) {
    return (await this.kt.getInfomodell({ unit })).infomodell;
  }

  @Post("units/:unit/infomodell")
  @HttpCode(200)
  @Access({
    role: "operator",
    summary: "Change the Infomodell: action mandant | client-system | workplace | terminal | workplace-terminal | smb",
    body: stringsBody(["action"], ["mandantId", "clientSystemId", "workplaceId", "ctId", "kind", "iccsn"]),
  })
  async configure(@Param("unit") unit: string, @Body() body: unknown) {
    const o = { optional: true };
    const ids = (body as { clientSystemIds?: unknown })?.clientSystemIds;
    return (
      await this.kt.configureInfomodell({
        unit,
        action: field(body, "action"),
        mandantId: field(body, "mandantId", o),
        clientSystemId: field(body, "clientSystemId", o),
        workplaceId: field(body, "workplaceId", o),
        clientSystemIds: Array.isArray(ids) ? ids.map(String) : field(body, "clientSystemId", o) ? [field(body, "clientSystemId")] : [],
        ctId: field(body, "ctId", o),
        kind: field(body, "kind", o),
        iccsn: field(body, "iccsn", o),
      })
    ).infomodell;
  }

  @Post("units/:unit/access-check")
  @HttpCode(200)
  @Access({
    role: "operator",
    summary: "TUC_KON_000 for a call context; refusals carry the gematik code (4004-4021, 4204)",
    body: stringsBody(["mandantId", "clientSystemId"], ["workplaceId", "ctId", "cardHandle"]),
  })
  check(@Param("unit") unit: string, @Body() body: unknown) {
    const o = { optional: true };
    return this.kt.checkAccess({
      unit,
      mandantId: field(body, "mandantId"),
      clientSystemId: field(body, "clientSystemId"),
      workplaceId: field(body, "workplaceId", o),
      userId: "",
      ctId: field(body, "ctId", o),
      cardHandle: field(body, "cardHandle", o),
      workplaceRequired: false,
    });
  }
}

/**
 * Test-PKI cards for simulators: issue a card, let a practice card sign, let a terminal's gSMC-KT
 * prove a connect (keys never leave hsm; gSMC-K and gSMC-KT keys sign nothing on request).
 */
@Controller("api/v1/sim")
export class SimulatorController {
  constructor(@Inject(HSM) private readonly hsm: HsmApi) {}

  @Post("cards")
  @Access({
    role: "operator",
    summary: "Issue a test card (SMCB, HBA, EGK, GSMC_KT) with key and certificate from the test PKI",
    body: stringsBody(["cardType"], ["keyType", "holder", "iccsn"]),
    status: 201,
  })
  async issue(@Body() body: unknown) {
    const o = { optional: true };
    return (
      await this.hsm.issueCard({
        cardType: field(body, "cardType"),
        keyType: field(body, "keyType", o),
        holder: field(body, "holder", o),
        iccsn: field(body, "iccsn", o),
        notBefore: "",
        validityYears: 0,
      })
    ).certificate;
  }

  @Post("cards/:serial/sign")
  @HttpCode(200)
  @Access({
    role: "operator",
    summary: "A practice card (SMC-B, HBA, eGK) signs data (base64) with its key; any other key: 403 SIGNING_NOT_PERMITTED",
    body: stringsBody(["data"]),
  })
  async sign(@Param("serial") serial: string, @Body() body: unknown) {
    const r = await this.hsm.sign({ certSerial: serial, data: bytes(body, "data"), scheme: "" });
    return { signature: b64(r.signature), algorithm: r.algorithm };
  }

  @Post("cards/:serial/connect-proof")
  @HttpCode(200)
  @Access({
    role: "operator",
    summary: "A simulated terminal's gSMC-KT proves its key on the connect challenge (base64) of terminal ctId; other keys: 403 SIGNING_NOT_PERMITTED",
    body: stringsBody(["ctId", "challenge"]),
  })
  async connectProof(@Param("serial") serial: string, @Body() body: unknown) {
    const r = await this.hsm.proveTerminalKey({ certSerial: serial, ctId: field(body, "ctId"), challenge: bytes(body, "challenge") });
    return { signature: b64(r.signature) };
  }
}
