import { readFileSync } from "node:fs";
import type { Infomodell } from "@tigw/contracts/cardterminal/v1/card_terminal";
import { table } from "../output.js";
import { type CommandGroup, need, unitPath } from "./command.js";

const list = (xs: string[]) => xs.join(", ") || "-";
export const infomodellText = (i: Infomodell) =>
  [
    table(
      ["MANDANT", "CLIENT SYSTEMS", "WORKPLACES", "TERMINALS", "SM-B"],
      i.mandanten.map((m) => [m.mandantId, list(m.clientSystems), list(m.workplaces), list(m.terminals), list(m.smbs)]),
    ),
    "",
    table(
      ["WORKPLACE", "CLIENT SYSTEMS", "LOCAL TERMINALS", "REMOTE TERMINALS"],
      i.workplaces.map((w) => [w.workplaceId, list(w.clientSystems), list(w.localTerminals), list(w.remoteTerminals)]),
    ),
  ].join("\n");

/** A unit's Infomodell: Mandanten, client systems, workplaces, terminals, SM-Bs and how they relate. */
export const infomodell: CommandGroup = {
  names: ["infomodell"],
  usage: `  tigw infomodell show UNIT
  tigw infomodell UNIT mandant|client-system|workplace|terminal|workplace-terminal|smb
        [--mandant M] [--client-system CS] [--workplace W] [--ct-id KT] [--kind local|remote] [--iccsn I]
        client-system also takes [--password P] [--cert FILE]: how it authenticates at the SOAP
        interface (HTTP Basic as CS, or this TLS client certificate, RSA or ECC)`,
  // `tigw infomodell show UNIT` reads; `tigw infomodell UNIT ACTION` changes (the unit comes first).
  async run({ verb, args: [arg1], o, show, api }) {
    if (verb === "show") {
      const i = await api().get<Infomodell>(`${unitPath(arg1)}/infomodell`);
      show(i, () => infomodellText(i));
      return 0;
    }
    let i = await api().post<Infomodell>(`${unitPath(verb)}/infomodell`, {
      action: need(arg1, "ACTION"),
      mandantId: o.mandant,
      clientSystemId: o["client-system"],
      workplaceId: o.workplace,
      ctId: o["ct-id"],
      kind: o.kind,
      iccsn: o.iccsn,
    });
    if (arg1 === "client-system" && (o.password || o.cert)) {
      const cs = need(o["client-system"], "--client-system");
      i = await api().put<Infomodell>(`${unitPath(verb)}/infomodell/client-systems/${encodeURIComponent(cs)}/credential`, {
        password: o.password,
        certPem: o.cert ? readFileSync(o.cert, "utf8") : undefined,
      });
    }
    show(i, () => infomodellText(i));
    return 0;
  },
};
