import { Controller, Get, HttpCode, Inject, Param, Post } from "@nestjs/common";
import { DomainError } from "@tigw/platform";
import type { DeadLetterApi } from "../grpc-clients.js";
import { DEAD_LETTERS } from "../tokens.js";
import { Access } from "./access.js";

/** Dead letters of the consuming services: events a consumer group gave up after its attempts. */
@Controller("api/v1/events")
export class EventsController {
  constructor(@Inject(DEAD_LETTERS) private readonly consumers: DeadLetterApi[]) {}

  @Get("dead-letters")
  @Access({
    role: "admin",
    summary: "Events a consumer gave up after its attempts (dead letters), oldest first, with the error, consumer group and original topic/partition/offset",
  })
  async list() {
    const all = await Promise.all(this.consumers.map((c) => c.listDeadLetters({})));
    return { deadLetters: all.flatMap((r) => r.deadLetters).sort((a, b) => a.deadLetteredAt.localeCompare(b.deadLetteredAt)) };
  }

  @Post("dead-letters/:id/replay")
  @HttpCode(200)
  @Access({ role: "admin", summary: "Deliver a dead letter once more to the consumer group that gave it up; 404 DEAD_LETTER_NOT_FOUND for an unknown id" })
  async replay(@Param("id") id: string) {
    for (const c of this.consumers) {
      try {
        return (await c.replayDeadLetter({ id })).deadLetter;
      } catch (e) {
        if (!(e instanceof DomainError && e.code === "DEAD_LETTER_NOT_FOUND")) throw e;
      }
    }
    throw new DomainError("DEAD_LETTER_NOT_FOUND", `no dead letter ${id}`, { id });
  }
}
