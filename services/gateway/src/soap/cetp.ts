import { randomUUID } from "node:crypto";
import { connect as tcpConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import type * as kt from "@tigw/contracts/cardterminal/v1/card_terminal";
import type { CardTerminalApi, HsmApi, KsrApi } from "../grpc-clients.js";
import { SoapFault, SYNTAX_ERROR } from "./envelope.js";
import type { EventFilter } from "./filter.js";
import { NS } from "./services.js";
import { esc } from "@tigw/platform";

/** A subscription of a client system to events of its Mandant (EventService Subscribe). */
export interface Subscription {
  id: string;
  mandantId: string;
  clientSystemId: string;
  eventTo: string;
  topic: string;
  /** Only events this XPath Filter passes are sent. */
  filter?: EventFilter;
  terminationTime: Date;
}

/** One event as CETP carries it: Topic, Type, Severity and the key-value Message (EventService.xsd). */
export interface KonnektorEvent {
  topic: string;
  type: "Operation" | "Infrastructure";
  severity: "Info";
  parameters: [string, string][];
  /** The terminal it concerns: only subscriptions of Mandanten with that terminal get it ("": the whole unit's, every subscription). */
  ctId: string;
}

/** The PIN operations whose entry at the terminal is announced (CardEvents.xsd ActionKindEnum). */
export type PinAction = "VERIFY" | "CHANGE" | "UNBLOCK";

/**
 * CARD/PIN/<ACTION>_STARTED and _FINISHED (gemSpec_Kon, CardEvents.xsd PinInputEventType):
 * practice software shows "enter the PIN at terminal X" between the two. They name the card, its
 * terminal and slot and the PIN (PinRef); never the PIN, and not the outcome (the caller gets
 * that in the CardService answer).
 */
export function pinEvent(action: PinAction, status: "STARTED" | "FINISHED", card: kt.Card, pinRef: string): KonnektorEvent {
  return {
    topic: `CARD/PIN/${action}_${status}`,
    type: "Operation",
    severity: "Info",
    ctId: card.ctId,
    parameters: [
      ["CardHandle", card.cardHandle],
      ["CardType", card.cardType === "PRUEFKARTE_EGK" ? "EGK" : card.cardType],
      ["ICCSN", card.iccsn],
      ["CtID", card.ctId],
      ["SlotID", String(card.slot)],
      ["PinRef", pinRef],
    ],
  };
}

/** CETP frame (gemSpec_Kon TIP1-A_4596): "CETP", the length as 4 bytes big-endian, then the Event XML. */
export function cetpFrame(xml: string): Buffer {
  const body = Buffer.from(xml, "utf8");
  const head = Buffer.alloc(8);
  head.write("CETP", 0, "ascii");
  head.writeUInt32BE(body.length, 4);
  return Buffer.concat([head, body]);
}

/**
 * The Event XML (EventService.xsd) of an event for one subscription. CETP sends it with the EVT
 * prefix; a Filter reads it in the default namespace, so that names with and without the prefix
 * both match (see EventFilter).
 */
export function eventXml(subscriptionId: string, e: KonnektorEvent, o: { defaultNamespace?: boolean } = {}): string {
  const p = o.defaultNamespace ? "" : "EVT:";
  const el = (name: string, content: string) => `<${p}${name}>${content}</${p}${name}>`;
  const message = e.parameters.map(([k, v]) => el("Parameter", el("Key", esc(k)) + el("Value", esc(v)))).join("");
  return (
    `<?xml version="1.0" encoding="UTF-8"?><${p}Event ${o.defaultNamespace ? "xmlns" : "xmlns:EVT"}="${NS.evt}">` +
    el("Topic", esc(e.topic)) +
    el("Type", e.type) +
    el("Severity", e.severity) +
    el("SubscriptionID", esc(subscriptionId)) +
    el("Message", message) +
    `</${p}Event>`
  );
}

/** cetp://host:port, as Subscribe's EventTo names the client's listener. */
export function parseEventTo(eventTo: string): { host: string; port: number } {
  const m = /^cetp:\/\/(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]{1,253}):(\d{1,5})\/?$/.exec(eventTo);
  const port = Number(m?.[2]);
  if (!m || port < 1 || port > 65535) throw new SoapFault(SYNTAX_ERROR, `EventTo must be cetp://host:port, not "${eventTo.slice(0, 100)}"`, true);
  return { host: m[1]!.replace(/^\[|\]$/g, ""), port };
}

