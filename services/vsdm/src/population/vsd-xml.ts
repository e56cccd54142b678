import type { InsuredPerson } from "./insured.js";

/** Namespace and version of the VSD documents (fa/vsds/Schema_VSD.xsd). */
export const VSD_NS = "http://ws.gematik.de/fa/vsdm/vsd/v5.2";
export const CDM_VERSION = "5.2.0";

const esc = (s: string) => s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;");
const el = (name: string, value: string | undefined) => (value ? `<${name}>${esc(value)}</${name}>` : "");
const doc = (root: string, body: string) =>
  `<?xml version="1.0" encoding="ISO-8859-15"?><${root} xmlns="${VSD_NS}" CDM_VERSION="${CDM_VERSION}">${body}</${root}>`;

export interface VsdDocuments {
  persoenlicheVersichertendaten: string;
  allgemeineVersicherungsdaten: string;
  geschuetzteVersichertendaten: string;
}

/** The three VSD documents of a person, as XML text declared ISO-8859-15 (encode with `toIso885915`). */
export function vsdDocuments(p: InsuredPerson): VsdDocuments {
  const persoenliche = doc(
    "UC_PersoenlicheVersichertendatenXML",
    `<Versicherter>${el("Versicherten_ID", p.kvnr)}<Person>${el("Geburtsdatum", p.birthDate)}${el("Vorname", p.givenName)}${el("Nachname", p.surname)}${el("Geschlecht", p.sex)}${el("Vorsatzwort", p.prefix)}` +
      `<StrassenAdresse>${el("Postleitzahl", p.postalCode)}${el("Ort", p.city)}<Land>${el("Wohnsitzlaendercode", p.country)}</Land>${el("Strasse", p.street)}${el("Hausnummer", p.houseNumber)}</StrassenAdresse></Person></Versicherter>`,
  );
  const ke = p.kostenerstattung ? "1" : "0";
  const allgemeine = doc(
    "UC_AllgemeineVersicherungsdatenXML",
    `<Versicherter><Versicherungsschutz>${el("Beginn", p.coverageStart)}<Kostentraeger>${el("Kostentraegerkennung", p.insurer.ik)}${el("Kostentraegerlaendercode", "D")}${el("Name", p.insurer.name)}</Kostentraeger></Versicherungsschutz>` +
      `<Zusatzinfos><ZusatzinfosGKV>${el("Versichertenart", p.versichertenart)}<Zusatzinfos_Abrechnung_GKV><Kostenerstattung>${el("AerztlicheVersorgung", ke)}${el("ZahnaerztlicheVersorgung", ke)}${el("StationaererBereich", ke)}${el("VeranlassteLeistungen", ke)}</Kostenerstattung>${el("WOP", p.wop)}</Zusatzinfos_Abrechnung_GKV></ZusatzinfosGKV></Zusatzinfos></Versicherter>`,
  );
  const s = p.selektivvertraege;
  const geschuetzte = doc(
    "UC_GeschuetzteVersichertendatenXML",
    `<Zuzahlungsstatus>${el("Status", p.zuzahlungsbefreit ? "1" : "0")}</Zuzahlungsstatus><Selektivvertraege>${el("Aerztlich", String(s.aerztlich))}${el("Zahnaerztlich", String(s.zahnaerztlich))}${el("Art", s.art)}</Selektivvertraege>`,
  );
  return { persoenlicheVersichertendaten: persoenliche, allgemeineVersicherungsdaten: allgemeine, geschuetzteVersichertendaten: geschuetzte };
}

/** ISO-8859-15 bytes of a text made of Latin-1 letters (all the population uses: ä, ö, ü, ß). */
export function toIso885915(text: string): Buffer {
  // The eight code points where ISO-8859-15 differs from Latin-1, and anything beyond Latin-1.
  if ([...text].some((ch) => ch.charCodeAt(0) > 0xff || "\u00a4\u00a6\u00a8\u00b4\u00b8\u00bc\u00bd\u00be".includes(ch))) {
    throw new Error("text has characters that differ between Latin-1 and ISO-8859-15");
  }
  return Buffer.from(text, "latin1");
}
