import { declareDeadLetters } from "../telemetry/bus-metrics.js";
import { randomUUID } from "node:crypto";
import { DomainError } from "../errors.js";
import { migrate } from "../sql/migrate.js";
import type { Sql } from "../sql/sql.js";
import { deliver, replayHeaders, type FailedDelivery } from "./delivery.js";
import type { BusMessage, DeadLetter, DeliveredMessage, EventBus, SubscribeOptions, Subscription } from "./event-bus.js";

const migrations = [
  {
    id: "0001_bus",
    sql: `
CREATE TABLE {schema}.partitions (topic text, partition int, next_offset bigint NOT NULL, PRIMARY KEY (topic, partition));
CREATE TABLE {schema}.messages (
  topic text, partition int, "offset" bigint, key text NOT NULL, value bytea NOT NULL, headers jsonb NOT NULL,
  appended_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (topic, partition, "offset"));
CREATE TABLE {schema}.offsets (group_id text, topic text, partition int, next_offset bigint NOT NULL,
  PRIMARY KEY (group_id, topic, partition));`,
  },
  {
    id: "0002_dead_letters",
    sql: `
CREATE TABLE {schema}.dead_letters (
  id uuid PRIMARY KEY, group_id text NOT NULL, topic text NOT NULL, partition int NOT NULL, "offset" bigint NOT NULL,
  key text NOT NULL, value bytea NOT NULL, headers jsonb NOT NULL, error text NOT NULL, attempts int NOT NULL,
  dead_lettered_at timestamptz NOT NULL DEFAULT now(), replayed_at timestamptz);`,
  },
];

interface DeadLetterRow {
  id: string;
  group_id: string;
  topic: string;
  partition: number;
  offset: string;
  key: string;
  value: Uint8Array;
  headers: Record<string, string>;
  error: string;
  attempts: number;
  dead_lettered_at: string | Date;
  replayed_at: string | Date | null;
}

const DEAD_LETTER_COLUMNS = `id::text, group_id, topic, partition, "offset"::text, key, value, headers, error, attempts, dead_lettered_at, replayed_at`;

const toDeadLetter = (r: DeadLetterRow): DeadLetter => ({
  id: r.id,
  groupId: r.group_id,
  topic: r.topic,
  partition: r.partition,
  offset: r.offset,
  key: r.key,
  headers: r.headers,
  value: Buffer.from(r.value),
  error: r.error,
  attempts: r.attempts,
  deadLetteredAt: new Date(r.dead_lettered_at).toISOString(),
  replayedAt: r.replayed_at ? new Date(r.replayed_at).toISOString() : "",
});

/** FNV-1a: a stable key -> partition mapping, so a unit's events stay in one partition. */
function partitionOf(key: string, partitions: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return (h >>> 0) % partitions;
}

interface Member {
  id: number;
  groupId: string;
  topics: string[];
  running: boolean;
  loop: Promise<void>;
  /** A message came for one of its topics (or it stops) while it was busy: poll again at once. */
  pending: boolean;
  /** Ends the member's idle wait; set while it waits. */
  wakeUp?: () => void;
}

const at = (...parts: (string | number)[]) => parts.join("\0");

/**
 * The in-process bus of the embedded mode: a partitioned log with consumer groups, kept in its
 * own embedded database so that messages and committed offsets survive a restart, with the
 * same at-least-once contract as Kafka. Members of one group in this process share partitions.
 */
export class EmbeddedBus implements EventBus {
  readonly kind = "embedded" as const;
  private readonly members = new Set<Member>();
  private nextMemberId = 1;
  /**
   * Where each partition ends and where each group stands, mirrored from the database: this bus
   * is the only writer of its database (one EmbeddedBus per database at a time), so a poll that
   * finds nothing new costs no query. Before the mirror every wake-up asked the database twice per
   * topic and partition for every member, and that, not the work itself, used most of the
   * embedded process's CPU under load.
   */
  private readonly ends = new Map<string, bigint>();
  /** null: the group never committed in that partition. */
  private readonly committed = new Map<string, bigint | null>();

  private constructor(
    private readonly sql: Sql,
    private readonly partitions: number,
    private readonly pollMs: number,
  ) {}

  static async open(sql: Sql, opts: { partitions?: number; pollMs?: number } = {}): Promise<EmbeddedBus> {
    await migrate(sql, "bus", migrations);
    return new EmbeddedBus(sql, opts.partitions ?? 6, opts.pollMs ?? 250);
  }

