import { declareDeadLetters } from "../telemetry/bus-metrics.js";
import { randomUUID } from "node:crypto";
import { Kafka, logLevel, type Admin, type Consumer, type KafkaMessage, type Producer } from "kafkajs";
import { DomainError } from "../errors.js";
import { deliver, replayHeaders, type FailedDelivery } from "./delivery.js";
import {
  deadLetterTopicOf,
  type BusMessage,
  type DeadLetter,
  type DeliveredMessage,
  type EventBus,
  type SubscribeOptions,
  type Subscription,
} from "./event-bus.js";

/** Headers a dead letter carries on the DLQ topic besides the original message's own. */
const DL = {
  id: "tigw-dl-id",
  group: "tigw-dl-group",
  topic: "tigw-dl-topic",
  partition: "tigw-dl-partition",
  offset: "tigw-dl-offset",
  error: "tigw-dl-error",
  attempts: "tigw-dl-attempts",
  at: "tigw-dl-at",
  /** A marker record: the dead letter with this id was replayed at tigw-dl-at. */
  replayed: "tigw-dl-replayed",
} as const;

function headersOf(message: KafkaMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(message.headers ?? {})) if (v !== undefined) headers[k] = String(v);
  return headers;
}

/**
 * A connection made on first use and shared. A failed attempt is forgotten, so the next use tries
 * again: caching the rejected promise made a first contact with a down broker permanent.
 */
class Reconnecting<T> {
  private pending?: Promise<T>;
  constructor(private readonly connect: () => Promise<T>) {}

  get(): Promise<T> {
    if (this.pending) return this.pending;
    const p = this.connect();
    this.pending = p;
    p.catch(() => {
      if (this.pending === p) this.pending = undefined;
    });
    return p;
  }

  /** The connection if one was made, for closing it; a failed one is nothing to close. */
  async made(): Promise<T | undefined> {
    return this.pending?.catch(() => undefined);
  }
}

export interface KafkaBusOptions {
  brokers: string[];
  clientId?: string;
  /** Partitions of topics this bus creates. */
  partitions?: number;
}

/**
 * EventBus on Apache Kafka through kafkajs. The producer is idempotent (no duplicates from its
 * own retries) and waits for all in-sync replicas; consumers commit an offset only after the
 * handler finished. kafkajs is unmaintained: it stays behind this port so another client can
 * replace it.
 */
export class KafkaBus implements EventBus {
  readonly kind = "kafka" as const;
  private readonly kafka: Kafka;
  private readonly producer: Reconnecting<Producer>;
  private readonly admin: Reconnecting<Admin>;
  private readonly topics = new Map<string, Promise<void>>();
  private readonly consumers = new Set<Consumer>();

  constructor(private readonly opts: KafkaBusOptions) {
    this.kafka = new Kafka({
      clientId: opts.clientId ?? "ti-gateway",
      brokers: opts.brokers,
      logLevel: logLevel.NOTHING,
      retry: { retries: 8, initialRetryTime: 100 },
    });
    this.producer = new Reconnecting(async () => {
      const p = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
      await p.connect();
      return p;
    });
    this.admin = new Reconnecting(async () => {
      const a = this.kafka.admin();
      await a.connect();
      return a;
    });
  }

  /** Creates the topic once (idempotent); auto-creation would give it the broker's defaults. */
  ensureTopic(topic: string): Promise<void> {
    let p = this.topics.get(topic);
    if (!p) {
      p = (async () => {
        const admin = await this.admin.get();
        await admin.createTopics({ topics: [{ topic, numPartitions: this.opts.partitions ?? 6 }], waitForLeaders: true });
      })();
      p.catch(() => this.topics.delete(topic));
      this.topics.set(topic, p);
    }
    return p;
  }

  async publish(topic: string, messages: BusMessage[]): Promise<void> {
    if (messages.length === 0) return;
    await this.ensureTopic(topic);
    const producer = await this.producer.get();
    await producer.send({
      topic,
      acks: -1,
      messages: messages.map((m) => ({ key: m.key, value: m.value, headers: m.headers })),
    });
  }

  async subscribe(o: SubscribeOptions): Promise<Subscription> {
    declareDeadLetters(o.topics, o.groupId);
    await Promise.all(o.topics.map((t) => this.ensureTopic(t)));
    const consumer = this.kafka.consumer({
      groupId: o.groupId,
      sessionTimeout: 10_000,
      heartbeatInterval: 1_000,
      rebalanceTimeout: 10_000,
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 200, maxRetryTime: 2_000 },
    });
    this.consumers.add(consumer);
    const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
    await consumer.connect();
    await consumer.subscribe({ topics: o.topics, fromBeginning: o.fromBeginning ?? true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ topic, partition, message }) => {
        const m: DeliveredMessage = {
          topic,
          partition,
          offset: message.offset,
          key: message.key?.toString() ?? "",
          value: message.value ?? Buffer.alloc(0),
          headers: headersOf(message),
        };
        // Retries, then dead-letters; throws only when stopping (not committed -> delivered again).
        await deliver(
          o,
          m,
          () => this.consumers.has(consumer),
          (f) => this.deadLetter(f),
        );
        await consumer.commitOffsets([{ topic, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
      },
    });
    await joined;
    return {
      stop: async () => {
        this.consumers.delete(consumer);
        await consumer.disconnect();
      },
    };
  }

