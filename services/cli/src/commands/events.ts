import type { DeadLetter } from "@tigw/contracts/events/v1/dead_letters";
import { fields, table } from "../output.js";
import { type CommandGroup, need } from "./command.js";

const where = (d: DeadLetter) => `${d.topic}/${d.partition}@${d.offset}`;

/** `tigw events dead-letters | replay ID`: the events a consumer gave up on, and replaying one. */
export const events: CommandGroup = {
  names: ["events"],
  usage: `  tigw events dead-letters               events a consumer gave up after its attempts (admin)
  tigw events replay ID                   deliver a dead letter once more to the group that gave it up`,
  async run({ verb, args, show, api, unknown }) {
    if (verb === "dead-letters") {
      const r = await api().get<{ deadLetters: DeadLetter[] }>("/api/v1/events/dead-letters");
      show(r, () =>
        r.deadLetters.length === 0
          ? "no dead letters"
          : table(
              ["ID", "GROUP", "EVENT", "WHERE", "ATTEMPTS", "DEAD SINCE", "REPLAYED", "ERROR"],
              r.deadLetters.map((d) => [d.id, d.groupId, d.eventType || "-", where(d), d.attempts, d.deadLetteredAt, d.replayedAt || "-", d.error]),
            ),
      );
      return 0;
    }
    if (verb === "replay") {
      const id = need(args[0], "ID (tigw events replay ID)");
      const d = await api().post<DeadLetter>(`/api/v1/events/dead-letters/${encodeURIComponent(id)}/replay`, {});
      show(
        d,
        () =>
          `replayed ${d.id} to ${d.groupId}\n\n${fields([
            ["event", `${d.eventType} ${d.eventId}`],
            ["from", where(d)],
            ["last error", d.error],
          ])}`,
      );
      return 0;
    }
    throw unknown();
  },
};
