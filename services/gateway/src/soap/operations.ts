import { createHash, X509Certificate } from "node:crypto";
import { OID_GEM_OR_CP, policiesOf } from "@tigw/hsm";
import type * as kt from "@tigw/contracts/cardterminal/v1/card_terminal";
import type { CardTerminalApi, HsmApi, VpnApi, VsdmApi } from "../grpc-clients.js";
import { SoapFault, SYNTAX_ERROR } from "./envelope.js";
import { pinEvent, type PinAction, type Subscription, type UnitEvents } from "./cetp.js";
import { productInformationXml } from "./directory.js";
import { EventFilter } from "./filter.js";
import { NS } from "./services.js";
import { child, childText, esc, type XmlElement } from "@tigw/platform";

/** The call context of a request (ConnectorContext.xsd): this is how a client names its tenant. */
export interface CallContext {
  mandantId: string;
  clientSystemId: string;
  workplaceId: string;
  userId: string;
}

/** What an operation works with: the unit the endpoint belongs to and the services behind it. */
export interface OperationScope {
  unit: { unitId: string; serial: string; profile: string; firmware: string };
  cardTerminal: CardTerminalApi;
  hsm: HsmApi;
  vsdm: VsdmApi;
  vpn: VpnApi;
  /** The unit's subscriptions and CETP push. */
  events: UnitEvents;
  now(): Date;
}

export type Operation = (request: XmlElement, scope: OperationScope) => Promise<string>;

const OK_STATUS = `<CONN:Status xmlns:CONN="${NS.conn}"><CONN:Result>OK</CONN:Result></CONN:Status>`;
const ID_MAX = 64;

/** The Context of a request; each id at most 64 characters (the schema's limit), a missing Context is 4021. */
export function contextOf(request: XmlElement): CallContext {
  const c = child(request, NS.cctx, "Context");
  if (!c) throw new SoapFault(4021, `${request.local} has no Context (MandantId, ClientSystemId, WorkplaceId)`, true);
  const id = (name: string) => {
    const v = childText(c, NS.conn, name) ?? "";
    if (v.length > ID_MAX) throw new SoapFault(SYNTAX_ERROR, `${name} has ${v.length} characters; at most ${ID_MAX}`, true);
    return v;
  };
  return { mandantId: id("MandantId"), clientSystemId: id("ClientSystemId"), workplaceId: id("WorkplaceId"), userId: id("UserId") };
}

/** A required child's text, or a syntax fault naming it. */
function required(el: XmlElement, ns: string, name: string): string {
  const v = childText(el, ns, name);
  if (v === undefined || v === "") throw new SoapFault(SYNTAX_ERROR, `${el.local} needs ${name}`, true);
  return v;
}

/** TUC_KON_000 in card-terminal: refusals come back with their gematik code (4004-4021, 4204). */
async function checkAccess(
  s: OperationScope,
  ctx: CallContext,
  target: { ctId?: string; cardHandle?: string; workplaceRequired?: boolean } = {},
): Promise<kt.Card | undefined> {
  const r = await s.cardTerminal.checkAccess({
    unit: s.unit.unitId,
    mandantId: ctx.mandantId,
    clientSystemId: ctx.clientSystemId,
    workplaceId: ctx.workplaceId,
    userId: ctx.userId,
    ctId: target.ctId ?? "",
    cardHandle: target.cardHandle ?? "",
    workplaceRequired: target.workplaceRequired ?? false,
  });
  return r.card;
}

/** The gematik card type of a card (a Prüfkarte is an eGK to practice software). */
const cardType = (t: string) => (t === "PRUEFKARTE_EGK" ? "EGK" : t);
const isEgk = (t: string) => t === "EGK" || t === "PRUEFKARTE_EGK";

interface CardCertificate {
  commonName: string;
  notAfter: string;
  pem: string;
  keyType: string;
  issuer: string;
  certSerial: string;
}

/** The AUT certificate of a card (hsm), for holder name, expiry and ReadCardCertificate. */
async function certificateOf(s: OperationScope, card: kt.Card): Promise<CardCertificate | undefined> {
  if (!card.certSerial) return undefined;
  const { certificate } = await s.hsm.getCertificate({ certSerial: card.certSerial });
  return certificate;
}

/**
 * CARD:Card (CardInfoType) as a Konnektor fills it: handle, type, CardVersion, ICCSN, terminal
 * and slot, insert time, the holder's name and the certificate's expiry from the card's AUT
 * certificate, and for an eGK the KVNR. The simulated cards are of generation G2.1 (COS 4.4.0).
 */
