import { randomUUID } from "node:crypto";
import { child, DomainError, esc, MalformedXml, parseXml, type XmlElement } from "@tigw/platform";
import { isGematikCode, traitsOf } from "@tigw/vsdm";
import { NS } from "./services.js";

/**
 * A refusal as the Konnektor reports it: a gematik code (the access check's 4004-4021 and 4204,
 * the Fachmodul's 101-3042, ...) and a text naming the problem. `client` says whose fault it is
 * (soap:Client: the request; soap:Server: the Konnektor or a card). `cardHandle` goes into the
 * GERROR Detail where the specification asks for it (3041/3042).
 */
export class SoapFault extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly client: boolean,
    readonly cardHandle?: string,
  ) {
    super(message);
  }
}

/**
 * Codes of ti-gateway's choosing where the services answer with a name instead of a gematik
 * code: 4000 for a request that is not what the schema allows (syntax), 4001 for an internal
 * error of the Konnektor (a service not answering, an unexpected refusal).
 */
export const SYNTAX_ERROR = 4000;
export const INTERNAL_ERROR = 4001;

/** Codes that describe a wrong request rather than a state of the Konnektor or its cards. */
const CLIENT_CODES = new Set([4000, 4004, 4005, 4006, 4007, 4021]);

/** Any error of an operation as a SoapFault: gematik codes pass through, other refusals become 4000 or 4001. */
export function toSoapFault(e: unknown): SoapFault {
  if (e instanceof SoapFault) return e;
  if (e instanceof MalformedXml) return new SoapFault(SYNTAX_ERROR, `malformed XML: ${e.message}`, true);
  if (e instanceof DomainError) {
    if (isGematikCode(e.code)) {
      const code = Number(e.code);
      return new SoapFault(
        code,
        e.message,
        CLIENT_CODES.has(code),
        e.details["cardHandle"] ?? (code === 3041 || code === 3042 ? e.details["value"] : undefined),
      );
    }
    // Validation of an id or handle the request carried: the request's fault.
    if (e.name === "DomainError" && e.details["field"] && /^INVALID_/.test(e.code)) return new SoapFault(SYNTAX_ERROR, e.message, true);
    return new SoapFault(INTERNAL_ERROR, `${e.code}: ${e.message}`, false);
  }
  return new SoapFault(INTERNAL_ERROR, "internal error of the Konnektor", false);
}

/** The GERROR Error (tel/error/TelematikError.xsd v2.0) of a fault. */
export function gerrorXml(f: SoapFault, at: Date, messageId = randomUUID()): string {
  const t = traitsOf(f.code);
  const detail = f.cardHandle ? `<GERROR:Detail>${esc(f.cardHandle)}</GERROR:Detail>` : "";
  return (
    `<GERROR:Error xmlns:GERROR="${NS.gerror}"><GERROR:MessageID>${messageId}</GERROR:MessageID><GERROR:Timestamp>${at.toISOString()}</GERROR:Timestamp>` +
    `<GERROR:Trace><GERROR:EventID>${messageId}</GERROR:EventID><GERROR:Instance>ti-gateway</GERROR:Instance><GERROR:LogReference>${messageId}</GERROR:LogReference>` +
    `<GERROR:CompType>${t.compType}</GERROR:CompType><GERROR:Code>${f.code}</GERROR:Code><GERROR:Severity>${t.severity}</GERROR:Severity>` +
    `<GERROR:ErrorType>${t.errorType}</GERROR:ErrorType><GERROR:ErrorText>${esc(f.message.slice(0, 1000))}</GERROR:ErrorText>${detail}</GERROR:Trace></GERROR:Error>`
  );
}

/** A SOAP 1.1 envelope around a body element. */
export const envelope = (body: string): string =>
  `<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="${NS.soapEnv}"><soap:Body>${body}</soap:Body></soap:Envelope>`;

/** A SOAP 1.1 Fault with the GERROR Error in its detail. */
export const faultEnvelope = (f: SoapFault, at: Date): string =>
  envelope(
    `<soap:Fault><faultcode>soap:${f.client ? "Client" : "Server"}</faultcode><faultstring>${esc(f.message.slice(0, 1000))}</faultstring>` +
      `<detail>${gerrorXml(f, at)}</detail></soap:Fault>`,
  );

/** The one element of a SOAP 1.1 request body; a SOAP 1.2 envelope or anything else is refused naming it. */
export function requestElement(text: string): XmlElement {
  const root = parseXml(text);
  if (root.local !== "Envelope") throw new SoapFault(SYNTAX_ERROR, `the root element is ${root.local}, not a SOAP Envelope`, true);
  if (root.ns !== NS.soapEnv)
    throw new SoapFault(SYNTAX_ERROR, `the envelope's namespace is ${root.ns || "(none)"}; this Konnektor speaks SOAP 1.1 (${NS.soapEnv})`, true);
  const body = child(root, NS.soapEnv, "Body");
  if (!body) throw new SoapFault(SYNTAX_ERROR, "the envelope has no soap:Body", true);
  if (body.children.length !== 1) throw new SoapFault(SYNTAX_ERROR, `the soap:Body holds ${body.children.length} elements, not exactly one request`, true);
  return body.children[0]!;
}
