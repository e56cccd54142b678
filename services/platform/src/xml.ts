import { SaxesParser } from "saxes";

/**
 * The one XML reader of ti-gateway's services, for the SOAP messages they take from outside (the
 * gateway's Konnektor interface, the VPN-ZugD simulator): namespace-aware, strict, and refusing
 * what such messages never need and attackers like (DOCTYPE and with it entities, processing
 * instructions, deep nesting). A document becomes a small tree of XmlElement.
 */

/** An element of a parsed message: namespace URI and local name, attributes by local name, children, text. */
export interface XmlElement {
  ns: string;
  local: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

/** Why a message is not well-formed XML (or carries what SOAP forbids), with the parser's reason. */
export class MalformedXml extends Error {}

/** Deeper documents are refused: no SOAP message of the gematik schemas comes near this. */
const MAX_DEPTH = 64;

/**
 * Parses one document strictly and namespace-aware (saxes); the root element is returned. A
 * DOCTYPE is refused (SOAP 1.1 forbids it, and with it go entity expansion and external
 * entities); undefined entities, unbound prefixes and every well-formedness error end in
 * MalformedXml naming the problem, and nothing else is ever thrown.
 */
export function parseXml(text: string): XmlElement {
  const parser = new SaxesParser({ xmlns: true, position: true });
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  let failure: string | undefined;
  parser.on("error", (e) => {
    failure ??= e.message;
    throw new MalformedXml(failure);
  });
  parser.on("doctype", () => {
    throw new MalformedXml("a DOCTYPE is not allowed in a SOAP message");
  });
  parser.on("processinginstruction", (pi) => {
    if (pi.target.toLowerCase() !== "xml") throw new MalformedXml(`processing instruction <?${pi.target.slice(0, 40)}?> is not allowed in a SOAP message`);
  });
  parser.on("opentag", (tag) => {
    if (stack.length >= MAX_DEPTH) throw new MalformedXml(`elements nested deeper than ${MAX_DEPTH}`);
    const attrs: Record<string, string> = {};
    for (const a of Object.values(tag.attributes)) if (a.prefix !== "xmlns" && a.name !== "xmlns") attrs[a.local] = a.value;
    const el: XmlElement = { ns: tag.uri ?? "", local: tag.local ?? tag.name, attrs, children: [], text: "" };
    if (stack.length) stack[stack.length - 1]!.children.push(el);
    else root = el;
    stack.push(el);
  });
  parser.on("text", (t) => {
    if (stack.length) stack[stack.length - 1]!.text += t;
  });
  parser.on("cdata", (t) => {
    if (stack.length) stack[stack.length - 1]!.text += t;
  });
  parser.on("closetag", () => void stack.pop());
  try {
    parser.write(text).close();
  } catch (e) {
    if (e instanceof MalformedXml) throw e;
    throw new MalformedXml(failure ?? (e as Error).message);
  }
  if (!root) throw new MalformedXml("no root element");
  return root;
}

/** The first child with that namespace and local name. */
export const child = (el: XmlElement | undefined, ns: string, local: string): XmlElement | undefined =>
  el?.children.find((c) => c.ns === ns && c.local === local);

/** Its trimmed text, or undefined when the child is absent. */
export const childText = (el: XmlElement | undefined, ns: string, local: string): string | undefined => child(el, ns, local)?.text.trim();

/** Text for element content and attribute values (the five predefined entities as character references). */
export const esc = (s: string | number | boolean): string => String(s).replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