/** Topic matching of the Konnektor: a subscription to CARD gets CARD/INSERTED and CARD/REMOVED; "/" or "ALL" gets everything. */
export const topicMatches = (subscribed: string, topic: string) =>
  subscribed === "/" || subscribed === "ALL" || topic === subscribed || topic.startsWith(`${subscribed.replace(/\/$/, "")}/`);

/** Queued frames per subscription beyond which the oldest are dropped (a client that stays away). */
const QUEUE_LIMIT = 1000;

/**
 * Delivers one subscription's frames in order to its EventTo: connects (TLS when TLS is mandatory,
 * plain TCP otherwise), keeps the connection, and on any failure reconnects with a growing delay
 * (0.2 s up to 5 s) while frames wait in order. The client's listener certificate is not checked:
 * no client-system certificate is registered yet to check it against (client authentication
 * comes with mutual TLS).
 */
class CetpSender {
  private readonly queue: Buffer[] = [];
  private socket?: Socket;
  private connecting = false;
  private delay = 200;
  private timer?: NodeJS.Timeout;
  private closed = false;
  delivered = 0;

  constructor(
    private readonly target: { host: string; port: number },
    private readonly tls: boolean,
  ) {}

  send(frame: Buffer): void {
    if (this.closed) return;
    this.queue.push(frame);
    if (this.queue.length > QUEUE_LIMIT) this.queue.shift();
    this.flush();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.socket?.destroy();
  }

  private flush(): void {
    if (this.closed || this.connecting) return;
    if (!this.socket) return this.connect();
    while (this.queue.length) {
      const frame = this.queue[0]!;
      this.socket.write(frame);
      this.queue.shift();
      this.delivered++;
    }
  }

  private connect(): void {
    this.connecting = true;
    const socket = this.tls
      ? tlsConnect({ host: this.target.host, port: this.target.port, rejectUnauthorized: false })
      : tcpConnect(this.target.port, this.target.host);
    const ready = () => {
      this.connecting = false;
      this.socket = socket;
      this.delay = 200;
      this.flush();
    };
    socket.once(this.tls ? "secureConnect" : "connect", ready);
    socket.setTimeout(10_000, () => socket.destroy(new Error("CETP connect timed out")));
    socket.on("data", () => undefined); // the client sends nothing back; read and drop
    const retry = () => {
      if (this.socket === socket) this.socket = undefined;
      this.connecting = false;
      if (this.closed) return;
      this.timer = setTimeout(() => this.flush(), this.delay);
      this.delay = Math.min(this.delay * 2, 5000);
    };
    socket.once("error", () => undefined);
    socket.once("close", retry);
  }
}

/** What the unit's firmware looked like at a poll: the installed version and the last update's result. */
interface FirmwareSeen {
  version: string;
  result: string;
  message: string;
}

/**
 * KSR/UPDATE/END when the installed version changed, KSR/ERROR when a new failed step (4181-4185)
 * shows: unit-wide events (every subscription of the unit). Two identical failures in a row,
 * between two polls, show as one.
 */
export function firmwareEvents(before: FirmwareSeen | undefined, now: FirmwareSeen | undefined): KonnektorEvent[] {
  if (!before || !now) return [];
  const ev = (topic: string, parameters: [string, string][]): KonnektorEvent => ({ topic, type: "Infrastructure", severity: "Info", ctId: "", parameters });
  const out: KonnektorEvent[] = [];
  if (now.version !== before.version)
    out.push(
      ev("KSR/UPDATE/END", [
        ["FWVersion", now.version],
        ["PreviousFWVersion", before.version],
      ]),
    );
  if (/^41\d\d$/.test(now.result) && (now.result !== before.result || now.message !== before.message))
    out.push(
      ev("KSR/ERROR", [
        ["Code", now.result],
        ["Message", now.message],
        ["FWVersion", now.version],
      ]),
    );
  return out;
}

