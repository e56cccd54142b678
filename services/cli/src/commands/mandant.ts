import type { Mandant } from "@tigw/contracts/tenancy/v1/tenancy";
import { table } from "../output.js";
import { type CommandGroup, need, unitPath } from "./command.js";

export const mandantRows = (ms: Mandant[]) =>
  table(
    ["ID", "NAME", "BSNR", "SMC-B ICCSN"],
    ms.map((m) => [m.mandantId, m.name, m.bsnr || "-", m.smcbIccsn || "-"]),
  );

/** The Mandanten (BTRS) of a unit. */
export const mandant: CommandGroup = {
  names: ["mandant"],
  usage: `  tigw mandant add UNIT --id M --name N [--bsnr B] [--iccsn SMC-B-ICCSN]
  tigw mandant list UNIT`,
  async run({ unknown, verb, args: [unit], o, show, api }) {
    switch (verb) {
      case "add": {
        const m = await api().post<Mandant>(`${unitPath(unit)}/mandanten`, {
          mandantId: need(o.id, "--id"),
          name: need(o.name, "--name"),
          bsnr: o.bsnr,
          smcbIccsn: o.iccsn,
        });
        show(m, () => `added Mandant ${m.mandantId} (${m.name}) to ${unit}`);
        return 0;
      }
      case "list": {
        const r = await api().get<{ mandanten: Mandant[] }>(`${unitPath(unit)}/mandanten`);
        show(r, () => (r.mandanten.length ? mandantRows(r.mandanten) : "no Mandanten on this unit"));
        return 0;
      }
    }
    throw unknown();
  },
};
