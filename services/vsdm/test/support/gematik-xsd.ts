import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { validateXML, type XMLFileInfo } from "xmllint-wasm";

/** The gematik WSDL/XSD as published, with every schema they import (services/contracts/gematik). */
export const GEMATIK_SCHEMAS = join(__dirname, "../../../../contracts/gematik");

let all: XMLFileInfo[] | undefined;
/** Every .xsd of the folder under its path there, so each import's schemaLocation resolves as published. */
function schemaFiles(): XMLFileInfo[] {
  if (all) return all;
  const found: XMLFileInfo[] = [];
  const walk = (dir: string) => {
    for (const f of readdirSync(dir)) {
      const p = join(dir, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (f.endsWith(".xsd")) found.push({ fileName: relative(GEMATIK_SCHEMAS, p), contents: readFileSync(p) });
    }
  };
  walk(GEMATIK_SCHEMAS);
  return (all = found);
}

/** The schema of each kind of document the tests validate (paths in the gematik folder). */
const SCHEMAS = {
  ReadVSDResponse: "conn/vsds/VSDService.xsd",
  ReadVSD: "conn/vsds/VSDService.xsd",
  Error: "tel/error/TelematikError.xsd",
  Pruefungsnachweis: "fa/vsds/Pruefungsnachweis.xsd",
  VSD: "fa/vsds/Schema_VSD.xsd",
} as const;

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

/** A document's errors against a gematik schema given by its path in the folder (e.g. "conn/EventService.xsd"); [] when valid. */
export async function gematikSchemaErrors(xsdPath: string, doc: Buffer | string): Promise<string[]> {
  const files = schemaFiles();
  const schema = files.find((f) => f.fileName === xsdPath);
  if (!schema) throw new Error(`no schema ${xsdPath} in ${GEMATIK_SCHEMAS}`);
  const r = await validateXML({
    xml: [{ fileName: "document.xml", contents: forValidator(doc) }],
    schema: [schema],
    preload: files.filter((f) => f !== schema),
  });
  return r.valid ? [] : r.errors.map((e) => e.message);
}

/** The schema's errors for a document ([] when valid). */
export function schemaErrors(schema: keyof typeof SCHEMAS, doc: Buffer | string): Promise<string[]> {
  return gematikSchemaErrors(SCHEMAS[schema], doc);
}