  async publish(topic: string, messages: BusMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const written = new Map<number, bigint>();
    await this.sql.transaction(async (tx) => {
      for (const m of messages) {
        const partition = partitionOf(m.key, this.partitions);
        const [row] = await tx.query<{ offset: string }>(
          `INSERT INTO bus.partitions (topic, partition, next_offset) VALUES ($1, $2, 1)
           ON CONFLICT (topic, partition) DO UPDATE SET next_offset = bus.partitions.next_offset + 1
           RETURNING next_offset - 1 AS "offset"`,
          [topic, partition],
        );
        await tx.query(`INSERT INTO bus.messages (topic, partition, "offset", key, value, headers) VALUES ($1, $2, $3, $4, $5, $6::jsonb)`, [
          topic,
          partition,
          row!.offset,
          m.key,
          m.value,
          JSON.stringify(m.headers),
        ]);
        written.set(partition, BigInt(row!.offset) + 1n);
      }
    });
    // Only once committed may a poll see the new end.
    for (const [partition, end] of written) this.raiseEnd(topic, partition, end);
    for (const m of this.members) if (m.topics.includes(topic)) this.wakeMember(m);
  }

  private raiseEnd(topic: string, partition: number, end: bigint): void {
    const k = at(topic, partition);
    const known = this.ends.get(k);
    if (known === undefined || end > known) this.ends.set(k, end);
  }

  /** The offset after a partition's last message (0 when it has none). */
  private async endOf(topic: string, partition: number): Promise<bigint> {
    const known = this.ends.get(at(topic, partition));
    if (known !== undefined) return known;
    const [row] = await this.sql.query<{ next_offset: string }>(`SELECT next_offset FROM bus.partitions WHERE topic = $1 AND partition = $2`, [
      topic,
      partition,
    ]);
    // A publish may have raised the end meanwhile: keep the larger.
    this.raiseEnd(topic, partition, BigInt(row?.next_offset ?? 0));
    return this.ends.get(at(topic, partition))!;
  }

  /** The group's next offset in a partition, undefined when it never committed one. */
  private async committedOf(groupId: string, topic: string, partition: number): Promise<bigint | undefined> {
    const k = at(groupId, topic, partition);
    if (!this.committed.has(k)) {
      const [row] = await this.sql.query<{ next_offset: string }>(`SELECT next_offset FROM bus.offsets WHERE group_id = $1 AND topic = $2 AND partition = $3`, [
        groupId,
        topic,
        partition,
      ]);
      // A commit meanwhile is newer than what the query saw.
      if (!this.committed.has(k)) this.committed.set(k, row ? BigInt(row.next_offset) : null);
    }
    return this.committed.get(k) ?? undefined;
  }

  private wakeMember(m: Member): void {
    m.pending = true;
    m.wakeUp?.();
  }

  /** Partitions of a topic this member owns: round robin over the group's members here. */
  private owned(member: Member): number[] {
    const peers = [...this.members].filter((m) => m.groupId === member.groupId && m.running).sort((a, b) => a.id - b.id);
    const index = peers.indexOf(member);
    return Array.from({ length: this.partitions }, (_, p) => p).filter((p) => p % peers.length === index);
  }

  private async pollOnce(member: Member, o: SubscribeOptions): Promise<number> {
    let delivered = 0;
    for (const topic of member.topics) {
      for (const partition of this.owned(member)) {
        const end = await this.endOf(topic, partition);
        const committed = await this.committedOf(member.groupId, topic, partition);
        let from = committed ?? 0n;
        if (committed === undefined && o.fromBeginning === false) {
          from = end;
          await this.commit(member.groupId, topic, partition, from);
        }
        if (from >= end) continue;
        const rows = await this.sql.query<{ offset: string; key: string; value: Uint8Array; headers: Record<string, string> }>(
          // ORDER BY the table's column, qualified: a bare "offset" would name the text output
          // column and sort "100" before "42", so a lagging group skipped messages past the LIMIT
          // and saw others twice.
          `SELECT "offset"::text, key, value, headers FROM bus.messages
           WHERE topic = $1 AND partition = $2 AND "offset" >= $3 ORDER BY messages."offset" LIMIT 200`,
          [topic, partition, from.toString()],
        );
        for (const r of rows) {
          if (!member.running) return delivered;
          const msg: DeliveredMessage = { topic, partition, offset: r.offset, key: r.key, value: Buffer.from(r.value), headers: r.headers };
          // Retries, then dead-letters; throws only when stopping (not committed -> delivered again).
          await deliver(
            o,
            msg,
            () => member.running,
            (f) => this.deadLetter(f),
          );
          await this.commit(member.groupId, topic, partition, BigInt(r.offset) + 1n);
          delivered++;
        }
      }
    }
    return delivered;
  }

