/**
 * A small, strict XML reader for the VPN-ZugD's SOAP messages: elements with namespaces,
 * attributes and text. It refuses what such messages never need and attackers like (DOCTYPE,
 * entity declarations, processing instructions other than the XML declaration, deep nesting)
 * with an XmlError naming the problem; it never throws anything else.
 */
export interface XmlElement {
  ns: string;
  local: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

export class XmlError extends Error {}

const MAX_DEPTH = 32;
const NAME = /^[A-Za-z_][\w.-]*(:[A-Za-z_][\w.-]*)?$/;
const ENTITIES: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

function decode(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|\w+);|&/g, (m, ref: string | undefined) => {
    if (!ref) throw new XmlError("a bare '&' in text (escape it as &amp;)");
    if (ref[0] === "#") {
      const cp = ref[1] === "x" ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      if (!(cp > 0 && cp <= 0x10ffff)) throw new XmlError(`invalid character reference ${m}`);
      return String.fromCodePoint(cp);
    }
    const v = ENTITIES[ref];
    if (v === undefined) throw new XmlError(`unknown entity ${m}`);
    return v;
  });
}

interface Open {
  qname: string;
  el: XmlElement;
  scope: Record<string, string>;
  rawAttrs: [string, string][];
}

/** Parses one document; the root element is returned. */
export function parseXml(xml: string): XmlElement {
  let i = 0;
  const stack: Open[] = [];
  let root: XmlElement | undefined;
  const resolve = (qname: string, scope: Record<string, string>, isAttr: boolean): { ns: string; local: string } => {
    const at = qname.indexOf(":");
    if (at < 0) return { ns: isAttr ? "" : (scope[""] ?? ""), local: qname };
    const prefix = qname.slice(0, at);
    const ns = scope[prefix];
    if (ns === undefined) throw new XmlError(`undeclared namespace prefix "${prefix}"`);
    return { ns, local: qname.slice(at + 1) };
  };
  const textAt = (s: string) => {
    const top = stack[stack.length - 1];
    if (!top) {
      if (s.trim()) throw new XmlError("text outside the root element");
      return;
    }
    top.el.text += decode(s);
  };
  if (xml.charCodeAt(0) === 0xfeff) i = 1;
  while (i < xml.length) {
    const lt = xml.indexOf("<", i);
    if (lt < 0) {
      textAt(xml.slice(i));
      break;
    }
    if (lt > i) textAt(xml.slice(i, lt));
    if (xml.startsWith("<?", lt)) {
      const end = xml.indexOf("?>", lt);
      if (end < 0) throw new XmlError("unterminated processing instruction");
      if (!/^<\?xml\s/.test(xml.slice(lt, lt + 6)) || root || stack.length) throw new XmlError("processing instructions are not accepted");
      i = end + 2;
    } else if (xml.startsWith("<!--", lt)) {
      const end = xml.indexOf("-->", lt + 4);
      if (end < 0) throw new XmlError("unterminated comment");
      i = end + 3;
    } else if (xml.startsWith("<![CDATA[", lt)) {
      const end = xml.indexOf("]]>", lt);
      if (end < 0 || !stack.length) throw new XmlError("CDATA outside an element or unterminated");
      stack[stack.length - 1]!.el.text += xml.slice(lt + 9, end);
      i = end + 3;
    } else if (xml.startsWith("<!", lt)) {
      throw new XmlError("DOCTYPE and entity declarations are not accepted");
    } else if (xml.startsWith("</", lt)) {
      const end = xml.indexOf(">", lt);
      if (end < 0) throw new XmlError("unterminated end tag");
      const qname = xml.slice(lt + 2, end).trim();
      const top = stack.pop();
      if (!top || top.qname !== qname) throw new XmlError(`end tag </${qname}> does not match ${top ? `<${top.qname}>` : "any open element"}`);
      i = end + 1;
    } else {
      const m = /^<([^\s/>]+)((?:\s+[^\s=/>]+\s*=\s*(?:"[^"<]*"|'[^'<]*'))*)\s*(\/?)>/.exec(xml.slice(lt, lt + 65_536));
      if (!m) throw new XmlError(`malformed tag at offset ${lt}`);
      const qname = m[1]!;
      if (!NAME.test(qname)) throw new XmlError(`invalid element name "${qname.slice(0, 40)}"`);
      if (root && !stack.length) throw new XmlError("more than one root element");
      if (stack.length >= MAX_DEPTH) throw new XmlError(`elements nested deeper than ${MAX_DEPTH}`);
      const parentScope = stack[stack.length - 1]?.scope ?? { xml: "http://www.w3.org/XML/1998/namespace" };
      const scope = { ...parentScope };
      const rawAttrs: [string, string][] = [];
      for (const a of m[2]!.matchAll(/([^\s=/>]+)\s*=\s*(?:"([^"<]*)"|'([^'<]*)')/g)) {
        const [name, value] = [a[1]!, decode(a[2] ?? a[3] ?? "")];
        if (!NAME.test(name)) throw new XmlError(`invalid attribute name "${name.slice(0, 40)}"`);
        if (rawAttrs.some(([n]) => n === name)) throw new XmlError(`attribute ${name} given twice`);
        if (name === "xmlns") scope[""] = value;
        else if (name.startsWith("xmlns:")) scope[name.slice(6)] = value;
        else rawAttrs.push([name, value]);
      }
      const { ns, local } = resolve(qname, scope, false);
      const attrs: Record<string, string> = {};
      for (const [n, v] of rawAttrs) attrs[resolve(n, scope, true).local] = v;
      const el: XmlElement = { ns, local, attrs, children: [], text: "" };
      const parent = stack[stack.length - 1];
      if (parent) parent.el.children.push(el);
      else root = el;
      if (!m[3]) stack.push({ qname, el, scope, rawAttrs });
      i = lt + m[0].length;
    }
  }
  if (stack.length) throw new XmlError(`element <${stack[stack.length - 1]!.qname}> is not closed`);
  if (!root) throw new XmlError("no root element");
  return root;
}

export const child = (el: XmlElement, ns: string, local: string): XmlElement | undefined => el.children.find((c) => c.ns === ns && c.local === local);

export const escapeXml = (s: string): string => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
