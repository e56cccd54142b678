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
   * resolves; when it throws it is called again (with backoff), and after `maxAttempts` failures
   * the message goes to the dead-letter store and the partition moves on. When the process dies
   * first the message is delivered again.
   */
  handler: (message: DeliveredMessage) => Promise<void>;
  /** Attempts per message before it is dead-lettered (default 5). */
  maxAttempts?: number;
  /** Pause after the first failed attempt, doubled after each further one, at most 5 s (default 100 ms). */
  retryBackoffMs?: number;
}

/** A message that failed `attempts` times in one consumer group, kept with the last error. */
export interface DeadLetter {
  id: string;
  groupId: string;
  /** Where the message was: its original topic, partition and offset. */
  topic: string;
  partition: number;
  offset: string;
  key: string;
  headers: Record<string, string>;
  value: Buffer;
  error: string;
  attempts: number;
  deadLetteredAt: string;
  /** When it was replayed last; "" while it was not. */
  replayedAt: string;
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
  /** The dead letters of messages from these topics, oldest first. */
  listDeadLetters(topics: string[]): Promise<DeadLetter[]>;
  /**
   * Delivers a dead letter's message once more, to the group that gave it up only (the others
   * handled it). Throws DEAD_LETTER_NOT_FOUND for an unknown id.
   */
  replayDeadLetter(topics: string[], id: string): Promise<DeadLetter>;
  close(): Promise<void>;
}

/** The topic of a bounded context's events: tigw.<context>.events.v1. */
export const topicOf = (context: string): string => `tigw.${context}.events.v1`;

/** Where a topic's dead letters go (Kafka): tigw.<context>.events.v1.dlq. */
export const deadLetterTopicOf = (topic: string): string => `${topic}.dlq`;

export const HEADER = {
  eventType: "event-type",
  eventId: "event-id",
  traceparent: "traceparent",
  /** On a replayed dead letter: the only consumer group that handles it. */
  replayForGroup: "tigw-replay-for-group",
} as const;
