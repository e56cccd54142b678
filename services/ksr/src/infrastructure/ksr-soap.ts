import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { guardedListener, hardenHttpServer, HttpRefusal, readBody } from "@tigw/platform";
import { parseVersion } from "../domain/catalogue.js";
import { KSR_NS } from "../domain/package.js";
import type { Ksr } from "../application/ksr.js";

/**
 * The simulated KSR's SOAP interface (Konfigurationsdienst.wsdl, SOAP 1.1, document/literal):
 * list_Updates(ProductVendorID, ProductCode, HWVersion, FWVersion) answers every release of that
 * product and hardware newer than FWVersion as a KSR:UpdateInformation, its signature (base64,
 * with the signer's certificate) in UpdateInformationSignature. Removing that element gives back
 * the exact bytes that were signed. Plain HTTP on loopback (the TI's transport security is not
 * simulated); malformed requests are SOAP faults (soap:Client) naming the problem.
 */
export const KSR_SOAP_PATH = "/ksr/Konfigurationsdienst";
export const LIST_UPDATES_ACTION = "http://ws.gematik.de/ksr/v1.1#ListUpdates";
const SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/";
const MAX_REQUEST = 16 * 1024;

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const unesc = (s: string) => s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");

export class SoapClientFault extends Error {}

/** The four fields of a listUpdatesRequest in a SOAP envelope (any namespace prefixes). */
export function parseListUpdates(xml: string): { productVendorId: string; productCode: string; hwVersion: string; fwVersion: string } {
  if (!new RegExp(`xmlns(:\\w+)?="${SOAP_NS.replace(/\./g, "\\.")}"`).test(xml)) throw new SoapClientFault("not a SOAP 1.1 envelope");
  if (!new RegExp(`<(\\w+:)?listUpdatesRequest(\\s[^>]*)?>`).test(xml) || !xml.includes(KSR_NS))
    throw new SoapClientFault("the body is no KSR:listUpdatesRequest");
  const field = (name: string) => {
    const all = [...xml.matchAll(new RegExp(`<(\\w+:)?${name}>([^<]{0,64})</(\\w+:)?${name}>`, "g"))];
    if (all.length !== 1) throw new SoapClientFault(`listUpdatesRequest needs exactly one ${name}`);
    return unesc(all[0]![2]!.trim());
  };
  const r = { productVendorId: field("ProductVendorID"), productCode: field("ProductCode"), hwVersion: field("HWVersion"), fwVersion: field("FWVersion") };
  try {
    parseVersion(r.fwVersion);
  } catch {
    throw new SoapClientFault(`FWVersion "${r.fwVersion}" is no firmware version`);
  }
  return r;
}

export const envelope = (body: string) =>
  `<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="${SOAP_NS}"><soap:Body>${body}</soap:Body></soap:Envelope>`;

export const listUpdatesRequestXml = (r: { productVendorId: string; productCode: string; hwVersion: string; fwVersion: string }) =>
  envelope(
    `<KSR:listUpdatesRequest xmlns:KSR="${KSR_NS}"><KSR:ProductVendorID>${esc(r.productVendorId)}</KSR:ProductVendorID><KSR:ProductCode>${esc(r.productCode)}</KSR:ProductCode>` +
      `<KSR:HWVersion>${esc(r.hwVersion)}</KSR:HWVersion><KSR:FWVersion>${esc(r.fwVersion)}</KSR:FWVersion></KSR:listUpdatesRequest>`,
  );

/** The UpdateInformation with its signature element, and back (the bytes that were signed). */
export function withSignature(updateInformation: string, signature: string, signerPem: string): string {
  const end = "</KSR:UpdateInformation>";
  const cert = signerPem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, "");
  return `${updateInformation.slice(0, -end.length)}<KSR:UpdateInformationSignature><KSR:SignatureValue>${signature}</KSR:SignatureValue><KSR:SignerCertificate>${cert}</KSR:SignerCertificate></KSR:UpdateInformationSignature>${end}`;
}

export function withoutSignature(xml: string): { updateInformation: string; signature: string; signerCertificate: string } | undefined {
  const m =
    /<KSR:UpdateInformationSignature><KSR:SignatureValue>([A-Za-z0-9+/=]*)<\/KSR:SignatureValue><KSR:SignerCertificate>([A-Za-z0-9+/=]*)<\/KSR:SignerCertificate><\/KSR:UpdateInformationSignature>/.exec(
      xml,
    );
  if (!m) return undefined;
  const pem = `-----BEGIN CERTIFICATE-----\n${m[2]!.match(/.{1,64}/g)!.join("\n")}\n-----END CERTIFICATE-----\n`;
  return { updateInformation: xml.replace(m[0], ""), signature: m[1]!, signerCertificate: pem };
}

export interface RunningKsrSoap {
  url: string;
  close(): Promise<void>;
}

export async function startKsrSoap(ksr: Ksr, o: { host?: string; port?: number } = {}): Promise<RunningKsrSoap> {
  const fault = (why: string) => envelope(`<soap:Fault><faultcode>soap:Client</faultcode><faultstring>${esc(why)}</faultstring></soap:Fault>`);
  const server: Server = createServer(
    guardedListener("KSR simulator (ksr)", async (req, res) => {
      if (req.url !== KSR_SOAP_PATH) throw new HttpRefusal(404, `the KSR listens on ${KSR_SOAP_PATH}`);
      if (req.method !== "POST") throw new HttpRefusal(405, "list_Updates is a SOAP POST");
      const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
      if (type !== "text/xml") throw new HttpRefusal(415, `SOAP 1.1 is text/xml, not ${type.slice(0, 60) || "untyped"}`);
      const body = (await readBody(req, MAX_REQUEST)).toString("utf8");
      const answer = (status: number, xml: string): void => {
        res.writeHead(status, { "content-type": "text/xml; charset=utf-8", "cache-control": "no-store" }).end(xml);
      };
      let q: ReturnType<typeof parseListUpdates>;
      try {
        q = parseListUpdates(body);
      } catch (e) {
        if (!(e instanceof SoapClientFault)) throw e;
        answer(500, fault(e.message));
        return;
      }
      const infos = await ksr.listUpdates(q.productCode, q.hwVersion, q.fwVersion);
      answer(200, envelope(`<KSR:listUpdatesResponse xmlns:KSR="${KSR_NS}">${infos.join("")}</KSR:listUpdatesResponse>`));
    }),
  );
  hardenHttpServer(server);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port ?? 0, o.host ?? "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${o.host && o.host !== "0.0.0.0" ? o.host : "127.0.0.1"}:${port}${KSR_SOAP_PATH}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