async function cardXml(s: OperationScope, card: kt.Card): Promise<string> {
  const cert = await certificateOf(s, card);
  const v = (major: number, minor: number, revision: number) =>
    `<CARD:Major>${major}</CARD:Major><CARD:Minor>${minor}</CARD:Minor><CARD:Revision>${revision}</CARD:Revision>`;
  const kvnr = isEgk(card.cardType) ? /\b([A-Z]\d{9})\b/.exec(cert?.commonName ?? "")?.[1] : undefined;
  return (
    `<CARD:Card xmlns:CARD="${NS.card}" xmlns:CONN="${NS.conn}" xmlns:CARDCMN="${NS.cardcmn}">` +
    `<CONN:CardHandle>${esc(card.cardHandle)}</CONN:CardHandle><CARDCMN:CardType>${esc(cardType(card.cardType))}</CARDCMN:CardType>` +
    `<CARD:CardVersion><CARD:COSVersion>${v(4, 4, 0)}</CARD:COSVersion><CARD:ObjectSystemVersion>${v(4, 5, 0)}</CARD:ObjectSystemVersion></CARD:CardVersion>` +
    (card.iccsn ? `<CARDCMN:Iccsn>${esc(card.iccsn)}</CARDCMN:Iccsn>` : "") +
    `<CARDCMN:CtId>${esc(card.ctId)}</CARDCMN:CtId><CARDCMN:SlotId>${card.slot}</CARDCMN:SlotId>` +
    `<CARD:InsertTime>${esc(new Date(card.insertedAt).toISOString())}</CARD:InsertTime>` +
    (cert ? `<CARD:CardHolderName>${esc(cert.commonName)}</CARD:CardHolderName>` : "") +
    (kvnr ? `<CARD:Kvnr>${kvnr}</CARD:Kvnr>` : "") +
    (cert ? `<CARD:CertificateExpirationDate>${cert.notAfter.slice(0, 10)}</CARD:CertificateExpirationDate>` : "") +
    `</CARD:Card>`
  );
}

/** Terminals a context may see: the Mandant's, and without mandant-wide only those local or remote to its workplace. */
async function visibleTerminals(s: OperationScope, ctx: CallContext, mandantWide: boolean): Promise<Set<string>> {
  const { infomodell } = await s.cardTerminal.getInfomodell({ unit: s.unit.unitId });
  const m = infomodell?.mandanten.find((x) => x.mandantId === ctx.mandantId);
  const own = new Set(m?.terminals ?? []);
  if (mandantWide || !ctx.workplaceId) return own;
  const wp = infomodell?.workplaces.find((w) => w.workplaceId === ctx.workplaceId);
  return new Set([...(wp?.localTerminals ?? []), ...(wp?.remoteTerminals ?? [])].filter((t) => own.has(t)));
}

const mandantWide = (request: XmlElement) => /^(true|1)$/.test(request.attrs["mandant-wide"] ?? "");

function slotFilter(request: XmlElement): number | undefined {
  const slot = childText(request, NS.cardcmn, "SlotId");
  if (slot === undefined) return undefined;
  if (!/^[1-9]\d{0,3}$/.test(slot)) throw new SoapFault(SYNTAX_ERROR, `SlotId "${slot.slice(0, 20)}" is not a positive number`, true);
  return Number(slot);
}

/** EventService GetCards: filters CtId, SlotId, CardType; mandant-wide widens from the workplace's terminals to the Mandant's. */
const getCards: Operation = async (request, s) => {
  const ctx = contextOf(request);
  const ctId = childText(request, NS.cardcmn, "CtId");
  const slot = slotFilter(request);
  const type = childText(request, NS.cardcmn, "CardType");
  await checkAccess(s, ctx, { ctId });
  const visible = await visibleTerminals(s, ctx, mandantWide(request));
  const { cards } = await s.cardTerminal.listCards({ unit: s.unit.unitId });
  const chosen = cards
    .filter((c) => visible.has(c.ctId) && (!ctId || c.ctId === ctId) && (slot === undefined || c.slot === slot) && (!type || cardType(c.cardType) === type))
    .sort((a, b) => a.ctId.localeCompare(b.ctId) || a.slot - b.slot);
  const xml = await Promise.all(chosen.map((c) => cardXml(s, c)));
  return `<EVT:GetCardsResponse xmlns:EVT="${NS.evt}">${OK_STATUS}<CARD:Cards xmlns:CARD="${NS.card}">${xml.join("")}</CARD:Cards></EVT:GetCardsResponse>`;
};

const MAC = /^([0-9A-Fa-f]{2})[:-]([0-9A-Fa-f]{2})[:-]([0-9A-Fa-f]{2})[:-]([0-9A-Fa-f]{2})[:-]([0-9A-Fa-f]{2})[:-]([0-9A-Fa-f]{2})$/;
const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const VERSION = /^\d{1,3}\.\d{1,3}\.\d{1,3}$/;

/** CT:CardTerminal (CardTerminalInfo.xsd): product data of the terminal, workplaces, MAC, address, slots, connection. */
function terminalXml(t: kt.Terminal, workplaces: string[], now: Date): string {
  const mac = MAC.exec(t.mac)?.slice(1).join("-") ?? "00-00-00-00-00-00";
  const host = t.address.replace(/:\d+$/, "");
  const ip = IPV4.test(host) && host.split(".").every((o) => Number(o) <= 255) ? `<CT:IPAddress><CT:IPV4Address>${host}</CT:IPV4Address></CT:IPAddress>` : "";
  const id = (x: string, n: number) => x.replace(/[^A-Za-z0-9_]/g, "").slice(0, n) || "KT";
  const pi =
    `<PI:ProductInformation xmlns:PI="${NS.pi}"><PI:InformationDate>${now.toISOString()}</PI:InformationDate>` +
    `<PI:ProductTypeInformation><PI:ProductType>KT</PI:ProductType><PI:ProductTypeVersion>1.0.0</PI:ProductTypeVersion></PI:ProductTypeInformation>` +
    `<PI:ProductIdentification><PI:ProductVendorID>${esc(id(t.vendor, 5))}</PI:ProductVendorID><PI:ProductCode>${esc(id(t.model, 8))}</PI:ProductCode>` +
    `<PI:ProductVersion><PI:Local><PI:HWVersion>1.0.0</PI:HWVersion><PI:FWVersion>${VERSION.test(t.firmware) ? t.firmware : "0.0.0"}</PI:FWVersion></PI:Local></PI:ProductVersion></PI:ProductIdentification>` +
    `<PI:ProductMiscellaneous><PI:ProductVendorName>${esc(t.vendor || "unknown")}</PI:ProductVendorName><PI:ProductName>${esc(t.model || "eHealth-KT")}</PI:ProductName></PI:ProductMiscellaneous></PI:ProductInformation>`;
  return (
    `<CT:CardTerminal xmlns:CT="${NS.ct}" xmlns:CARDCMN="${NS.cardcmn}" xmlns:CONN="${NS.conn}">${pi}<CARDCMN:CtId>${esc(t.ctId)}</CARDCMN:CtId>` +
    `<CONN:WorkplaceIds>${workplaces.map((w) => `<CONN:WorkplaceId>${esc(w)}</CONN:WorkplaceId>`).join("")}</CONN:WorkplaceIds>` +
    `<CT:Name>${esc(`${t.vendor} ${t.model} ${t.ctId}`.trim())}</CT:Name><CT:MacAddress>${mac}</CT:MacAddress>${ip}` +
    `<CT:Slots>4</CT:Slots><CT:IS_PHYSICAL>true</CT:IS_PHYSICAL><CT:Connected>${t.connected}</CT:Connected></CT:CardTerminal>`
  );
}