/**
 * The EventService subscriptions of one unit and the CETP push. The Konnektor's events come from
 * card-terminal's read model: while the unit has subscriptions, its cards and terminals are read
 * every `pollMs` and the differences become CARD/INSERTED, CARD/REMOVED, CT/CONNECTED and
 * CT/DISCONNECTED, in the order seen. Subscriptions are transient, as in a Konnektor (a restart
 * ends them; clients renew or subscribe again) and expire at their TerminationTime.
 */
export class UnitEvents {
  private readonly subscriptions = new Map<string, Subscription>();
  private readonly senders = new Map<string, CetpSender>();
  private timer?: NodeJS.Timeout;
  private previous?: { cards: Map<string, kt.Card>; connected: Map<string, boolean>; firmware?: FirmwareSeen };
  private polling = false;

  constructor(
    private readonly unitId: string,
    private readonly deps: {
      cardTerminal: CardTerminalApi;
      hsm: HsmApi;
      /** The unit's firmware updates (KSR/UPDATE/END, KSR/ERROR); none: no KSR topics. */
      ksr?: KsrApi;
      now(): Date;
      tls: boolean;
      lifetimeMs: number;
      pollMs: number;
      onError(e: unknown): void;
    },
  ) {}

  /** A new subscription; answers once the unit's current state is the baseline its events differ from. */
  async subscribe(s: Omit<Subscription, "id" | "terminationTime">): Promise<Subscription> {
    const target = parseEventTo(s.eventTo);
    const sub: Subscription = { ...s, id: randomUUID(), terminationTime: new Date(this.deps.now().getTime() + this.deps.lifetimeMs) };
    this.subscriptions.set(sub.id, sub);
    this.senders.set(sub.id, new CetpSender(target, this.deps.tls));
    await this.start();
    return sub;
  }

  /** The client system's own subscriptions (Mandant-wide: every one of its Mandant). */
  list(mandantId: string, clientSystemId: string | undefined): Subscription[] {
    this.expire();
    return [...this.subscriptions.values()].filter((s) => s.mandantId === mandantId && (!clientSystemId || s.clientSystemId === clientSystemId));
  }

  remove(ids: string[]): void {
    for (const id of ids) {
      this.subscriptions.delete(id);
      this.senders.get(id)?.close();
      this.senders.delete(id);
    }
    if (!this.subscriptions.size) this.stop();
  }

  renew(id: string): Subscription | undefined {
    const s = this.subscriptions.get(id);
    if (s) s.terminationTime = new Date(this.deps.now().getTime() + this.deps.lifetimeMs);
    return s;
  }

  close(): void {
    this.remove([...this.subscriptions.keys()]);
  }

  private expire(): void {
    const now = this.deps.now().getTime();
    this.remove([...this.subscriptions.values()].filter((s) => s.terminationTime.getTime() <= now).map((s) => s.id));
  }

  private async start(): Promise<void> {
    if (this.timer) return;
    this.timer = setInterval(() => void this.poll(), this.deps.pollMs);
    this.timer.unref();
    await this.poll();
  }

