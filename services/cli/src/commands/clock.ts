import { type CommandGroup, need } from "./command.js";

/** The gateway's clock; the simulated one can be moved forward (expiry drills). */
export const clock: CommandGroup = {
  names: ["clock"],
  usage: `  tigw clock show | advance 30d           the clock (advance: simulated clock only)`,
  async run({ unknown, verb, args: [duration], show, api }) {
    switch (verb) {
      case "show": {
        const c = await api().get<{ now: string; simulated: boolean }>("/api/v1/clock");
        show(c, () => `${c.now} (${c.simulated ? "simulated clock" : "system clock"})`);
        return 0;
      }
      case "advance": {
        const c = await api().post<{ now: string }>("/api/v1/clock/advance", { duration: need(duration, "DURATION (e.g. 30d)") });
        show(c, () => `simulated clock now ${c.now}; expiry checks ran`);
        return 0;
      }
    }
    throw unknown();
  },
};
