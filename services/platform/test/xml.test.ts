import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { child, childText, esc, MalformedXml, parseXml } from "../src/xml.js";

/** The one XML reader of the services that take SOAP from outside (gateway's Konnektor interface, the VPN-ZugD). */
describe("parseXml, the services' XML reader", () => {
  const SOAP = "http://schemas.xmlsoap.org/soap/envelope/";

  it("reads namespaces, attributes by local name, text with entities and CDATA", () => {
    const root = parseXml(
      `<?xml version="1.0" encoding="UTF-8"?><soap:Envelope xmlns:soap="${SOAP}"><soap:Body><m:Op xmlns:m="urn:m" m:flag="1" plain="x">` +
        `<m:A>a &amp; b &#60;&#x3E;</m:A><B xmlns="urn:d"><![CDATA[<raw>]]></B></m:Op></soap:Body></soap:Envelope>`,
    );
    assert.deepEqual([root.ns, root.local], [SOAP, "Envelope"]);
    const op = child(child(root, SOAP, "Body"), "urn:m", "Op")!;
    assert.deepEqual(op.attrs, { flag: "1", plain: "x" });
    assert.equal(childText(op, "urn:m", "A"), "a & b <>");
    assert.equal(childText(op, "urn:d", "B"), "<raw>");
    assert.equal(childText(op, "urn:m", "Missing"), undefined);
  });

  it("refuses what SOAP messages never need, naming it: DOCTYPE (and with it entities), processing instructions, deep nesting, unbound prefixes", () => {
    const refused: [string, RegExp][] = [
      [`<!DOCTYPE x [<!ENTITY e "boom">]><x>&e;</x>`, /DOCTYPE/],
      [`<x><?php echo 1 ?></x>`, /processing instruction/],
      [`${"<a>".repeat(65)}${"</a>".repeat(65)}`, /deeper than 64/],
      [`<p:x/>`, /prefix|unbound/i],
      [`<x>&nope;</x>`, /entity/i],
      [`<x>a & b</x>`, /./],
      [`<x></y>`, /./],
      [``, /root|./],
    ];
    for (const [xml, why] of refused)
      assert.throws(
        () => parseXml(xml),
        (e: unknown) => e instanceof MalformedXml && why.test(e.message),
        xml,
      );
  });

  it("throws nothing but MalformedXml for any garbage", () => {
    const alphabet = `<>/="'&;:!?[]-x xmlns:p="u" <![CDATA[ ]]> <!-- --> &#0; &#x110000; \u0000\uFFFE`;
    for (let i = 0; i < 2000; i++) {
      const bytes = randomBytes(1 + (i % 64));
      const text = [...bytes].map((b) => alphabet[b % alphabet.length]).join("");
      try {
        parseXml(`<r>${text}</r>`);
      } catch (e) {
        assert.ok(e instanceof MalformedXml, `${String(e)} for ${JSON.stringify(text)}`);
      }
    }
  });

  it("esc makes text and attribute values safe", () => {
    assert.equal(esc(`<a href="x">&'`), "&#60;a href=&#34;x&#34;&#62;&#38;&#39;");
    assert.equal(parseXml(`<x a="${esc(`"'<&`)}">${esc("</x>")}</x>`).text, "</x>");
  });
});