async function terminalsWithWorkplaces(s: OperationScope): Promise<{ terminals: kt.Terminal[]; workplacesOf: (ctId: string) => string[] }> {
  const [{ terminals }, { infomodell }] = await Promise.all([
    s.cardTerminal.listTerminals({ unit: s.unit.unitId, mandantId: "" }),
    s.cardTerminal.getInfomodell({ unit: s.unit.unitId }),
  ]);
  const workplacesOf = (ctId: string) =>
    (infomodell?.workplaces ?? []).filter((w) => w.localTerminals.includes(ctId) || w.remoteTerminals.includes(ctId)).map((w) => w.workplaceId);
  return { terminals, workplacesOf };
}

/** EventService GetCardTerminals: the terminals the context may see. */
const getCardTerminals: Operation = async (request, s) => {
  const ctx = contextOf(request);
  await checkAccess(s, ctx);
  const visible = await visibleTerminals(s, ctx, mandantWide(request));
  const { terminals, workplacesOf } = await terminalsWithWorkplaces(s);
  const now = s.now();
  const xml = terminals
    .filter((t) => visible.has(t.ctId))
    .sort((a, b) => a.ctId.localeCompare(b.ctId))
    .map((t) => terminalXml(t, workplacesOf(t.ctId), now));
  return `<EVT:GetCardTerminalsResponse xmlns:EVT="${NS.evt}">${OK_STATUS}<CT:CardTerminals xmlns:CT="${NS.ct}">${xml.join("")}</CT:CardTerminals></EVT:GetCardTerminalsResponse>`;
};

/**
 * EventService GetResourceInformation: the card (by CardHandle, or CtId+SlotId, or ICCSN), the
 * terminal (by CtId or the card's) and the Konnektor's state: TI connection from vpn (a
 * TI-Gateway has no SIS, so VPNSISStatus is Offline), the operating state EC_No_VPN_TI_Connection.
 */
const getResourceInformation: Operation = async (request, s) => {
  const ctx = contextOf(request);
  const handle = childText(request, NS.conn, "CardHandle");
  const iccsn = childText(request, NS.cardcmn, "Iccsn");
  const slot = slotFilter(request);
  let ctId = childText(request, NS.cardcmn, "CtId");
  await checkAccess(s, ctx, { ctId, cardHandle: handle });
  const visible = await visibleTerminals(s, ctx, true);
  const { cards } = await s.cardTerminal.listCards({ unit: s.unit.unitId });
  const card = cards.find(
    (c) =>
      visible.has(c.ctId) &&
      (handle ? c.cardHandle === handle : iccsn ? c.iccsn === iccsn : ctId !== undefined && slot !== undefined && c.ctId === ctId && c.slot === slot),
  );
  if ((handle || iccsn) && !card) throw new SoapFault(4008, `no such card is inserted in a terminal of Mandant ${ctx.mandantId}`, false);
  ctId ??= card?.ctId;
  const { terminals, workplacesOf } = await terminalsWithWorkplaces(s);
  const terminal = ctId && visible.has(ctId) ? terminals.find((t) => t.ctId === ctId) : undefined;
  const now = s.now();
  const ti = await s.vpn.getTiAccess({ unit: s.unit.unitId });
  const status = (online: boolean) =>
    `<CONN:ConnectionStatus>${online ? "Online" : "Offline"}</CONN:ConnectionStatus><CONN:Timestamp>${now.toISOString()}</CONN:Timestamp>`;
  const connector =
    `<CONN:Connector xmlns:CONN="${NS.conn}"><CONN:VPNTIStatus>${status(ti.tiAccess)}</CONN:VPNTIStatus><CONN:VPNSISStatus>${status(false)}</CONN:VPNSISStatus>` +
    `<CONN:OperatingState><CONN:ErrorState><CONN:ErrorCondition>EC_No_VPN_TI_Connection</CONN:ErrorCondition><CONN:Severity>Error</CONN:Severity>` +
    `<CONN:Type>Infrastructure</CONN:Type><CONN:Value>${!ti.tiAccess}</CONN:Value><CONN:ValidFrom>${now.toISOString()}</CONN:ValidFrom></CONN:ErrorState></CONN:OperatingState></CONN:Connector>`;
  return (
    `<EVT:GetResourceInformationResponse xmlns:EVT="${NS.evt}">${OK_STATUS}` +
    (card ? await cardXml(s, card) : "") +
    (terminal ? terminalXml(terminal, workplacesOf(terminal.ctId), now) : "") +
    `${connector}</EVT:GetResourceInformationResponse>`
  );
};

