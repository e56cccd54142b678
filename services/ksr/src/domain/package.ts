import { createHash, verify, X509Certificate } from "node:crypto";
import { policiesOf, PROFILES } from "@tigw/hsm";
import { findEntry, groupOf, parseVersion, type CatalogueState } from "./catalogue.js";
import type { FileFacts, Priority, ReleaseFacts } from "./release.js";

/**
 * A signed update package as a unit receives it: the UpdateInformation (Konfigurationsdienst.xsd,
 * the exact bytes that were signed), its signature, the signer's certificate, and the firmware
 * files, each signed as well. The KSR signs with its C.FD.SIG from the test TI PKI (the key stays
 * in hsm). A unit installs nothing before verifyPackage() says yes; each refusal carries the
 * HSK's code.
 */
export interface SignedPackage {
  /** UTF-8 XML of KSR:UpdateInformation without its signature element (which travels beside it). */
  updateInformation: string;
  /** base64: SHA-256 with the signer's key (ECDSA or RSA) over the UTF-8 bytes above. */
  signature: string;
  signerCertificate: string;
  files: { filename: string; content: string; signature: string }[];
}

export const KSR_NS = "http://ws.gematik.de/ksr/v1.1";
/** ProductVendorID in our UpdateInformation (PI:ProductVendorID): this simulated fleet's vendor. */
export const VENDOR_ID = "TIGW";

export const CODES = {
  updateInformation: "4181",
  download: "4182",
  file: "4183",
  apply: "4184",
  group: "4185",
} as const;

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const unesc = (s: string) => s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");

export const sha256Hex = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** The UpdateInformation of a release as XML (element order of UpdateInformationType). */
export function updateInformationXml(r: ReleaseFacts): string {
  const { hardware } = parseVersion(r.fwVersion);
  const el = (name: string, value: string) => `<KSR:${name}>${esc(value)}</KSR:${name}>`;
  const files = r.files.map(
    (f) => `<KSR:Firmwarefiles>${el("Filename", f.filename)}${el("FileSize", String(f.size))}${el("Notes", `sha256:${f.sha256}`)}</KSR:Firmwarefiles>`,
  );
  return [
    `<KSR:UpdateInformation xmlns:KSR="${KSR_NS}">`,
    el("UpdateID", r.updateId),
    el("ProductVendorID", VENDOR_ID),
    el("ProductCode", r.product),
    el("HWVersion", hardware),
    el("ProductName", r.product),
    el("CreationDate", r.creationDate),
    `<KSR:DeploymentInformation>${el("StartDate", r.startDate)}${el("Deadline", r.deadline)}</KSR:DeploymentInformation>`,
    `<KSR:Firmware>${el("FWVersion", r.fwVersion)}${el("FWPriority", r.fwPriority)}${files.join("")}${el("FirmwareReleaseNotes", r.releaseNotes)}</KSR:Firmware>`,
    "</KSR:UpdateInformation>",
  ].join("");
}

/** Reads back what updateInformationXml wrote; undefined when it is not that shape. */
export function parseUpdateInformation(xml: string): Omit<ReleaseFacts, "signerCertSerial"> | undefined {
  const one = (name: string, within = xml) => {
    const m = new RegExp(`<KSR:${name}>([^<]*)</KSR:${name}>`).exec(within);
    return m ? unesc(m[1]!) : undefined;
  };
  if (!xml.startsWith(`<KSR:UpdateInformation xmlns:KSR="${KSR_NS}">`) || !xml.endsWith("</KSR:UpdateInformation>")) return undefined;
  const files: FileFacts[] = [];
  for (const m of xml.matchAll(/<KSR:Firmwarefiles>(.*?)<\/KSR:Firmwarefiles>/g)) {
    const sha = /^sha256:([0-9a-f]{64})$/.exec(one("Notes", m[1]) ?? "")?.[1];
    const size = Number(one("FileSize", m[1]));
    const filename = one("Filename", m[1]);
    if (!sha || !filename || !Number.isInteger(size)) return undefined;
    files.push({ filename, size, sha256: sha });
  }
  const fields = ["UpdateID", "ProductCode", "CreationDate", "StartDate", "Deadline", "FWVersion", "FWPriority", "FirmwareReleaseNotes"].map((n) => one(n));
  if (fields.some((f) => f === undefined)) return undefined;
  const [updateId, product, creationDate, startDate, deadline, fwVersion, fwPriority, releaseNotes] = fields as string[];
  return {
    updateId: updateId!,
    product: product!,
    creationDate: creationDate!,
    startDate: startDate!,
    deadline: deadline!,
    fwVersion: fwVersion!,
    fwPriority: fwPriority as Priority,
    releaseNotes: releaseNotes!,
    files,
  };
}

