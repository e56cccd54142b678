import { SaxesParser, type SaxesTagNS } from "saxes";
import { MalformedXml } from "./xml.js";

/**
 * Exclusive XML Canonicalization 1.0 without comments (http://www.w3.org/2001/10/xml-exc-c14n#),
 * as XMLDSig needs it for a signature's Reference and its SignedInfo: the same document always
 * gives the same bytes, whatever namespace declarations, prefix-declaring ancestors, quoting,
 * attribute order, empty-element shorthand or line endings it was written with.
 *
 * It works on the document's text with saxes (namespace-aware, as parseXml), writing the
 * canonical form as the parser goes, so nothing is re-serialised from a tree that might have lost
 * a detail. Of the spec's node-sets only the two XMLDSig uses here are supported: one element's
 * subtree (`subtree`; the root by default, i.e. the whole document, as for Reference URI="") and
 * leaving one element's subtree out (`exclude`; the enveloped-signature transform removes the
 * ds:Signature). No InclusiveNamespaces PrefixList. As in parseXml, a DOCTYPE and processing
 * instructions are refused (MalformedXml): without a DTD there are no default attributes or
 * entities to expand, which C14N would otherwise have to honour.
 */

/** An element by namespace URI ("" for none) and local name; the first such element in document order counts. */
export interface XmlName {
  ns: string;
  local: string;
}

export interface C14nOptions {
  /** Canonicalise only the first element with this name, with its subtree. Default: the document element. */
  subtree?: XmlName;
  /** Leave out the first element with this name (inside the output), with its subtree. */
  exclude?: XmlName;
}

/** The xml prefix is bound by definition; C14N never renders a declaration for it. */
const XML_PREFIX = "xml";

/**
 * Text nodes: & < > and CR as references (C14N 1.0 § 2.3). CR can only be there as &#xD; in the
 * input, since the parser has normalised line ends to LF; keeping it escaped keeps it.
 */