/** The PIN a CardService call names: PIN.SMC of an SMC-B, PIN.CH of an HBA (the only PINs the simulated cards have). */
function checkPinType(request: XmlElement, card: kt.Card): string {
  const pinTyp = required(request, NS.cardcmn, "PinTyp");
  const expected = card.cardType === "SMC-B" ? "PIN.SMC" : card.cardType === "HBA" ? "PIN.CH" : undefined;
  if (!expected)
    throw new SoapFault(4209, `a ${cardType(card.cardType)} has no PIN this Konnektor manages; PIN operations are for SMC-B (PIN.SMC) and HBA (PIN.CH)`, false);
  if (pinTyp !== expected) throw new SoapFault(4072, `PinTyp ${pinTyp.slice(0, 64)} does not fit a ${card.cardType}: use ${expected}`, true);
  return expected;
}

/**
 * A PIN entry at the card's terminal, announced over CETP as a Konnektor does: _STARTED before
 * the terminal asks for the PIN, _FINISHED when the entry is over, whatever its outcome (also
 * when it failed), so a practice's "enter the PIN at the terminal" dialog always closes.
 */
async function pinEntry<T>(s: OperationScope, card: kt.Card, action: PinAction, pinRef: string, run: () => Promise<T>): Promise<T> {
  await s.events.publish(pinEvent(action, "STARTED", card, pinRef));
  try {
    return await run();
  } finally {
    await s.events.publish(pinEvent(action, "FINISHED", card, pinRef));
  }
}

/** A card handle the access check confirmed; SMC-B, HBA and eGK checks run there (4008, 4009, 4013, 4016 ...). */
async function accessibleCard(request: XmlElement, s: OperationScope, ns: string, workplaceRequired = false): Promise<{ ctx: CallContext; card: kt.Card }> {
  const ctx = contextOf(request);
  const handle = required(request, ns, "CardHandle");
  const card = await checkAccess(s, ctx, { cardHandle: handle, workplaceRequired });
  if (!card) throw new SoapFault(4008, `no card with handle ${handle} is inserted`, false);
  return { ctx, card };
}

/**
 * CardService VerifyPin. The request carries no PIN: the holder types it at the card's terminal.
 * The simulated PIN pad types the card's own PIN unless a test queued another entry (EnterPin),
 * so wrong entries, blocking after three and WASBLOCKED can be played through.
 */
const verifyPin: Operation = async (request, s) => {
  const { card } = await accessibleCard(request, s, NS.conn);
  const pinRef = checkPinType(request, card);
  const r = await pinEntry(s, card, "VERIFY", pinRef, () => s.cardTerminal.verifyPin({ cardHandle: card.cardHandle, pin: "", fromPinPad: true }));
  return (
    `<CARD:VerifyPinResponse xmlns:CARD="${NS.card}" xmlns:CARDCMN="${NS.cardcmn}">${OK_STATUS}<CARDCMN:PinResult>${esc(r.result)}</CARDCMN:PinResult>` +
    (r.result === "OK" ? "" : `<CARDCMN:LeftTries>${r.leftTries}</CARDCMN:LeftTries>`) +
    `</CARD:VerifyPinResponse>`
  );
};

/** A PinResponseType answer (ChangePin, UnblockPin); a PIN entry that never came (the simulated PIN pad was empty) is PinResult ERROR. */
async function pinAnswer(element: string, run: () => Promise<{ result: string; leftTries: number }>): Promise<string> {
  let r: { result: string; leftTries: number };
  try {
    r = await run();
  } catch (e) {
    if ((e as { code?: string }).code !== "PIN_PAD_EMPTY") throw e;
    r = { result: "ERROR", leftTries: -1 };
  }
  return (
    `<CARD:${element} xmlns:CARD="${NS.card}" xmlns:CARDCMN="${NS.cardcmn}">${OK_STATUS}<CARDCMN:PinResult>${esc(r.result)}</CARDCMN:PinResult>` +
    (r.result === "OK" || r.leftTries < 0 ? "" : `<CARDCMN:LeftTries>${r.leftTries}</CARDCMN:LeftTries>`) +
    `</CARD:${element}>`
  );
}

/** CardService ChangePin: old and new PIN typed at the card's terminal (the simulated PIN pad's queue). */
const changePin: Operation = async (request, s) => {
  const { card } = await accessibleCard(request, s, NS.conn);
  const pinRef = checkPinType(request, card);
  return pinAnswer("ChangePinResponse", () => pinEntry(s, card, "CHANGE", pinRef, () => s.cardTerminal.changePin({ cardHandle: card.cardHandle })));
};

/** CardService UnblockPin: the PUK typed at the terminal; SetNewPin true sets a new PIN, else only the retry counter is reset. */
const unblockPin: Operation = async (request, s) => {
  const { card } = await accessibleCard(request, s, NS.conn);
  const pinRef = checkPinType(request, card);
  const setNewPin = /^(true|1)$/.test(childText(request, NS.card, "SetNewPin") ?? "");
  return pinAnswer("UnblockPinResponse", () =>
    pinEntry(s, card, "UNBLOCK", pinRef, () => s.cardTerminal.unblockPin({ cardHandle: card.cardHandle, setNewPin })),
  );
};