export type Verdict =
  | { ok: true; info: Omit<ReleaseFacts, "signerCertSerial">; signerCertSerial: string }
  | { ok: false; code: (typeof CODES)[keyof typeof CODES]; reason: string };

export interface VerifyContext {
  /** The sub-CAs of the TI PKI (hsm's trust anchors): the signer must be issued by one. */
  subCas: X509Certificate[];
  now: Date;
  /** The unit: its product and installed version decide its firmware group. */
  unit: { product: string; firmware: string };
  catalogue: CatalogueState;
}

const refuse = (code: (typeof CODES)[keyof typeof CODES], reason: string): Verdict => ({ ok: false, code, reason });

/**
 * Verifies a package for a unit, in the order a Konnektor checks: the UpdateInformation's
 * signature and its signer (4181: not a C.FD.SIG of the TI PKI, not valid now, or the signature
 * does not verify), then whether the version belongs to the unit's firmware group (4185), then
 * each firmware file against its hash and signature (4183). Pure: no I/O, time comes in.
 */
export function verifyPackage(p: SignedPackage, ctx: VerifyContext): Verdict {
  let signer: X509Certificate;
  try {
    signer = new X509Certificate(p.signerCertificate);
  } catch {
    return refuse(CODES.updateInformation, "the signer certificate cannot be read");
  }
  const issuer = ctx.subCas.find((ca) => signer.checkIssued(ca) && signer.verify(ca.publicKey));
  if (!issuer) return refuse(CODES.updateInformation, `the signer (${signer.subject.replace(/\n/g, ", ")}) is not issued by the TI PKI: foreign signer`);
  if (ctx.now < new Date(signer.validFrom) || ctx.now > new Date(signer.validTo))
    return refuse(CODES.updateInformation, `the signer certificate is not valid at ${ctx.now.toISOString()} (valid ${signer.validFrom} to ${signer.validTo})`);
  if (!policiesOf(signer.raw).includes(PROFILES["C.FD.SIG"].oid))
    return refuse(CODES.updateInformation, "the signer certificate is no C.FD.SIG: it may not sign updates");
  const xml = Buffer.from(p.updateInformation, "utf8");
  if (!verifies(xml, signer, p.signature)) return refuse(CODES.updateInformation, "the UpdateInformation signature does not verify");
  const info = parseUpdateInformation(p.updateInformation);
  if (!info) return refuse(CODES.updateInformation, "the UpdateInformation does not follow Konfigurationsdienst.xsd");

  const unitEntry = findEntry(ctx.catalogue, ctx.unit.product, ctx.unit.firmware);
  const group = unitEntry?.group ?? groupOf(ctx.unit.product, ctx.unit.firmware);
  const target = info.product === ctx.unit.product ? findEntry(ctx.catalogue, info.product, info.fwVersion) : undefined;
  if (!target || target.group !== group)
    return refuse(
      CODES.group,
      `${info.product} ${info.fwVersion} is outside the firmware group ${group} of this ${ctx.unit.product} unit on ${ctx.unit.firmware}`,
    );

  for (const f of info.files) {
    const file = p.files.find((x) => x.filename === f.filename);
    if (!file) return refuse(CODES.file, `firmware file ${f.filename} is missing from the package`);
    const content = Buffer.from(file.content, "base64");
    if (content.length !== f.size || sha256Hex(content) !== f.sha256) return refuse(CODES.file, `firmware file ${f.filename} does not match its hash`);
    if (!verifies(content, signer, file.signature)) return refuse(CODES.file, `the signature of firmware file ${f.filename} does not verify`);
  }
  if (p.files.length !== info.files.length) return refuse(CODES.file, "the package carries files its UpdateInformation does not name");
  return { ok: true, info, signerCertSerial: signer.serialNumber };
}

function verifies(data: Buffer, signer: X509Certificate, signatureB64: string): boolean {
  try {
    return verify("sha256", data, signer.publicKey, Buffer.from(signatureB64, "base64"));
  } catch {
    return false;
  }
}

/**
 * The firmware image the simulated KSR ships for a version: deterministic bytes (a header naming
 * product and version, then a SHA-256 stream), so a package can be rebuilt and compared.
 */
export function firmwareImage(product: string, version: string, size = 32 * 1024): Buffer {
  const out = Buffer.alloc(size);
  const header = Buffer.from(`TIGW-FIRMWARE\n${product}\n${version}\n`);
  header.copy(out);
  let block = createHash("sha256").update(header).digest();
  for (let at = header.length; at < size; at += block.length) {
    block.copy(out, at);
    block = createHash("sha256").update(block).digest();
  }
  return out;
}
