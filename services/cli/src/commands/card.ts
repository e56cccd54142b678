import type { Card } from "@tigw/contracts/cardterminal/v1/card_terminal";
import { type CommandGroup, need, unitPath } from "./command.js";
import { cardRows } from "./kt.js";

/** The cards inserted in a unit's terminals and their PINs. */
export const card: CommandGroup = {
  names: ["card"],
  usage: `  tigw card list UNIT | pin verify HANDLE --pin P | pin status HANDLE`,
  async run({ unknown, verb, args: [arg1, arg2], o, show, api }) {
    switch (verb) {
      case "pin": {
        const handle = encodeURIComponent(need(arg2, "HANDLE"));
        if (arg1 === "verify") {
          const r = await api().post<{ result: string; leftTries: number }>(`/api/v1/cards/${handle}/verify-pin`, { pin: need(o.pin, "--pin") });
          show(r, () => `PIN ${r.result}${r.result === "REJECTED" ? ` (${r.leftTries} tries left)` : ""}`);
          return r.result === "OK" ? 0 : 1;
        }
        const r = await api().get<{ status: string; leftTries: number }>(`/api/v1/cards/${handle}/pin-status`);
        show(r, () => `PIN ${r.status}${r.status === "VERIFIABLE" ? ` (${r.leftTries} tries left)` : ""}`);
        return 0;
      }
      case "list": {
        const r = await api().get<{ cards: Card[] }>(`${unitPath(arg1)}/cards`);
        show(r, () => (r.cards.length ? cardRows(r.cards) : "no cards inserted"));
        return 0;
      }
    }
    throw unknown();
  },
};