const escText = (s: string): string => s.replace(/[&<>\r]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#xD;" })[c]!);

/**
 * Attribute values: & < " and the whitespace characters that attribute-value normalisation would
 * otherwise turn into spaces when the canonical form is read again (tab, LF, CR).
 */
const escAttr = (s: string): string =>
  s.replace(/[&<"\t\n\r]/g, (c) => ({ "&": "&amp;", "<": "&lt;", '"': "&quot;", "\t": "&#x9;", "\n": "&#xA;", "\r": "&#xD;" })[c]!);

/**
 * C14N sorts by Unicode code point; JavaScript's < compares UTF-16 code units, which differ for
 * characters above U+FFFF against U+E000..U+FFFF. Compared code point by code point to be exact.
 */
function byCodePoint(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

const isXmlnsAttr = (a: { name: string; prefix: string }) => a.name === "xmlns" || a.prefix === "xmlns";
const matches = (tag: SaxesTagNS, n: XmlName | undefined) => !!n && (tag.uri ?? "") === n.ns && tag.local === n.local;

/**
 * The canonical form (UTF-8 text) of the document or of the chosen subtree. Throws MalformedXml
 * when the text is not well-formed, has a DOCTYPE or a processing instruction, or the chosen
 * subtree is not there.
 */
export function excC14n(text: string, o: C14nOptions = {}): string {
  const parser = new SaxesParser({ xmlns: true });
  const out: string[] = [];
  // Depth of open elements inside the output (0: not in it yet or past it), and of the excluded subtree.
  let outDepth = 0;
  let skipDepth = 0;
  let done = false;
  let excluded = false;
  /**
   * What the output ancestors have rendered: one map per open output element, prefix -> URI as
   * in force for its children. The default namespace starts as "" (no namespace): an unprefixed
   * element in no namespace needs xmlns="" only below an output ancestor that rendered a
   * non-empty default (exc-c14n § 3, C14N 1.0 § 2.3).
   */
  const rendered: Map<string, string>[] = [];
  let failure: string | undefined;

  parser.on("error", (e) => {
    failure ??= e.message;
    throw new MalformedXml(failure);
  });
  parser.on("doctype", () => {
    throw new MalformedXml("a DOCTYPE is not allowed");
  });
  parser.on("processinginstruction", (pi) => {
    // The XML declaration is not a PI to C14N: it is simply dropped.
    if (pi.target.toLowerCase() !== "xml") throw new MalformedXml(`processing instruction <?${pi.target.slice(0, 40)}?> is not allowed`);
  });
  // Comments are dropped (the "without comments" variant): no handler.

  parser.on("opentag", (tag) => {
    if (skipDepth > 0) {
      skipDepth++;
      return;
    }
    if (outDepth === 0) {
      // The apex: the first element that fits `subtree` (or the document element).
      if (done || (o.subtree && !matches(tag, o.subtree))) return;
    } else if (!excluded && matches(tag, o.exclude)) {
      excluded = true;
      skipDepth = 1;
      return;
    }
    outDepth++;
    const parentScope = rendered.at(-1) ?? new Map([["", ""]]);
    // Copied only when this element renders a declaration: thousands of siblings under a root
    // with many prefixes would otherwise copy the whole map each (CPU per request).
    let inScope = parentScope;
    const prefix = tag.prefix ?? "";
    const attrs = Object.values(tag.attributes).filter((a) => !isXmlnsAttr(a));
    /**
     * The namespaces this element visibly utilises: its own prefix (the default namespace when it
     * has none) and the prefixes of its attributes (an unprefixed attribute is in no namespace
     * and uses no declaration). Only those are rendered, and only when the nearest output
     * ancestor did not render the same prefix with the same URI: that is what makes the form
     * exclusive, independent of where the ancestors declared what.
     */
    const used = new Map<string, string>([[prefix, tag.uri ?? ""]]);
    for (const a of attrs) if (a.prefix) used.set(a.prefix, a.uri);
    const decls: [string, string][] = [];
    for (const [p, uri] of used) {
      if (p === XML_PREFIX || inScope.get(p) === uri) continue;
      // An unprefixed element in no namespace with no default rendered above: nothing to undeclare.
      if (p === "" && uri === "" && !inScope.get("")) continue;
      decls.push([p, uri]);
      if (inScope === parentScope) inScope = new Map(parentScope);
      inScope.set(p, uri);
    }
    rendered.push(inScope);
    // Declarations by prefix (the default, with no prefix, first); attributes by (namespace URI, local name).
    decls.sort(([a], [b]) => byCodePoint(a, b));
    attrs.sort((a, b) => byCodePoint(a.uri, b.uri) || byCodePoint(a.local, b.local));
    let s = `<${tag.name}`;
    for (const [p, uri] of decls) s += ` ${p ? `xmlns:${p}` : "xmlns"}="${escAttr(uri)}"`;
    for (const a of attrs) s += ` ${a.name}="${escAttr(a.value)}"`;
    out.push(`${s}>`);
  });

  parser.on("closetag", (tag) => {
    if (skipDepth > 0) {
      skipDepth--;
      return;
    }
    if (outDepth === 0) return;
    // Empty elements too get an end tag: <a/> and <a></a> are the same element.
    out.push(`</${tag.name}>`);
    rendered.pop();
    if (--outDepth === 0) done = true;
  });

  // Text and CDATA alike are character data (a CDATA section's content is escaped as text);
  // outside the output, e.g. whitespace around the document element, nothing is rendered.
  const onText = (t: string) => {
    if (outDepth > 0 && skipDepth === 0) out.push(escText(t));
  };
  parser.on("text", onText);
  parser.on("cdata", onText);

  try {
    parser.write(text).close();
  } catch (e) {
    if (e instanceof MalformedXml) throw e;
    throw new MalformedXml(failure ?? (e as Error).message);
  }
  if (!done) throw new MalformedXml(o.subtree ? `no element {${o.subtree.ns}}${o.subtree.local} to canonicalise` : "no root element");
  return out.join("");
}