/** CardService GetPinStatus: VERIFIED, VERIFIABLE (with the tries left), BLOCKED or EMPTY_PIN. */
const getPinStatus: Operation = async (request, s) => {
  const { card } = await accessibleCard(request, s, NS.conn);
  checkPinType(request, card);
  const r = await s.cardTerminal.getPinStatus({ cardHandle: card.cardHandle });
  return (
    `<CARD:GetPinStatusResponse xmlns:CARD="${NS.card}">${OK_STATUS}<CARD:PinStatus>${esc(r.status)}</CARD:PinStatus>` +
    (r.status === "VERIFIABLE" || r.status === "BLOCKED" ? `<CARD:LeftTries>${r.leftTries}</CARD:LeftTries>` : "") +
    `</CARD:GetPinStatusResponse>`
  );
};

/** The CertRefs each card type holds (what a real card carries; an eGK's further certificates are not modelled). */
const CERT_REFS: Record<string, string[]> = { "SMC-B": ["C.AUT", "C.ENC", "C.SIG"], HBA: ["C.AUT", "C.ENC", "C.QES"] };

/**
 * CertificateService ReadCardCertificate: C.AUT is the card's authentication certificate
 * (C.HCI.AUT, C.HP.AUT, C.CH.AUT); an SMC-B also holds C.ENC and C.SIG (C.HCI.ENC, C.HCI.OSIG),
 * an HBA C.ENC and C.QES (C.HP.ENC, C.HP.QES), from hsm. A certificate the card lacks is fault
 * 4149. Crypt (6.0.1) chooses RSA or ECC: the simulated cards have keys of one type, which must fit.
 */
const readCardCertificate: Operation = async (request, s) => {
  const { card } = await accessibleCard(request, s, NS.conn);
  const list = child(request, NS.cert, "CertRefList");
  const refs = (list?.children ?? []).filter((c) => c.ns === NS.cert && c.local === "CertRef").map((c) => c.text.trim());
  if (!refs.length) throw new SoapFault(SYNTAX_ERROR, "ReadCardCertificate needs a CertRefList with at least one CertRef", true);
  const unknown = refs.find((r) => !["C.AUT", "C.ENC", "C.SIG", "C.QES"].includes(r));
  if (unknown !== undefined) throw new SoapFault(SYNTAX_ERROR, `CertRef ${unknown.slice(0, 20)} is none of C.AUT, C.ENC, C.SIG, C.QES`, true);
  const aut = await certificateOf(s, card);
  if (!aut) throw new SoapFault(4149, `the card ${card.cardHandle} has no certificate`, false);
  const further = refs.some((r) => r !== "C.AUT") ? (await s.hsm.getCardCertificates({ iccsn: card.iccsn })).certificates : [];
  const holds = ["C.AUT", ...further.map((f) => f.ref)];
  const crypt = childText(request, NS.cert, "Crypt");
  const isRsa = aut.keyType.startsWith("RSA");
  if (crypt && crypt !== (isRsa ? "RSA" : "ECC"))
    throw new SoapFault(
      4149,
      `the card holds ${isRsa ? "RSA" : "ECC"} certificates, not ${crypt.slice(0, 20)} (this simulated card has keys of one type)`,
      false,
    );
  const infos = refs.map((ref) => {
    const cert = ref === "C.AUT" ? aut : further.find((f) => f.ref === ref)?.certificate;
    if (!cert) {
      const kind = cardType(card.cardType);
      const should = CERT_REFS[kind]?.includes(ref) ? " (a card issued before its further certificates were)" : "";
      throw new SoapFault(4149, `the card has no ${ref.slice(0, 20)} certificate${should}; it holds ${holds.join(", ")}`, false);
    }
    const der = Buffer.from(
      cert.pem
        .replace(/-----(BEGIN|END) CERTIFICATE-----/g, "")
        .replace(/\s+/g, "")
        .trim(),
      "base64",
    );
    return (
      `<CERTCMN:X509DataInfo><CERTCMN:CertRef>${esc(ref)}</CERTCMN:CertRef><CERTCMN:X509Data><CERTCMN:X509IssuerSerial>` +
      `<CERTCMN:X509IssuerName>${esc(cert.issuer)}</CERTCMN:X509IssuerName><CERTCMN:X509SerialNumber>${BigInt(`0x${cert.certSerial}`).toString()}</CERTCMN:X509SerialNumber>` +
      `</CERTCMN:X509IssuerSerial><CERTCMN:X509SubjectName>${esc(cert.commonName)}</CERTCMN:X509SubjectName>` +
      `<CERTCMN:X509Certificate>${der.toString("base64")}</CERTCMN:X509Certificate></CERTCMN:X509Data></CERTCMN:X509DataInfo>`
    );
  });
  return (
    `<CERT:ReadCardCertificateResponse xmlns:CERT="${NS.cert}" xmlns:CERTCMN="${NS.certcmn}">${OK_STATUS}` +
    `<CERTCMN:X509DataInfoList>${infos.join("")}</CERTCMN:X509DataInfoList></CERT:ReadCardCertificateResponse>`
  );
};

/**
 * CertificateService VerifyCertificate: the chain to a sub-CA of the test TI PKI (signature by the
 * issuer's key), validity at VerificationTime (default now), and the issuer's OCSP answer: VALID,
 * INVALID (no chain, outside validity, revoked) or INCONCLUSIVE (OCSP does not know it). RoleList:
 * the certificate-type OIDs (gemSpec_OID) from certificatePolicies.
 */
