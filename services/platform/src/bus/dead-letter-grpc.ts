import * as pb from "@tigw/contracts/events/v1/dead_letters";
import { unary, type GrpcServiceBinding } from "../grpc/server.js";
import { HEADER, type DeadLetter, type EventBus } from "./event-bus.js";

const toPb = (d: DeadLetter): pb.DeadLetter => ({
  id: d.id,
  groupId: d.groupId,
  topic: d.topic,
  partition: d.partition,
  offset: d.offset,
  key: d.key,
  eventType: d.headers[HEADER.eventType] ?? "",
  eventId: d.headers[HEADER.eventId] ?? "",
  error: d.error,
  attempts: d.attempts,
  deadLetteredAt: d.deadLetteredAt,
  replayedAt: d.replayedAt,
});

/** tigw.events.v1.DeadLetterService over the dead letters of the topics a service consumes. */
export function deadLetterGrpc(bus: EventBus, topics: string[]): GrpcServiceBinding {
  return {
    name: "tigw.events.v1.DeadLetterService",
    definition: pb.DeadLetterServiceService,
    implementation: {
      listDeadLetters: unary(async () => ({ deadLetters: (await bus.listDeadLetters(topics)).map(toPb) })),
      replayDeadLetter: unary(async (r: pb.ReplayDeadLetterRequest) => ({ deadLetter: toPb(await bus.replayDeadLetter(topics, r.id)) })),
    },
  };
}
