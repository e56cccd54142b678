/** A message on the bus: key decides the partition (and so the order), headers carry metadata. */
export interface BusMessage {
  key: string;
  value: Buffer;
  headers: Record<string, string>;
}

export interface DeliveredMessage extends BusMessage {
  topic: string;
  partition: number;
  offset: string;
}

export interface SubscribeOptions {
  /** Consumer group: members share the partitions; the group's committed offsets survive restarts. */
  groupId: string;
  topics: string[];
  /** Where a group without committed offsets starts. Default: from the beginning. */
  fromBeginning?: boolean;
  /**
   * Called once per message, in order within a partition. The offset is committed only after it
   * resolves; when it throws (or the process dies first) the message is delivered again.
   */
  handler: (message: DeliveredMessage) => Promise<void>;
}

export interface Subscription {
  stop(): Promise<void>;
}

/** The EventBus port. At-least-once: consumers must deduplicate (see Inbox). */
export interface EventBus {
  readonly kind: "kafka" | "embedded";
  /** Resolves once the bus has durably accepted every message. */
  publish(topic: string, messages: BusMessage[]): Promise<void>;
  subscribe(options: SubscribeOptions): Promise<Subscription>;
  close(): Promise<void>;
}

/** The topic of a bounded context's events: tigw.<context>.events.v1. */
export const topicOf = (context: string): string => `tigw.${context}.events.v1`;

export const HEADER = {
  eventType: "event-type",
  eventId: "event-id",
  traceparent: "traceparent",
} as const;
