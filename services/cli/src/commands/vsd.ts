import type { Card, Infomodell } from "@tigw/contracts/cardterminal/v1/card_terminal";
import type { ProtocolEntry } from "@tigw/contracts/vsdm/v1/vsdm";
import { ApiError } from "../client.js";
import { fields, table } from "../output.js";
import { type CommandGroup, need, timeArg, unitPath } from "./command.js";

/** A VSD document as the REST API answers it: the gzip'ed bytes (base64) and the XML. */
interface XmlDoc {
  base64: string;
  xml: string;
}
/** The REST (JSON) form of ReadVSD's answer: the gRPC bytes fields as XmlDoc. */
interface VsdAnswer {
  persoenlicheVersichertendaten: XmlDoc;
  allgemeineVersicherungsdaten: XmlDoc;
  geschuetzteVersichertendaten: XmlDoc;
  pruefungsnachweis: XmlDoc;
  vsdStatus: { status: string };
  result: number;
  errorCode: number;
}
const xmlField = (xml: string, name: string) => new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1] ?? "";
const RESULTS: Record<number, string> = {
  1: "update done",
  2: "no update needed",
  3: "update technically impossible",
  4: "eGK authentication certificate invalid",
  5: "online check technically impossible",
  6: "update impossible, maximum offline period exceeded",
};
export function vsdText(r: VsdAnswer): string {
  const p = r.persoenlicheVersichertendaten.xml;
  const a = r.allgemeineVersicherungsdaten.xml;
  const date = (d: string) => (d.length === 8 ? `${d.slice(6)}.${d.slice(4, 6)}.${d.slice(0, 4)}` : d);
  return [
    fields([
      ["Versicherten_ID", xmlField(p, "Versicherten_ID")],
      ["Name", [xmlField(p, "Vorname"), xmlField(p, "Vorsatzwort"), xmlField(p, "Nachname")].filter(Boolean).join(" ")],
      ["Geburtsdatum", date(xmlField(p, "Geburtsdatum"))],
      ["Geschlecht", xmlField(p, "Geschlecht")],
      ["Anschrift", `${xmlField(p, "Strasse")} ${xmlField(p, "Hausnummer")}, ${xmlField(p, "Postleitzahl")} ${xmlField(p, "Ort")}`],
      ["Versichert seit", date(xmlField(a, "Beginn"))],
      ["Kostenträger", `${xmlField(a, "Kostentraegerkennung")} ${xmlField(a, "Name")}`],
      ["Versichertenart", xmlField(a, "Versichertenart")],
      ["WOP", xmlField(a, "WOP")],
    ]),
    "",
    r.result
      ? `Prüfungsnachweis: ${r.result} (${RESULTS[r.result] ?? "?"})${r.errorCode ? `, Fachdienst code ${r.errorCode}` : ""}`
      : "no Prüfungsnachweis (no online check)",
  ].join("\n");
}

/** VSDM: read an eGK's Versichertenstammdaten (ReadVSD) and the unit's read protocol. */
export const vsd: CommandGroup = {
  names: ["vsd"],
  usage: `  tigw vsd read --unit U --mandant M --workplace W --ct-id KT --slot N [--client-system CS]
        [--online-check] [--receipt]       ReadVSD of the eGK in that slot, with the Mandant's SMC-B
        (-o xml: the gematik ReadVSDResponse, or the GERROR Error of a refusal)
  tigw vsd log UNIT [--mandant M] [--outcome ok|warning|error] [--from T] [--to T] [--limit N]
        (T: ISO 8601 time, or a span back from now such as 24h or 7d)`,
  xmlVerbs: ["read"],
  async run({ unknown, verb, args: [unit], o, output, out, show, api }) {
    switch (verb) {
      case "read": {
        const gateway = api();
        const unit = need(o.unit, "--unit");
        const mandantId = need(o.mandant, "--mandant");
        const ctId = need(o["ct-id"], "--ct-id");
        const slot = Number(need(o.slot, "--slot"));
        const [{ cards }, info] = await Promise.all([
          gateway.get<{ cards: Card[] }>(`${unitPath(unit)}/cards`),
          gateway.get<Infomodell>(`${unitPath(unit)}/infomodell`),
        ]);
        const egk = cards.find((c) => c.ctId === ctId && c.slot === slot);
        if (!egk) throw new ApiError(0, "4008", `no card in ${ctId} slot ${slot}`);
        const mine = info.mandanten.find((m) => m.mandantId === mandantId);
        const smcb =
          cards.find((c) => (c.cardType === "SMC-B" || c.cardType === "HBA") && (mine?.smbs.includes(c.iccsn) ?? false)) ??
          cards.find((c) => c.cardType === "SMC-B");
        if (!smcb) throw new ApiError(0, "4009", "no SMC-B of this Mandant is inserted");
        const request = {
          unit,
          mandantId,
          clientSystemId: o["client-system"] ?? mine?.clientSystems[0] ?? "",
          workplaceId: need(o.workplace, "--workplace"),
          ehcHandle: egk.cardHandle,
          hpcHandle: smcb.cardHandle,
          performOnlineCheck: o["online-check"] === true,
          readOnlineReceipt: o.receipt === true,
        };
        if (output === "xml") {
          const x = await gateway.postXml("/api/v1/vsd/read", request);
          out(x.text);
          return x.ok ? 0 : 1;
        }
        const r = await gateway.post<VsdAnswer>("/api/v1/vsd/read", request);
        show(r, () => vsdText(r));
        return 0;
      }
      case "log": {
        const gateway = api();
        const query = new URLSearchParams();
        for (const [k, v] of [
          ["mandant", o.mandant],
          ["outcome", o.outcome],
          ["from", timeArg(o.from)],
          ["to", timeArg(o.to)],
          ["limit", o.limit],
        ] as const)
          if (v) query.set(k, v);
        const r = await gateway.get<{ entries: ProtocolEntry[] }>(`${unitPath(unit)}/vsd-log${query.size ? `?${query}` : ""}`);
        show(r, () =>
          r.entries.length
            ? table(
                ["TIME", "MANDANT", "WORKPLACE", "CT-ID", "KVNR", "OCSP", "OUTCOME", "CODE", "RESULT", "MS"],
                r.entries.map((e) => [
                  e.at,
                  e.mandantId,
                  e.workplaceId,
                  e.ctId || "-",
                  e.kvnr || "-",
                  e.ocsp || "-",
                  e.outcome,
                  e.code || "-",
                  e.result || "-",
                  e.steps.reduce((a, s) => a + s.ms, 0),
                ]),
              )
            : "no reads protocolled",
        );
        return 0;
      }
    }
    throw unknown();
  },
};