  /** A dead letter goes to tigw.<context>.events.v1.dlq: the original message plus DL headers. */
  private async deadLetter(f: FailedDelivery): Promise<void> {
    const m = f.message;
    const meta = {
      [DL.id]: randomUUID(),
      [DL.group]: f.groupId,
      [DL.topic]: m.topic,
      [DL.partition]: String(m.partition),
      [DL.offset]: m.offset,
      [DL.error]: f.error,
      [DL.attempts]: String(f.attempts),
      [DL.at]: new Date().toISOString(),
    };
    await this.publish(deadLetterTopicOf(m.topic), [{ key: m.key, value: m.value, headers: { ...m.headers, ...meta } }]);
  }

  async listDeadLetters(topics: string[]): Promise<DeadLetter[]> {
    const letters = new Map<string, DeadLetter>();
    for (const topic of topics) {
      for (const r of await this.readWhole(deadLetterTopicOf(topic))) {
        const h = r.headers;
        const replayed = h[DL.replayed];
        if (replayed) {
          const dl = letters.get(replayed);
          if (dl) dl.replayedAt = h[DL.at] ?? "";
          continue;
        }
        const headers = Object.fromEntries(Object.entries(h).filter(([k]) => !k.startsWith("tigw-dl-")));
        letters.set(h[DL.id] ?? "", {
          id: h[DL.id] ?? "",
          groupId: h[DL.group] ?? "",
          topic: h[DL.topic] ?? topic,
          partition: Number(h[DL.partition]),
          offset: h[DL.offset] ?? "",
          key: r.key,
          headers,
          value: r.value,
          error: h[DL.error] ?? "",
          attempts: Number(h[DL.attempts]),
          deadLetteredAt: h[DL.at] ?? "",
          replayedAt: "",
        });
      }
    }
    return [...letters.values()].sort((a, b) => a.deadLetteredAt.localeCompare(b.deadLetteredAt) || a.id.localeCompare(b.id));
  }

  async replayDeadLetter(topics: string[], id: string): Promise<DeadLetter> {
    const dl = (await this.listDeadLetters(topics)).find((d) => d.id === id);
    if (!dl) throw new DomainError("DEAD_LETTER_NOT_FOUND", `no dead letter ${id}`, { id });
    await this.publish(dl.topic, [{ key: dl.key, value: dl.value, headers: replayHeaders(dl.headers, dl.groupId) }]);
    const at = new Date().toISOString();
    await this.publish(deadLetterTopicOf(dl.topic), [{ key: dl.key, value: Buffer.alloc(0), headers: { [DL.replayed]: id, [DL.at]: at } }]);
    return { ...dl, replayedAt: at };
  }

  /**
   * Everything a topic holds now, read by a throwaway consumer group (kafkajs has no group-less
   * reader) that stops at the end offsets taken before it started and is deleted afterwards.
   */
  private async readWhole(topic: string): Promise<DeliveredMessage[]> {
    await this.ensureTopic(topic);
    const admin = await this.admin.get();
    const ends = new Map<number, bigint>();
    for (const p of await admin.fetchTopicOffsets(topic)) if (BigInt(p.high) > BigInt(p.low)) ends.set(p.partition, BigInt(p.high));
    if (ends.size === 0) return [];
    const groupId = `tigw-dlq-reader-${randomUUID()}`;
    const consumer = this.kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 1_000, rebalanceTimeout: 10_000 });
    const out: DeliveredMessage[] = [];
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`reading ${topic} took longer than 60 s`)), 60_000);
        consumer
          .run({
            autoCommit: false,
            eachMessage: async ({ partition, message }) => {
              const end = ends.get(partition);
              if (end === undefined) return;
              out.push({
                topic,
                partition,
                offset: message.offset,
                key: message.key?.toString() ?? "",
                value: message.value ?? Buffer.alloc(0),
                headers: headersOf(message),
              });
              if (BigInt(message.offset) + 1n >= end) ends.delete(partition);
              if (ends.size === 0) {
                clearTimeout(timer);
                resolve();
              }
            },
          })
          .catch(reject);
      });
    } finally {
      await consumer.disconnect();
      await admin.deleteGroups([groupId]).catch(() => undefined);
    }
    return out.sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
  }

  async close(): Promise<void> {
    await Promise.all([...this.consumers].map((c) => c.disconnect()));
    this.consumers.clear();
    await (await this.producer.made())?.disconnect();
    await (await this.admin.made())?.disconnect();
  }
}
