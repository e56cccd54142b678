/**
 * The answers of ReadVSD in the shapes of the gematik schemas, the core of the SOAP translation:
 * ReadVSDResponse (conn/vsds/VSDService.xsd, v5.2) and the GERROR Error that a SOAP fault
 * carries (tel/error/TelematikError.xsd, v2.0).
 */
export const VSD_SERVICE_NS = "http://ws.gematik.de/conn/vsds/VSDService/v5.2";
export const GERROR_NS = "http://ws.gematik.de/tel/error/v2.0";

const escape = (s: string) => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

export interface ReadVsdShape {
  persoenlicheVersichertendaten: Uint8Array;
  allgemeineVersicherungsdaten: Uint8Array;
  geschuetzteVersichertendaten: Uint8Array;
  vsdStatus?: { status: string; timestamp: string; version: string };
  pruefungsnachweis: Uint8Array;
}

/** ReadVSDResponse: the documents gzip-compressed and Base64-encoded; empty optional parts are left out. */
export function readVsdResponseXml(r: ReadVsdShape): string {
  const b64 = (name: string, data: Uint8Array, optional: boolean) =>
    optional && !data.length ? "" : `<VSD:${name}>${Buffer.from(data).toString("base64")}</VSD:${name}>`;
  const s = r.vsdStatus ?? { status: "0", timestamp: new Date(0).toISOString(), version: "5.2.0" };
  return (
    `<?xml version="1.0" encoding="UTF-8"?><VSD:ReadVSDResponse xmlns:VSD="${VSD_SERVICE_NS}">` +
    b64("PersoenlicheVersichertendaten", r.persoenlicheVersichertendaten, false) +
    b64("AllgemeineVersicherungsdaten", r.allgemeineVersicherungsdaten, false) +
    b64("GeschuetzteVersichertendaten", r.geschuetzteVersichertendaten, true) +
    `<VSD:VSD_Status><VSD:Status>${escape(s.status)}</VSD:Status><VSD:Timestamp>${escape(s.timestamp)}</VSD:Timestamp><VSD:Version>${escape(s.version)}</VSD:Version></VSD:VSD_Status>` +
    b64("Pruefungsnachweis", r.pruefungsnachweis, true) +
    `</VSD:ReadVSDResponse>`
  );
}

/** Codes that concern access and trust rather than a technical fault (ErrorType "Security"). */
const SECURITY = new Set([
  106, 107, 114, 3041, 3042, 4004, 4005, 4006, 4007, 4009, 4010, 4011, 4012, 4013, 4014, 4015, 4016, 4017, 4019, 4021, 4204, 4056, 4057,
]);

/**
 * How a gematik code is reported in a GERROR Trace. The sources give codes and meanings; the
 * component and error type are our reading of them: the Fachmodul (FM) owns 101-3042 and 12105,
 * the Konnektor core (KON) the 4000s; trust and access faults are "Security", the rest "Technical".
 */
export function traitsOf(code: number): { compType: "FM" | "KON"; severity: "Error"; errorType: "Security" | "Technical" } {
  return { compType: code >= 4000 && code < 5000 ? "KON" : "FM", severity: "Error", errorType: SECURITY.has(code) ? "Security" : "Technical" };
}

/** A gematik code is numeric; the service's own codes (UNIT_NOT_FOUND, ...) have no GERROR form. */
export const isGematikCode = (code: string): boolean => /^\d{1,6}$/.test(code);

/**
 * The GERROR Error of a refusal with a gematik code. The 3041/3042 detail carries the CardHandle
 * (gemSpec_SST_PS_VSDM); other details stay out of the fault.
 */
export function gematikErrorXml(e: { code: string; message: string; details?: Record<string, string> }, o: { messageId: string; at: Date }): string {
  if (!isGematikCode(e.code)) throw new RangeError(`"${e.code}" is not a gematik code`);
  const code = Number(e.code);
  const t = traitsOf(code);
  const detail = e.details?.["cardHandle"] ? `<GERROR:Detail>${escape(e.details["cardHandle"])}</GERROR:Detail>` : "";
  return (
    `<?xml version="1.0" encoding="UTF-8"?><GERROR:Error xmlns:GERROR="${GERROR_NS}">` +
    `<GERROR:MessageID>${escape(o.messageId)}</GERROR:MessageID><GERROR:Timestamp>${o.at.toISOString()}</GERROR:Timestamp>` +
    `<GERROR:Trace><GERROR:EventID>${escape(o.messageId)}</GERROR:EventID><GERROR:Instance>vsdm</GERROR:Instance><GERROR:LogReference>${escape(o.messageId)}</GERROR:LogReference>` +
    `<GERROR:CompType>${t.compType}</GERROR:CompType><GERROR:Code>${code}</GERROR:Code><GERROR:Severity>${t.severity}</GERROR:Severity>` +
    `<GERROR:ErrorType>${t.errorType}</GERROR:ErrorType><GERROR:ErrorText>${escape(e.message)}</GERROR:ErrorText>${detail}</GERROR:Trace>` +
    `</GERROR:Error>`
  );
}