const verifyCertificate: Operation = async (request, s) => {
  const ctx = contextOf(request);
  await checkAccess(s, ctx);
  const b64 = required(request, NS.certcmn, "X509Certificate");
  const at = childText(request, NS.cert, "VerificationTime");
  const when = at ? new Date(at) : s.now();
  if (Number.isNaN(when.getTime())) throw new SoapFault(SYNTAX_ERROR, `VerificationTime "${at!.slice(0, 40)}" is not a dateTime`, true);
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(Buffer.from(b64.replace(/\s+/g, ""), "base64"));
  } catch {
    throw new SoapFault(SYNTAX_ERROR, "X509Certificate is not a DER certificate in Base64", true);
  }
  const anchors = await s.hsm.getTrustAnchors({});
  const issuer = anchors.subCaPems.map((p) => new X509Certificate(p)).find((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey));
  let result: "VALID" | "INVALID" | "INCONCLUSIVE" = "VALID";
  if (!issuer || when < new Date(cert.validFrom) || when > new Date(cert.validTo)) result = "INVALID";
  else {
    const ocsp = await s.hsm.getOcspStatus({ certSerial: cert.serialNumber }).catch(() => ({ status: "unknown", revokedAt: "" }));
    if (ocsp.status === "revoked" && (!ocsp.revokedAt || new Date(ocsp.revokedAt) <= when)) result = "INVALID";
    else if (ocsp.status !== "good" && ocsp.status !== "revoked") result = "INCONCLUSIVE";
  }
  const roles = policiesOf(cert.raw).filter((oid) => oid !== OID_GEM_OR_CP);
  return (
    `<CERT:VerifyCertificateResponse xmlns:CERT="${NS.cert}">${OK_STATUS}<CERT:VerificationStatus><CERT:VerificationResult>${result}</CERT:VerificationResult></CERT:VerificationStatus>` +
    `<CERT:RoleList>${(roles.length ? roles : [""]).map((r) => `<CERT:Role>${esc(r)}</CERT:Role>`).join("")}</CERT:RoleList></CERT:VerifyCertificateResponse>`
  );
};

/**
 * CertificateService CheckCertificateExpiration: the expiry of each certificate (C.AUT, and an
 * SMC-B's or HBA's C.ENC, C.SIG, C.QES) of the card named, or of every card in the Mandant's terminals; Crypt narrows to RSA or ECC keys. (The
 * gSMC-K's own certificates are shown to operators by `tigw unit certs`, not listed here.)
 */
const checkCertificateExpiration: Operation = async (request, s) => {
  const ctx = contextOf(request);
  const handle = childText(request, NS.conn, "CardHandle");
  const crypt = childText(request, NS.cert, "Crypt");
  let cards: kt.Card[];
  if (handle) cards = [(await accessibleCard(request, s, NS.conn)).card];
  else {
    await checkAccess(s, ctx);
    const visible = await visibleTerminals(s, ctx, true);
    cards = (await s.cardTerminal.listCards({ unit: s.unit.unitId })).cards.filter((c) => visible.has(c.ctId));
  }
  const rows: string[] = [];
  for (const card of cards) {
    const aut = await certificateOf(s, card);
    if (!aut || (crypt && (aut.keyType.startsWith("RSA") ? "RSA" : "ECC") !== crypt)) continue;
    // Every certificate the card holds, C.AUT first: a practice renews the card when the first of them expires.
    const further = card.cardType === "SMC-B" || card.cardType === "HBA" ? (await s.hsm.getCardCertificates({ iccsn: card.iccsn })).certificates : [];
    for (const cert of [aut, ...further.flatMap((f) => (f.certificate ? [f.certificate] : []))])
      rows.push(
        `<CERT:CertificateExpiration><CERT:CtID>${esc(card.ctId)}</CERT:CtID><CONN:CardHandle>${esc(card.cardHandle)}</CONN:CardHandle><CERT:ICCSN>${esc(card.iccsn)}</CERT:ICCSN>` +
          `<CERT:subject_commonName>${esc(cert.commonName)}</CERT:subject_commonName><CERT:serialNumber>${BigInt(`0x${cert.certSerial}`).toString()}</CERT:serialNumber>` +
          `<CERT:validity>${cert.notAfter.slice(0, 10)}</CERT:validity></CERT:CertificateExpiration>`,
      );
  }
  return `<CERT:CheckCertificateExpirationResponse xmlns:CERT="${NS.cert}" xmlns:CONN="${NS.conn}">${OK_STATUS}${rows.join("")}</CERT:CheckCertificateExpirationResponse>`;
};

const RSA_TYPE = "urn:ietf:rfc:3447";
const ECDSA_TYPE = "urn:bsi:tr:03111:ecdsa";

/**
 * AuthSignatureService ExternalAuthenticate with the AUT key of an SMC-B or HBA: the BinaryString
 * is a SHA-256/384/512 hash, signed as the card does without hashing again, RSASSA-PSS for
 * urn:ietf:rfc:3447 and ECDSA (r||s) for urn:bsi:tr:03111:ecdsa. Without a SignatureType the
 * card's key decides (the simulated cards carry one key pair, RSA or ECC). The card's PIN must be
 * verified first: 3041 for an SMC-B, 3042 for an HBA that is not unlocked.
 */
