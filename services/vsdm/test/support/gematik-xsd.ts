import { readFileSync } from "node:fs";
import { join } from "node:path";
import { validateXML } from "xmllint-wasm";

const xsd = (name: string) => readFileSync(join(__dirname, "../../../xsd", name), "utf8");

/**
 * VSDService.xsd as published, minus its import of ConnectorContext.xsd (whose chain needs the
 * OASIS DSS schema, not in the gematik copy here) and the request element ReadVSD, the only part
 * that uses it. ReadVSDResponse and VSD_StatusType stay exactly as published.
 */
function vsdServiceResponseSchema(): string {
  const s = xsd("VSDService.xsd");
  const cut = s
    .replace(/<import [^>]*ConnectorContext[^>]*\/>/, "")
    .replace(/<element name="ReadVSD">[\s\S]*?<\/element>\s*<element name="ReadVSDResponse">/, '<element name="ReadVSDResponse">');
  if (cut.includes("ConnectorContext.xsd") || cut.includes('name="ReadVSD"')) throw new Error("VSDService.xsd changed shape; revisit gematik-xsd.ts");
  return cut;
}

const SCHEMAS = {
  ReadVSDResponse: { fileName: "VSDService.xsd", contents: vsdServiceResponseSchema() },
  Error: { fileName: "TelematikError.xsd", contents: xsd("TelematikError.xsd") },
  Pruefungsnachweis: { fileName: "Pruefungsnachweis.xsd", contents: xsd("Pruefungsnachweis.xsd") },
  VSD: { fileName: "Schema_VSD.xsd", contents: xsd("Schema_VSD.xsd") },
};

/**
 * libxml2 in WebAssembly has no iconv, so it cannot decode ISO-8859-15 by name. toIso885915 refuses
 * every character whose byte differs between ISO-8859-15 and ISO-8859-1, so the very same bytes
 * are validated under an ISO-8859-1 declaration, which libxml2 decodes natively.
 */
export function forValidator(doc: Buffer | string): Buffer {
  const b = Buffer.isBuffer(doc) ? doc : Buffer.from(doc, "utf8");
  const head = b.subarray(0, 100).toString("latin1");
  return head.includes('encoding="ISO-8859-15"')
    ? Buffer.concat([Buffer.from(head.replace('encoding="ISO-8859-15"', 'encoding="ISO-8859-1"'), "latin1"), b.subarray(100)])
    : b;
}

/** The schema's errors for a document ([] when valid). */
export async function schemaErrors(schema: keyof typeof SCHEMAS, doc: Buffer | string): Promise<string[]> {
  const r = await validateXML({ xml: [{ fileName: `${schema}.xml`, contents: forValidator(doc) }], schema: [SCHEMAS[schema]] });
  return r.valid ? [] : r.errors.map((e) => e.message);
}
