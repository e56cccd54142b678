/**
 * The Prüfungsnachweis (fa/vsds/Pruefungsnachweis.xsd, namespace pnw/v1.0): when ReadVSD asks for
 * it, the result E of the online check with its time, the Fachdienst's error code EC where one
 * applies and the Fachdienst's Prüfziffer PZ (base64). Results (gemSpec_SST_PS_VSDM):
 * 1 update done, 2 no update needed, 3 update technically impossible, 4 eGK AUT certificate
 * invalid, 5 online check of the AUT certificate technically impossible, 6 as 3 with the maximum
 * offline period exceeded.
 */
export const PNW_NS = "http://ws.gematik.de/fa/vsdm/pnw/v1.0";
export type PruefungsErgebnis = 1 | 2 | 3 | 4 | 5 | 6;

export interface Pruefungsnachweis {
  at: Date;
  result: PruefungsErgebnis;
  errorCode?: number;
  pruefziffer?: Buffer;
}

const two = (n: number) => String(n).padStart(2, "0");

/** TS as the schema wants it: YYYYMMDDhhmmss (UTC). */
export function pnwTimestamp(d: Date): string {
  return `${d.getUTCFullYear()}${two(d.getUTCMonth() + 1)}${two(d.getUTCDate())}${two(d.getUTCHours())}${two(d.getUTCMinutes())}${two(d.getUTCSeconds())}`;
}

export function pruefungsnachweisXml(p: Pruefungsnachweis): string {
  if (![1, 2, 3, 4, 5, 6].includes(p.result)) throw new RangeError(`Prüfungsnachweis result must be 1-6, got ${p.result}`);
  if (p.errorCode !== undefined && (!Number.isInteger(p.errorCode) || p.errorCode < 0 || p.errorCode > 99999)) throw new RangeError("EC has at most 5 digits");
  if (p.pruefziffer && p.pruefziffer.length > 47) throw new RangeError("PZ is at most 65 characters of base64");
  const ec = p.errorCode !== undefined ? `<EC>${p.errorCode}</EC>` : "";
  const pz = p.pruefziffer ? `<PZ>${p.pruefziffer.toString("base64")}</PZ>` : "";
  return `<?xml version="1.0" encoding="ISO-8859-15"?><PN xmlns="${PNW_NS}" CDM_VERSION="1.0.0"><TS>${pnwTimestamp(p.at)}</TS><E>${p.result}</E>${ec}${pz}</PN>`;
}