  private async deadLetter(f: FailedDelivery): Promise<void> {
    const m = f.message;
    await this.sql.query(
      `INSERT INTO bus.dead_letters (id, group_id, topic, partition, "offset", key, value, headers, error, attempts)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10)`,
      [randomUUID(), f.groupId, m.topic, m.partition, m.offset, m.key, m.value, JSON.stringify(m.headers), f.error, f.attempts],
    );
  }

  async listDeadLetters(topics: string[]): Promise<DeadLetter[]> {
    const rows = await this.sql.query<DeadLetterRow>(
      `SELECT ${DEAD_LETTER_COLUMNS} FROM bus.dead_letters WHERE topic = ANY($1::text[]) ORDER BY dead_lettered_at, id`,
      [topics],
    );
    return rows.map(toDeadLetter);
  }

  async replayDeadLetter(topics: string[], id: string): Promise<DeadLetter> {
    const found = /^[0-9a-f-]{36}$/i.test(id)
      ? await this.sql.query<DeadLetterRow>(`SELECT ${DEAD_LETTER_COLUMNS} FROM bus.dead_letters WHERE id = $1::uuid AND topic = ANY($2::text[])`, [id, topics])
      : [];
    if (!found[0]) throw new DomainError("DEAD_LETTER_NOT_FOUND", `no dead letter ${id}`, { id });
    const dl = toDeadLetter(found[0]);
    await this.publish(dl.topic, [{ key: dl.key, value: dl.value, headers: replayHeaders(dl.headers, dl.groupId) }]);
    const [row] = await this.sql.query<DeadLetterRow>(`UPDATE bus.dead_letters SET replayed_at = now() WHERE id = $1::uuid RETURNING ${DEAD_LETTER_COLUMNS}`, [
      id,
    ]);
    return toDeadLetter(row!);
  }

  private async commit(groupId: string, topic: string, partition: number, next: bigint): Promise<void> {
    await this.sql.query(
      `INSERT INTO bus.offsets (group_id, topic, partition, next_offset) VALUES ($1, $2, $3, $4)
       ON CONFLICT (group_id, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset`,
      [groupId, topic, partition, next.toString()],
    );
    this.committed.set(at(groupId, topic, partition), next);
  }

  async subscribe(o: SubscribeOptions): Promise<Subscription> {
    declareDeadLetters(o.topics, o.groupId);
    const member: Member = { id: this.nextMemberId++, groupId: o.groupId, topics: o.topics, running: true, loop: Promise.resolve(), pending: false };
    this.members.add(member);
    member.loop = (async () => {
      while (member.running) {
        let delivered = 0;
        member.pending = false;
        try {
          delivered = await this.pollOnce(member, o);
        } catch {
          // The database failed (or the member stopped mid-retry): the message stays uncommitted
          // and comes again after a pause. A failing handler does not get here: deliver() retries
          // it and then dead-letters the message, so one bad message never stalls the partition.
          await new Promise((r) => setTimeout(r, this.pollMs));
        }
        if (delivered === 0 && member.running) await this.idle(member);
      }
    })();
    return {
      stop: async () => {
        member.running = false;
        this.wakeMember(member);
        await member.loop;
        this.members.delete(member);
      },
    };
  }

  /** Waits for a message on the member's topics, at most pollMs; not at all when one came meanwhile. */
  private idle(member: Member): Promise<void> {
    if (member.pending) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => member.wakeUp?.(), this.pollMs);
      member.wakeUp = () => {
        clearTimeout(timer);
        member.wakeUp = undefined;
        resolve();
      };
    });
  }

  async close(): Promise<void> {
    await Promise.all(
      [...this.members].map(async (m) => {
        m.running = false;
        this.wakeMember(m);
        await m.loop;
      }),
    );
    this.members.clear();
  }
}
