import { Kafka, logLevel, type Admin, type Consumer, type Producer } from "kafkajs";
import type { BusMessage, EventBus, SubscribeOptions, Subscription } from "./event-bus.js";

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
  private producer?: Promise<Producer>;
  private admin?: Promise<Admin>;
  private readonly topics = new Map<string, Promise<void>>();
  private readonly consumers = new Set<Consumer>();

  constructor(private readonly opts: KafkaBusOptions) {
    this.kafka = new Kafka({
      clientId: opts.clientId ?? "ti-gateway",
      brokers: opts.brokers,
      logLevel: logLevel.NOTHING,
      retry: { retries: 8, initialRetryTime: 100 },
    });
  }

  private getAdmin(): Promise<Admin> {
    return (this.admin ??= (async () => {
      const a = this.kafka.admin();
      await a.connect();
      return a;
    })());
  }

  /** Creates the topic once (idempotent); auto-creation would give it the broker's defaults. */
  ensureTopic(topic: string): Promise<void> {
    let p = this.topics.get(topic);
    if (!p) {
      p = (async () => {
        const admin = await this.getAdmin();
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
    const producer = await (this.producer ??= (async () => {
      const p = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
      await p.connect();
      return p;
    })());
    await producer.send({
      topic,
      acks: -1,
      messages: messages.map((m) => ({ key: m.key, value: m.value, headers: m.headers })),
    });
  }

  async subscribe(o: SubscribeOptions): Promise<Subscription> {
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
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {})) if (v !== undefined) headers[k] = String(v);
        await o.handler({
          topic,
          partition,
          offset: message.offset,
          key: message.key?.toString() ?? "",
          value: message.value ?? Buffer.alloc(0),
          headers,
        });
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

  async close(): Promise<void> {
    await Promise.all([...this.consumers].map((c) => c.disconnect()));
    this.consumers.clear();
    if (this.producer) await (await this.producer).disconnect();
    if (this.admin) await (await this.admin).disconnect();
  }
}
