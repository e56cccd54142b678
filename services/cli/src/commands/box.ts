import { table } from "../output.js";
import type { CommandGroup } from "./command.js";

interface Box {
  boxId: string;
  account: string;
  name: string;
  state: string;
  connected: boolean;
  connectedSince: string;
  lastHeartbeat: string;
  lastSessionEnd: string;
  certNotAfter: string;
}

/** The practices' VPN boxes as operators see them: state, session, why the last one ended. */
export const box: CommandGroup = {
  names: ["box"],
  usage: `  tigw box list [--account A]             VPN boxes: state (awaiting-enrolment, enrolled, removed), session, last heartbeat, why the last session ended`,
  async run({ unknown, verb, o, show, api }) {
    if (verb !== "list") throw unknown();
    const q = o.account ? `?account=${encodeURIComponent(o.account)}` : "";
    const r = await api().get<{ boxes: Box[] }>(`/api/v1/boxes${q}`);
    show(r, () =>
      r.boxes.length
        ? table(
            ["BOX", "ACCOUNT", "NAME", "STATE", "SESSION", "LAST HEARTBEAT", "LAST END", "CERT UNTIL"],
            r.boxes.map((b) => [
              b.boxId,
              b.account,
              b.name,
              b.state,
              b.connected ? `connected since ${b.connectedSince}` : "-",
              b.lastHeartbeat || "-",
              b.lastSessionEnd || "-",
              b.certNotAfter ? b.certNotAfter.slice(0, 10) : "-",
            ]),
          )
        : "no VPN boxes yet (practices announce them in the portal)",
    );
    return 0;
  },
};
