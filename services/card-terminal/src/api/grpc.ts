import { unary, type GrpcServiceBinding } from "@tigw/platform";
import * as pb from "@tigw/contracts/cardterminal/v1/card_terminal";
import type { CardTerminals, CardView, TerminalView } from "../application/card-terminals.js";
import type { InfomodellState } from "../domain/infomodell.js";

const toCard = (c: CardView): pb.Card => ({
  slot: c.slot,
  cardHandle: c.handle,
  cardType: c.cardType,
  iccsn: c.iccsn,
  certSerial: c.certSerial,
  insertedAt: c.insertedAt,
  ctId: c.ctId,
});

export function toTerminal(t: TerminalView): pb.Terminal {
  return {
    ctId: t.ctId,
    mac: t.mac,
    address: t.address,
    vendor: t.vendor,
    model: t.model,
    firmware: t.firmware,
    unitId: t.unitId,
    computeUnit: t.computeUnit,
    correlation: t.correlation,
    connected: t.connected,
    certSerial: t.certSerial,
    cards: Object.entries(t.cards).map(([slot, c]) => toCard({ ...c, slot: Number(slot), ctId: t.ctId })),
    refusedConnects: t.refusedConnects,
    version: String(t.version),
  };
}

const toInfomodell = (i: InfomodellState): pb.Infomodell => ({
  unitId: i.unitId,
  mandanten: Object.entries(i.mandanten).map(([mandantId, m]) => ({
    mandantId,
    clientSystems: m.clientSystems,
    workplaces: m.workplaces,
    terminals: m.terminals,
    smbs: m.smbs,
  })),
  workplaces: Object.entries(i.workplaces).map(([workplaceId, w]) => ({
    workplaceId,
    clientSystems: w.clientSystems,
    localTerminals: w.local,
    remoteTerminals: w.remote,
  })),
  clientAuth: i.clientAuth ?? "none",
  clientSystemCredentials: Object.entries(i.credentials ?? {}).map(([clientSystemId, c]) => ({
    clientSystemId,
    hasPassword: !!c.passwordRef,
    certFingerprint: c.certFingerprint ?? "",
    certSubject: c.certSubject ?? "",
  })),
});

/** tigw.cardterminal.v1.CardTerminalService over the application. */
export function cardTerminalGrpc(c: CardTerminals, resolveUnit: (unit: string) => Promise<string>): GrpcServiceBinding {
  const impl: pb.CardTerminalServiceServer = {
    addTerminal: unary(async (r: pb.AddTerminalRequest) => ({ terminal: toTerminal(await c.add(r)) })),
    pairTerminal: unary(async (r: pb.PairTerminalRequest) => {
      const { terminal, secret } = await c.pair(r.ctId, r.unit, r.certSerial);
      return { terminal: toTerminal(terminal), pairingSecret: secret };
    }),
    beginConnect: unary(async (r: pb.BeginConnectRequest) => ({ challenge: await c.beginConnect(r.ctId) })),
    completeConnect: unary(async (r: pb.CompleteConnectRequest) => ({
      terminal: toTerminal(await c.completeConnect(r.ctId, Buffer.from(r.challenge), Buffer.from(r.signature), Buffer.from(r.secretProof))),
    })),
    heartbeat: unary(async (r: pb.HeartbeatRequest) => ({ seenAt: await c.heartbeat(r.ctId) })),
    disconnect: unary(async (r: pb.DisconnectRequest) => ({ terminal: toTerminal(await c.disconnect(r.ctId)) })),
    unpairTerminal: unary(async (r: pb.UnpairTerminalRequest) => ({ terminal: toTerminal(await c.unpair(r.ctId, r.reason)) })),
    updateFirmware: unary(async (r: pb.UpdateFirmwareRequest) => ({ terminal: toTerminal(await c.updateFirmware(r.ctId, r.phase, r.firmware, r.succeeded)) })),
    getTerminal: unary(async (r: pb.GetTerminalRequest) => ({ terminal: toTerminal(await c.terminal(r.ctId)) })),
    listTerminals: unary(async (r: pb.ListTerminalsRequest) => {
      const unitId = r.unit ? await resolveUnit(r.unit) : undefined;
      let list = await c.list(unitId);
      if (r.mandantId && unitId) {
        const mine = (await c.infomodell(unitId)).mandanten[r.mandantId]?.terminals ?? [];
        list = list.filter((t) => mine.includes(t.ctId));
      }
      return { terminals: list.map(toTerminal) };
    }),
    insertCard: unary(async (r: pb.InsertCardRequest) => ({ card: toCard(await c.insertCard(r.ctId, { ...r, pin: r.pin || undefined })) })),
    removeCard: unary(async (r: pb.RemoveCardRequest) => ({ removed: await c.removeCard(r.ctId, r.slot) })),
    verifyPin: unary(async (r: pb.VerifyPinRequest) => await c.verifyPin(r.cardHandle, r.pin, r.fromPinPad)),
    setClientAuth: unary(async (r: pb.SetClientAuthRequest) => ({ infomodell: toInfomodell(await c.setClientAuth(r.unit, r.mode)) })),
    setClientSystemCredential: unary(async (r: pb.SetClientSystemCredentialRequest) => ({
      infomodell: toInfomodell(await c.setClientSystemCredential(r.unit, r.clientSystemId, { password: r.password, certPem: r.certPem })),
    })),
    authenticateClient: unary(async (r: pb.AuthenticateClientRequest) =>
      c.authenticateClient(r.unit, r.clientSystemId, { basicUser: r.basicUser, password: r.password, certFingerprint: r.certFingerprint }),
    ),
    changePin: unary(async (r: pb.ChangePinRequest) => await c.changePin(r.cardHandle)),
    unblockPin: unary(async (r: pb.UnblockPinRequest) => await c.unblockPin(r.cardHandle, r.setNewPin)),
    enterPin: unary(async (r: pb.EnterPinRequest) => ({ queued: await c.enterPin(r.ctId, r.pin) })),
    getPinStatus: unary(async (r: pb.GetPinStatusRequest) => await c.pinStatus(r.cardHandle)),
    listCards: unary(async (r: pb.ListCardsRequest) => ({ cards: (await c.cards(await resolveUnit(r.unit))).map(toCard) })),
    configureInfomodell: unary(async (r: pb.ConfigureInfomodellRequest) => ({ infomodell: toInfomodell(await c.configure(r.unit, r)) })),
    getInfomodell: unary(async (r: pb.GetInfomodellRequest) => ({ infomodell: toInfomodell(await c.infomodell(await resolveUnit(r.unit))) })),
    checkAccess: unary(async (r: pb.CheckAccessRequest) => {
      const card = await c.checkAccess(
        r.unit,
        { mandantId: r.mandantId, clientSystemId: r.clientSystemId, workplaceId: r.workplaceId, userId: r.userId },
        { ctId: r.ctId, cardHandle: r.cardHandle, workplaceRequired: r.workplaceRequired },
      );
      return { allowed: true, card: card ? toCard(card) : undefined };
    }),
  };
  return { name: "tigw.cardterminal.v1.CardTerminalService", definition: pb.CardTerminalServiceService, implementation: impl };
}
