import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { MalformedXml } from "../src/xml.js";
import { excC14n } from "../src/xml-c14n.js";

/**
 * Exclusive XML Canonicalization 1.0 (without comments) against known answers: the examples of
 * the C14N 1.0 spec (§ 3) that do not need a DTD, rendered with exc-c14n's namespace rule, and
 * the examples of the exc-c14n spec (§ 2.2). The expected strings were derived by hand from the
 * specs' rules (and compared once with libxml2's exc-c14n, which CI does not need).
 */
describe("excC14n, exclusive XML canonicalisation", () => {
  it("C14N 1.0 § 3.2: whitespace in document content is kept as it is", () => {
    const doc =
      "<doc>\n   <clean>   </clean>\n   <dirty>   A   B   </dirty>\n   <mixed>\n      A\n      <clean>   </clean>\n      B\n" +
      "      <dirty>   A   B   </dirty>\n      C\n   </mixed>\n</doc>";
    assert.equal(excC14n(doc), doc);
  });

  it("C14N 1.0 § 3.3 (without its DTD): start and end tags, attribute and namespace order, superfluous declarations dropped", () => {
    const doc = [
      "<doc>",
      "   <e1   />",
      "   <e2   ></e2>",
      '   <e3   name = "elem3"   id="elem3"   />',
      '   <e4   name="elem4"   id="elem4"   ></e4>',
      '   <e5 a:attr="out" b:attr="sorted" attr2="all" attr="I\'m"',
      '      xmlns:b="http://www.ietf.org"',
      '      xmlns:a="http://www.w3.org"',
      '      xmlns="http://example.org"/>',
      '   <e6 xmlns="" xmlns:a="http://www.w3.org">',
      '      <e7 xmlns="http://www.ietf.org">',
      '         <e8 xmlns="" xmlns:a="http://www.w3.org">',
      '            <e9 xmlns="" xmlns:a="http://www.ietf.org"/>',
      "         </e8>",
      "      </e7>",
      "   </e6>",
      "</doc>",
    ].join("\n");
    // Unlike inclusive C14N, e6 renders no xmlns:a (not visibly utilised) and e9 nothing at all:
    // xmlns="" is already what its output parent e8 rendered.
    const expected = [
      "<doc>",
      "   <e1></e1>",
      "   <e2></e2>",
      '   <e3 id="elem3" name="elem3"></e3>',
      '   <e4 id="elem4" name="elem4"></e4>',
      '   <e5 xmlns="http://example.org" xmlns:a="http://www.w3.org" xmlns:b="http://www.ietf.org" attr="I\'m" attr2="all" b:attr="sorted" a:attr="out"></e5>',
      "   <e6>",
      '      <e7 xmlns="http://www.ietf.org">',
      '         <e8 xmlns="">',
      "            <e9></e9>",
      "         </e8>",
      "      </e7>",
      "   </e6>",
      "</doc>",
    ].join("\n");
    assert.equal(excC14n(doc), expected);
  });

  it("C14N 1.0 § 3.4 (without its DTD): character references, CDATA, attribute value normalisation and escaping", () => {
    const doc = [
      "<doc>",
      "   <text>First line&#x0d;&#10;Second line</text>",
      "   <value>&#x32;</value>",
      '   <compute><![CDATA[value>"0" && value<"10" ?"valid":"error"]]></compute>',
      '   <compute expr=\'value>"0" &amp;&amp; value&lt;"10" ?"valid":"error"\'>valid</compute>',
      "   <norm attr=' &apos;   &#x20;&#13;&#xa;&#9;   &apos; '/>",
      "   <normNames attr='   A   &#x20;&#13;&#xa;&#9;   B   '/>",
      "</doc>",
    ].join("\n");
    // Without the DTD normNames' attribute is CDATA: its spaces stay (the spec's NMTOKENS would collapse them).
    const expected = [
      "<doc>",
      "   <text>First line&#xD;\nSecond line</text>",
      "   <value>2</value>",
      '   <compute>value&gt;"0" &amp;&amp; value&lt;"10" ?"valid":"error"</compute>',
      '   <compute expr="value>&quot;0&quot; &amp;&amp; value&lt;&quot;10&quot; ?&quot;valid&quot;:&quot;error&quot;">valid</compute>',
      "   <norm attr=\" '    &#xD;&#xA;&#x9;   ' \"></norm>",
      '   <normNames attr="   A    &#xD;&#xA;&#x9;   B   "></normNames>',
      "</doc>",
    ].join("\n");
    assert.equal(excC14n(doc), expected);
  });

  it("C14N 1.0 § 3.6: a character reference becomes the character (UTF-8)", () => {
    assert.equal(excC14n('<?xml version="1.0" encoding="ISO-8859-1"?><doc>&#169;</doc>'), "<doc>\u00a9</doc>");
  });

  // exc-c14n § 2.2: the same n1:elem2 subtree in two documents whose ancestors declare different things.
  const EXC1 =
    '<n0:local xmlns:n0="foo:bar" xmlns:n3="ftp://example.org">\n  <n1:elem2 xmlns:n1="http://example.net" xml:lang="en">\n' +
    '    <n3:stuff xmlns:n3="ftp://example.org"/>\n  </n1:elem2>\n</n0:local>';
  const EXC2 =
    '<n2:pdu xmlns:n1="http://example.com" xmlns:n2="http://foo.example" xml:lang="fr" xml:space="retain">\n' +
    '  <n1:elem2 xmlns:n1="http://example.net" xml:lang="en">\n    <n3:stuff xmlns:n3="ftp://example.org"/>\n  </n1:elem2>\n</n2:pdu>';

  it("exc-c14n § 2.2: a subtree canonicalises alike whatever its ancestors declare (no xml:* or namespaces imported)", () => {
    const elem2 = { ns: "http://example.net", local: "elem2" };
    const expected = '<n1:elem2 xmlns:n1="http://example.net" xml:lang="en">\n    <n3:stuff xmlns:n3="ftp://example.org"></n3:stuff>\n  </n1:elem2>';
    assert.equal(excC14n(EXC1, { subtree: elem2 }), expected);
    assert.equal(excC14n(EXC2, { subtree: elem2 }), expected);
  });

  it("exc-c14n § 2.2, whole documents: a declaration is rendered where it is first visibly utilised", () => {
    assert.equal(
      excC14n(EXC1),
      '<n0:local xmlns:n0="foo:bar">\n  <n1:elem2 xmlns:n1="http://example.net" xml:lang="en">\n' +
        '    <n3:stuff xmlns:n3="ftp://example.org"></n3:stuff>\n  </n1:elem2>\n</n0:local>',
    );
    assert.equal(
      excC14n(EXC2),
      '<n2:pdu xmlns:n2="http://foo.example" xml:lang="fr" xml:space="retain">\n  <n1:elem2 xmlns:n1="http://example.net" xml:lang="en">\n' +
        '    <n3:stuff xmlns:n3="ftp://example.org"></n3:stuff>\n  </n1:elem2>\n</n2:pdu>',
    );
  });

  it("drops the XML declaration, comments and whitespace outside the document element; normalises line ends and quotes", () => {
    const doc = "<?xml version=\"1.0\"?>\r\n<!-- c -->\r\n<a   b='x'\r\n><!-- in --><c\r\n/>line1\r\nline2\rline3</a>\r\n<!-- after -->\r\n";
    assert.equal(excC14n(doc), '<a b="x"><c></c>line1\nline2\nline3</a>');
  });

  it('default namespace: rendered where an unprefixed element uses it, xmlns="" only below a rendered non-empty default', () => {
    // p:a does not use the default namespace, so b (in it) declares it; d in no namespace needs
    // xmlns="" only because its output parent b rendered a non-empty default.
    const doc = '<p:a xmlns:p="urn:p" xmlns="urn:d"><b><c xmlns=""><d xmlns="urn:x"><e xmlns=""/></d></c></b><f xmlns=""/></p:a>';
    assert.equal(excC14n(doc), '<p:a xmlns:p="urn:p"><b xmlns="urn:d"><c xmlns=""><d xmlns="urn:x"><e xmlns=""></e></d></c></b><f></f></p:a>');
  });

  it("namespaces sorted by prefix, attributes by namespace URI then local name; redeclared prefixes rendered again", () => {
    const doc = '<z:r xmlns:z="urn:z" xmlns:b="urn:2" xmlns:a="urn:1" b:k="1" a:k="2" k="3" a:j="4"><z:s xmlns:z="urn:z2"><z:t z:q="x"/></z:s></z:r>';
    assert.equal(
      excC14n(doc),
      '<z:r xmlns:a="urn:1" xmlns:b="urn:2" xmlns:z="urn:z" k="3" a:j="4" a:k="2" b:k="1"><z:s xmlns:z="urn:z2"><z:t z:q="x"></z:t></z:s></z:r>',
    );
  });

  /** An enveloped signature as XMLDSig has it: SOAP envelope, request, ds:Signature inside. */
  const SIGNED = (p: string, extra = "") =>
    `<?xml version="1.0" encoding="UTF-8"?>\n<soap:Envelope xmlns:soap="urn:soap"${extra}><soap:Body><${p}:Req xmlns:${p}="urn:req">` +
    `<${p}:A>1 &amp; 2</${p}:A><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>` +
    `<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:Reference URI=""><ds:DigestValue>AAAA</ds:DigestValue></ds:Reference>` +
    `</ds:SignedInfo><ds:SignatureValue>BBBB</ds:SignatureValue></ds:Signature></${p}:Req></soap:Body></soap:Envelope>`;
  const DS = { ns: "http://www.w3.org/2000/09/xmldsig#", local: "Signature" };

  it("the enveloped-signature transform: the document without its ds:Signature", () => {
    assert.equal(
      excC14n(SIGNED("VPNK"), { exclude: DS }),
      '<soap:Envelope xmlns:soap="urn:soap"><soap:Body><VPNK:Req xmlns:VPNK="urn:req"><VPNK:A>1 &amp; 2</VPNK:A></VPNK:Req></soap:Body></soap:Envelope>',
    );
  });

  it("the SignedInfo subtree renders the ds declaration its ancestor made, and nothing of the envelope", () => {
    const expected =
      '<ds:SignedInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"></ds:CanonicalizationMethod>' +
      '<ds:Reference URI=""><ds:DigestValue>AAAA</ds:DigestValue></ds:Reference></ds:SignedInfo>';
    assert.equal(excC14n(SIGNED("VPNK"), { subtree: { ns: DS.ns, local: "SignedInfo" } }), expected);
    assert.equal(excC14n(SIGNED("x", ' xmlns:unused="urn:u" xmlns="urn:d"'), { subtree: { ns: DS.ns, local: "SignedInfo" } }), expected);
  });

  it("unused declarations do not change the form; another prefix does (it is part of the element's name)", () => {
    const plain = excC14n(SIGNED("VPNK"), { exclude: DS });
    assert.equal(excC14n(SIGNED("VPNK", ' xmlns:unused="urn:u" xmlns="urn:d"'), { exclude: DS }), plain);
    assert.notEqual(excC14n(SIGNED("x"), { exclude: DS }), plain);
  });

  it("refuses a DOCTYPE, processing instructions, malformed text and a missing subtree, as MalformedXml", () => {
    for (const [doc, o, why] of [
      ['<!DOCTYPE x [<!ENTITY e "boom">]><x>&e;</x>', {}, /DOCTYPE/],
      ["<x><?php echo 1 ?></x>", {}, /processing instruction/],
      ["<x><y></x>", {}, /./],
      ["<p:x/>", {}, /prefix|unbound/i],
      ["<x/>", { subtree: { ns: "urn:nope", local: "y" } }, /no element \{urn:nope\}y/],
    ] as const) {
      assert.throws(
        () => excC14n(doc, o),
        (e: unknown) => e instanceof MalformedXml && why.test(e.message),
        doc,
      );
    }
  });

  it("throws nothing but MalformedXml for any garbage, and the canonical form is a fixed point", () => {
    const alphabet = `<>/="'&;:!?[]-x xmlns:p="u" xmlns="d" p:a="1" <![CDATA[ ]]> <!-- --> &#0; &#xD; \r\n\t`;
    for (let i = 0; i < 2000; i++) {
      const text = [...randomBytes(1 + (i % 64))].map((b) => alphabet[b % alphabet.length]).join("");
      let c: string;
      try {
        c = excC14n(`<r>${text}</r>`);
      } catch (e) {
        assert.ok(e instanceof MalformedXml, `${String(e)} for ${JSON.stringify(text)}`);
        continue;
      }
      assert.equal(excC14n(c), c, JSON.stringify(text));
    }
  });
});
