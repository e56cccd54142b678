import type { Card, Terminal } from "@tigw/contracts/cardterminal/v1/card_terminal";
import { fields, table } from "../output.js";
import { type CommandGroup, need } from "./command.js";
import { KT_FIRMWARE_USAGE, terminalFirmwareVerb } from "./ksr.js";

export const terminalRows = (ts: Terminal[]) =>
  table(
    ["CT-ID", "STATE", "CONNECTED", "UNIT", "CU", "MAC", "CARDS"],
    ts.map((t) => [t.ctId, t.correlation, t.connected ? "yes" : "no", t.unitId || "-", t.computeUnit || "-", t.mac, t.cards.length]),
  );
export const cardRows = (cs: Card[]) =>
  table(
    ["CT-ID", "SLOT", "TYPE", "ICCSN", "HANDLE", "INSERTED"],
    cs.map((c) => [c.ctId, c.slot, c.cardType, c.iccsn, c.cardHandle, c.insertedAt]),
  );
const ktPath = (kt: string | undefined) => `/api/v1/terminals/${encodeURIComponent(need(kt, "KT"))}`;

/** Card terminals (KTs): register, pair with a unit, unpair, list, show. */
export const kt: CommandGroup = {
  names: ["kt"],
  usage: `  tigw kt add --ct-id KT --mac MAC [--address A --vendor V --model M --firmware F]
  tigw kt pair KT --unit UNIT --cert GSMC-KT-CERT-SERIAL   (prints the pairing secret once)
  tigw kt unpair KT [--reason R] | list [--unit U] [--mandant M] | show KT
${KT_FIRMWARE_USAGE}`,
  async run({ unknown, verb, args: [id], o, show, api }) {
    switch (verb) {
      case "firmware":
      case "update":
        return terminalFirmwareVerb(verb, id, o, api(), show);
      case "add": {
        const k = await api().post<Terminal>("/api/v1/terminals", {
          ctId: need(o["ct-id"], "--ct-id"),
          mac: need(o.mac, "--mac"),
          address: o.address,
          vendor: o.vendor,
          model: o.model,
          firmware: o.firmware,
        });
        show(k, () => `registered terminal ${k.ctId} (${k.mac}), state ${k.correlation}`);
        return 0;
      }
      case "pair": {
        const r = await api().post<{ terminal: Terminal; pairingSecret: string }>(`${ktPath(id)}/pair`, {
          unit: need(o.unit, "--unit"),
          certSerial: need(o.cert, "--cert"),
        });
        show(
          r,
          () =>
            `paired ${r.terminal.ctId} with unit ${o.unit} (compute unit ${r.terminal.computeUnit}); pairing secret for the terminal (shown once): ${r.pairingSecret}`,
        );
        return 0;
      }
      case "unpair": {
        const k = await api().post<Terminal>(`${ktPath(id)}/unpair`, { reason: o.reason });
        show(k, () => `unpaired ${k.ctId}: it can no longer connect; its slot is free`);
        return 0;
      }
      case "list": {
        const q = new URLSearchParams({ ...(o.unit ? { unit: o.unit } : {}), ...(o.mandant ? { mandant: o.mandant } : {}) }).toString();
        const r = await api().get<{ terminals: Terminal[] }>(`/api/v1/terminals${q ? `?${q}` : ""}`);
        show(r, () => (r.terminals.length ? terminalRows(r.terminals) : "no terminals"));
        return 0;
      }
      case "show": {
        const k = await api().get<Terminal>(ktPath(id));
        show(k, () =>
          [
            fields([
              ["Terminal", k.ctId],
              ["MAC", k.mac],
              ["Device", `${k.vendor} ${k.model} ${k.firmware}`.trim()],
              ["Unit", k.unitId || "-"],
              ["State", `${k.correlation}${k.connected ? ", connected" : ""}`],
              ["gSMC-KT", k.certSerial || "-"],
              ["Refused connects", k.refusedConnects],
            ]),
            ...(k.cards.length ? ["", cardRows(k.cards)] : []),
          ].join("\n"),
        );
        return 0;
      }
    }
    throw unknown();
  },
};