const externalAuthenticate: Operation = async (request, s) => {
  const { card } = await accessibleCard(request, s, NS.conn);
  if (card.cardType !== "SMC-B" && card.cardType !== "HBA")
    throw new SoapFault(4209, `ExternalAuthenticate needs an SMC-B or HBA, not a ${cardType(card.cardType)}`, false);
  const binary = child(request, NS.sig, "BinaryString");
  const b64 = childText(binary, NS.dss, "Base64Data");
  if (!b64 || !/^[A-Za-z0-9+/\s]*={0,2}$/.test(b64)) throw new SoapFault(SYNTAX_ERROR, "BinaryString needs a dss:Base64Data with the hash to sign", true);
  const data = Buffer.from(b64.replace(/\s+/g, ""), "base64");
  const inputs = child(request, NS.sig, "OptionalInputs");
  const wanted = childText(inputs, NS.dss, "SignatureType");
  const scheme = childText(inputs, NS.sig, "SignatureSchemes");
  const cert = await certificateOf(s, card);
  const isRsa = cert?.keyType.startsWith("RSA") ?? false;
  const type = wanted || (isRsa ? RSA_TYPE : ECDSA_TYPE);
  if (type !== RSA_TYPE && type !== ECDSA_TYPE)
    throw new SoapFault(4111, `SignatureType ${type.slice(0, 100)} is not supported: ${RSA_TYPE} or ${ECDSA_TYPE}`, true);
  if (type === RSA_TYPE && scheme && scheme !== "RSASSA-PSS")
    throw new SoapFault(4111, `SignatureSchemes ${scheme.slice(0, 40)} is not offered: the simulated cards sign RSASSA-PSS`, true);
  if ((type === RSA_TYPE) !== isRsa) throw new SoapFault(4111, `the card's AUT key is ${isRsa ? "RSA" : "ECC"}: ${type} does not fit it`, true);
  const pin = await s.cardTerminal.getPinStatus({ cardHandle: card.cardHandle });
  if (pin.status !== "VERIFIED") {
    const smcb = card.cardType === "SMC-B";
    throw new SoapFault(smcb ? 3041 : 3042, `the ${card.cardType} is not unlocked: VerifyPin (${smcb ? "PIN.SMC" : "PIN.CH"}) first`, false, card.cardHandle);
  }
  let signature: Uint8Array;
  try {
    ({ signature } = await s.hsm.sign({ certSerial: card.certSerial, data, scheme: isRsa ? "rsassa-pss" : "ecdsa" }));
  } catch (e) {
    if ((e as { code?: string }).code === "INVALID_DIGEST") throw new SoapFault(SYNTAX_ERROR, (e as Error).message, true);
    throw e;
  }
  return (
    `<SIG:ExternalAuthenticateResponse xmlns:SIG="${NS.sig}" xmlns:dss="${NS.dss}">${OK_STATUS}` +
    `<dss:SignatureObject><dss:Base64Signature Type="${type}">${Buffer.from(signature).toString("base64")}</dss:Base64Signature></dss:SignatureObject>` +
    `</SIG:ExternalAuthenticateResponse>`
  );
};

/** VSDService ReadVSD onto vsdm's Fachmodul (which runs the access check with WorkplaceId required). */
const readVsd: Operation = async (request, s) => {
  const ctx = contextOf(request);
  const flag = (name: string) => {
    const v = required(request, NS.vsd, name);
    if (!/^(true|false|1|0)$/.test(v)) throw new SoapFault(SYNTAX_ERROR, `${name} is a boolean, not "${v.slice(0, 20)}"`, true);
    return v === "true" || v === "1";
  };
  const r = await s.vsdm.readVsd({
    unit: s.unit.unitId,
    context: ctx,
    ehcHandle: required(request, NS.vsd, "EhcHandle"),
    hpcHandle: required(request, NS.vsd, "HpcHandle"),
    performOnlineCheck: flag("PerformOnlineCheck"),
    readOnlineReceipt: flag("ReadOnlineReceipt"),
  });
  const { readVsdResponseXml } = await import("@tigw/vsdm");
  return readVsdResponseXml(r).replace(/^<\?xml[^>]*\?>/, "");
};

const subscriptionXml = (x: Subscription) =>
  `<EVT:Subscription><EVT:SubscriptionID>${esc(x.id)}</EVT:SubscriptionID><EVT:TerminationTime>${x.terminationTime.toISOString()}</EVT:TerminationTime>` +
  `<EVT:EventTo>${esc(x.eventTo)}</EVT:EventTo><EVT:Topic>${esc(x.topic)}</EVT:Topic>${x.filter ? `<EVT:Filter>${esc(x.filter.expression)}</EVT:Filter>` : ""}</EVT:Subscription>`;

/** The client system's subscription of that id, or a fault naming it. */
function ownSubscription(s: OperationScope, ctx: CallContext, id: string): Subscription {
  const x = s.events.list(ctx.mandantId, ctx.clientSystemId).find((y) => y.id === id);
  if (!x) throw new SoapFault(SYNTAX_ERROR, `client system ${ctx.clientSystemId} of Mandant ${ctx.mandantId} has no subscription ${id.slice(0, 64)}`, true);
  return x;
}

/**
 * EventService Subscribe: events of the Mandant's terminals and cards whose topic falls under
 * Topic (CARD, CARD/INSERTED, CT, ...) and pass the XPath Filter, if one is given, are pushed
 * over CETP to EventTo until TerminationTime. A Filter that is no XPath is refused here.
 */