  private stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.previous = undefined;
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      this.expire();
      if (!this.subscriptions.size) return;
      const [{ cards }, { terminals }, { infomodell }, firmware] = await Promise.all([
        this.deps.cardTerminal.listCards({ unit: this.unitId }),
        this.deps.cardTerminal.listTerminals({ unit: this.unitId, mandantId: "" }),
        this.deps.cardTerminal.getInfomodell({ unit: this.unitId }),
        // ksr away or slow: no KSR topics this round (the card events do not wait for it).
        this.deps.ksr &&
          Promise.race([
            this.deps.ksr.getUnitFirmware({ unit: this.unitId }).then(
              (r) => (r.unit ? { version: r.unit.version, result: r.unit.lastResult, message: r.unit.lastMessage } : undefined),
              () => undefined,
            ),
            new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 2_000).unref()),
          ]),
      ]);
      const now = {
        cards: new Map(cards.map((c) => [c.cardHandle, c])),
        connected: new Map(terminals.map((t) => [t.ctId, t.connected])),
        firmware: firmware ?? this.previous?.firmware,
      };
      const before = this.previous;
      this.previous = now;
      if (!before) return; // the first look is the baseline
      const events: KonnektorEvent[] = [];
      for (const [ctId, connected] of now.connected) {
        if (connected && !before.connected.get(ctId))
          events.push({ topic: "CT/CONNECTED", type: "Operation", severity: "Info", ctId, parameters: [["CtID", ctId]] });
        if (!connected && before.connected.get(ctId))
          events.push({ topic: "CT/DISCONNECTED", type: "Operation", severity: "Info", ctId, parameters: [["CtID", ctId]] });
      }
      for (const [handle, c] of before.cards) if (!now.cards.has(handle)) events.push(await this.cardEvent("CARD/REMOVED", c));
      for (const [handle, c] of now.cards) if (!before.cards.has(handle)) events.push(await this.cardEvent("CARD/INSERTED", c));
      events.push(...firmwareEvents(before.firmware, firmware));
      this.deliver(events, infomodell);
    } catch (e) {
      this.deps.onError(e);
    } finally {
      this.polling = false;
    }
  }

  /**
   * An event the unit raises itself rather than reads from card-terminal (the PIN topics around a
   * CardService call): sent now, in call order, to the subscriptions of every Mandant with the
   * event's terminal. A failure to read the Infomodell is reported, never the caller's problem.
   */
  async publish(e: KonnektorEvent): Promise<void> {
    this.expire();
    if (!this.subscriptions.size) return;
    try {
      const { infomodell } = await this.deps.cardTerminal.getInfomodell({ unit: this.unitId });
      this.deliver([e], infomodell);
    } catch (err) {
      this.deps.onError(err);
    }
  }

  private deliver(events: KonnektorEvent[], infomodell: kt.Infomodell | undefined): void {
    const terminalsOf = new Map((infomodell?.mandanten ?? []).map((m) => [m.mandantId, new Set(m.terminals)]));
    for (const e of events) {
      for (const s of this.subscriptions.values()) {
        if (!topicMatches(s.topic, e.topic) || (e.ctId !== "" && !terminalsOf.get(s.mandantId)?.has(e.ctId))) continue;
        if (s.filter && !s.filter.matches(eventXml(s.id, e, { defaultNamespace: true }))) continue;
        this.senders.get(s.id)?.send(cetpFrame(eventXml(s.id, e)));
      }
    }
  }

  /** CARD/INSERTED and CARD/REMOVED with the keys practice software reads (DOMAIN.md). */
  private async cardEvent(topic: string, c: kt.Card): Promise<KonnektorEvent> {
    const type = c.cardType === "PRUEFKARTE_EGK" ? "EGK" : c.cardType;
    const p: [string, string][] = [
      ["CardHandle", c.cardHandle],
      ["CardType", type],
      ["CardVersion", "4.4.0"],
      ["ICCSN", c.iccsn],
      ["CtID", c.ctId],
      ["SlotID", String(c.slot)],
      ["InsertTime", new Date(c.insertedAt).toISOString()],
    ];
    if (c.certSerial) {
      const cert = await this.deps.hsm.getCertificate({ certSerial: c.certSerial }).catch(() => undefined);
      const name = cert?.certificate?.commonName ?? "";
      p.push(["CardHolderName", name]);
      const kvnr = type === "EGK" ? /\b([A-Z]\d{9})\b/.exec(name)?.[1] : undefined;
      if (kvnr) p.push(["KVNR", kvnr]);
    }
    return { topic, type: "Operation", severity: "Info", ctId: c.ctId, parameters: p };
  }
}