const subscribe: Operation = async (request, s) => {
  const ctx = contextOf(request);
  await checkAccess(s, ctx);
  const sub = child(request, NS.evt, "Subscription");
  const eventTo = required(sub ?? request, NS.evt, "EventTo");
  const topic = required(sub ?? request, NS.evt, "Topic");
  const expression = childText(sub, NS.evt, "Filter");
  const filter = expression ? EventFilter.compile(expression) : undefined;
  const x = await s.events.subscribe({ mandantId: ctx.mandantId, clientSystemId: ctx.clientSystemId, eventTo, topic: topic.slice(0, 1024), filter });
  return (
    `<EVT:SubscribeResponse xmlns:EVT="${NS.evt}">${OK_STATUS}<EVT:SubscriptionID>${x.id}</EVT:SubscriptionID>` +
    `<EVT:TerminationTime>${x.terminationTime.toISOString()}</EVT:TerminationTime></EVT:SubscribeResponse>`
  );
};

/** EventService Unsubscribe: one subscription by its id, or every subscription of the client system to an EventTo. */
const unsubscribe: Operation = async (request, s) => {
  const ctx = contextOf(request);
  await checkAccess(s, ctx);
  const id = childText(request, NS.evt, "SubscriptionID");
  const eventTo = childText(request, NS.evt, "EventTo");
  if (id) s.events.remove([ownSubscription(s, ctx, id).id]);
  else if (eventTo) {
    const ids = s.events
      .list(ctx.mandantId, ctx.clientSystemId)
      .filter((x) => x.eventTo === eventTo)
      .map((x) => x.id);
    if (!ids.length) throw new SoapFault(SYNTAX_ERROR, `client system ${ctx.clientSystemId} has no subscription to ${eventTo.slice(0, 100)}`, true);
    s.events.remove(ids);
  } else throw new SoapFault(SYNTAX_ERROR, "Unsubscribe needs a SubscriptionID or an EventTo", true);
  return `<EVT:UnsubscribeResponse xmlns:EVT="${NS.evt}">${OK_STATUS}</EVT:UnsubscribeResponse>`;
};

/** EventService GetSubscription: the client system's subscriptions (mandant-wide: its Mandant's), or the one named. */
const getSubscription: Operation = async (request, s) => {
  const ctx = contextOf(request);
  await checkAccess(s, ctx);
  const id = childText(request, NS.evt, "SubscriptionID");
  const all = s.events.list(ctx.mandantId, mandantWide(request) ? undefined : ctx.clientSystemId);
  const chosen = id ? all.filter((x) => x.id === id) : all;
  return `<EVT:GetSubscriptionResponse xmlns:EVT="${NS.evt}">${OK_STATUS}<EVT:Subscriptions>${chosen.map(subscriptionXml).join("")}</EVT:Subscriptions></EVT:GetSubscriptionResponse>`;
};

/** EventService RenewSubscriptions: each named subscription of the client system lives another lifetime. */
const renewSubscriptions: Operation = async (request, s) => {
  const ctx = contextOf(request);
  await checkAccess(s, ctx);
  const ids = request.children.filter((c) => c.ns === NS.evt && c.local === "SubscriptionID").map((c) => c.text.trim());
  if (!ids.length) throw new SoapFault(SYNTAX_ERROR, "RenewSubscriptions needs at least one SubscriptionID", true);
  const renewed = ids.map((id) => s.events.renew(ownSubscription(s, ctx, id).id)!);
  return (
    `<EVT:RenewSubscriptionsResponse xmlns:EVT="${NS.evt}">${OK_STATUS}<EVT:SubscribeRenewals>` +
    renewed
      .map(
        (x) =>
          `<EVT:SubscriptionRenewal><EVT:SubscriptionID>${x.id}</EVT:SubscriptionID><EVT:TerminationTime>${x.terminationTime.toISOString()}</EVT:TerminationTime></EVT:SubscriptionRenewal>`,
      )
      .join("") +
    `</EVT:SubscribeRenewals></EVT:RenewSubscriptionsResponse>`
  );
};

/** Operations by "<namespace>#<request element>". */
export const OPERATIONS: ReadonlyMap<string, Operation> = new Map([
  [`${NS.evt}#GetCards`, getCards],
  [`${NS.evt}#GetCardTerminals`, getCardTerminals],
  [`${NS.evt}#GetResourceInformation`, getResourceInformation],
  [`${NS.evt}#Subscribe`, subscribe],
  [`${NS.evt}#Unsubscribe`, unsubscribe],
  [`${NS.evt}#GetSubscription`, getSubscription],
  [`${NS.evt}#RenewSubscriptions`, renewSubscriptions],
  [`${NS.card}#VerifyPin`, verifyPin],
  [`${NS.card}#GetPinStatus`, getPinStatus],
  [`${NS.card}#ChangePin`, changePin],
  [`${NS.card}#UnblockPin`, unblockPin],
  [`${NS.cert}#ReadCardCertificate`, readCardCertificate],
  [`${NS.cert}#VerifyCertificate`, verifyCertificate],
  [`${NS.cert}#CheckCertificateExpiration`, checkCertificateExpiration],
  [`${NS.sig}#ExternalAuthenticate`, externalAuthenticate],
  [`${NS.vsd}#ReadVSD`, readVsd],
]);

/** For the SOAP log: a short fingerprint of a card handle (handles are not secret, but they need not be in logs whole). */
export const shortId = (s: string) => createHash("sha256").update(s).digest("hex").slice(0, 8);

export { productInformationXml };
