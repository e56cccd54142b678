import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { schemaErrors } from "./support/gematik-xsd.js";
import {
  gematikErrorXml,
  generatePopulation,
  isValidKvnr,
  kvnr,
  pruefkarte,
  pruefungsnachweisXml,
  readVsdResponseXml,
  traitsOf,
  toIso885915,
  vsdDocuments,
  type InsuredPerson,
} from "../src/index.js";

async function validate(p: InsuredPerson): Promise<void> {
  const docs = vsdDocuments(p);
  for (const [name, xml] of Object.entries(docs)) {
    assert.deepEqual(await schemaErrors("VSD", toIso885915(xml)), [], `${p.kvnr} ${name}`);
  }
}

describe("insured population and Prüfkarten eGK", () => {
  it("computes KVNR check digits (letter as 01-26, weights 1-2, cross sums, mod 10)", () => {
    assert.equal(kvnr("A", "12345678"), "A123456780"); // the example KVNR of the specifications
    assert.ok(isValidKvnr(kvnr("X", "00000001")));
    assert.equal(isValidKvnr("A123456782"), false);
  });

  it("generates the same people from the same seed, with valid KVNRs and unique ICCSNs", () => {
    const a = generatePopulation(2000, 7);
    assert.deepEqual(generatePopulation(2000, 7), a);
    assert.notDeepEqual(generatePopulation(50, 8), a.slice(0, 50));
    assert.ok(a.every((p) => isValidKvnr(p.kvnr) && /^\d{20}$/.test(p.card.iccsn)));
    assert.equal(new Set(a.map((p) => p.card.iccsn)).size, 2000);
    const share = (f: (p: InsuredPerson) => boolean) => a.filter(f).length / a.length;
    assert.ok(share((p) => p.card.generation === "G1") > 0.01, "some outdated cards (113)");
    assert.ok(share((p) => p.card.certificate !== "valid") > 0.01, "some invalid AUT certificates (106/107)");
    assert.ok(share((p) => p.card.healthApplicationBlocked) > 0.002, "some blocked health applications (114)");
  });

  it("every VSD document of the population validates against Schema_VSD.xsd", async () => {
    for (const p of generatePopulation(150, 3)) await validate(p);
  });

  it("Prüfkarte 0001 carries exactly seed 004's data, and its documents validate", async () => {
    const p = pruefkarte(1);
    assert.equal(p.kvnr.slice(0, 9), "X00000001");
    assert.ok(isValidKvnr(p.kvnr));
    const d = vsdDocuments(p);
    for (const fragment of [
      "<Nachname>Ort</Nachname>",
      "<Vorname>Dienstleister</Vorname>",
      "<Vorsatzwort>vor</Vorsatzwort>",
      "<Geburtsdatum>19800101</Geburtsdatum>",
      "<Geschlecht>X</Geschlecht>",
      "<Strasse>Friedrichstraße</Strasse>",
      "<Hausnummer>136</Hausnummer>",
      "<Postleitzahl>10117</Postleitzahl>",
      "<Ort>Berlin</Ort>",
    ]) {
      assert.ok(d.persoenlicheVersichertendaten.includes(fragment), fragment);
    }
    for (const fragment of [
      "<Beginn>20000101</Beginn>",
      "<Kostentraegerkennung>109500969</Kostentraegerkennung>",
      "<Kostentraegerlaendercode>D</Kostentraegerlaendercode>",
      "<Name>Test GKV-SV</Name>",
      "<Versichertenart>1</Versichertenart>",
      "<AerztlicheVersorgung>0</AerztlicheVersorgung>",
      "<WOP>83</WOP>",
    ]) {
      assert.ok(d.allgemeineVersicherungsdaten.includes(fragment), fragment);
    }
    assert.ok(d.geschuetzteVersichertendaten.includes("<Status>0</Status>"));
    assert.ok(d.geschuetzteVersichertendaten.includes("<Aerztlich>9</Aerztlich><Zahnaerztlich>9</Zahnaerztlich><Art>0000</Art>"));
    assert.ok(!/Titel|Namenszusatz|PostfachAdresse|Ende|DMP|BesonderePersonengruppe/.test(Object.values(d).join("")), "everything else empty");
    await validate(p);
    await validate(pruefkarte(5000));
    assert.throws(() => pruefkarte(5001), RangeError);
  });

  it("the schema check is real: a document missing a mandatory element is refused", async () => {
    const xml = vsdDocuments(pruefkarte(1)).allgemeineVersicherungsdaten.replace("<WOP>83</WOP>", "");
    assert.notDeepEqual(await schemaErrors("VSD", toIso885915(xml)), []);
  });
});

describe("Prüfungsnachweis", () => {
  const valid = async (xml: string) => (await schemaErrors("Pruefungsnachweis", toIso885915(xml))).length === 0;

  it("validates against Pruefungsnachweis.xsd for results 1-6, with the Fachdienst code and Prüfziffer where given", async () => {
    const at = new Date("2026-11-23T09:05:07Z");
    assert.match(pruefungsnachweisXml({ at, result: 3 }), /<TS>20261123090507<\/TS><E>3<\/E><\/PN>$/);
    for (const result of [1, 2, 3, 4, 5, 6] as const) assert.ok(await valid(pruefungsnachweisXml({ at, result })), `result ${result}`);
    assert.ok(await valid(pruefungsnachweisXml({ at, result: 3, errorCode: 11101, pruefziffer: Buffer.alloc(47, 7) })));
    assert.throws(() => pruefungsnachweisXml({ at, result: 7 as 1 }), RangeError);
    assert.equal(await valid(pruefungsnachweisXml({ at, result: 3 }).replace("<E>3</E>", "<E>33</E>")), false, "the schema check is real");
  });
});

describe("the gematik shapes of ReadVSD's answers", () => {
  const docs = {
    persoenlicheVersichertendaten: Buffer.from("p"),
    allgemeineVersicherungsdaten: Buffer.from("a"),
    geschuetzteVersichertendaten: Buffer.alloc(0),
    pruefungsnachweis: Buffer.alloc(0),
  };
  const status = { status: "0", timestamp: "2026-11-23T09:05:07.000Z", version: "5.2.0" };

  it("ReadVSDResponse leaves out empty optional parts; the schema check is real (status 2 is refused)", async () => {
    const xml = readVsdResponseXml({ ...docs, vsdStatus: status });
    assert.ok(!xml.includes("Pruefungsnachweis") && !xml.includes("GeschuetzteVersichertendaten"));
    assert.deepEqual(await schemaErrors("ReadVSDResponse", xml), []);
    assert.notDeepEqual(await schemaErrors("ReadVSDResponse", readVsdResponseXml({ ...docs, vsdStatus: { ...status, status: "2" } })), []);
  });

  it("GERROR: component and error type by code, text escaped, only gematik codes", async () => {
    assert.deepEqual(traitsOf(4012), { compType: "KON", severity: "Error", errorType: "Security" });
    assert.deepEqual(traitsOf(3001), { compType: "FM", severity: "Error", errorType: "Technical" });
    const xml = gematikErrorXml({ code: "114", message: "blocked <&> health application" }, { messageId: "m1", at: new Date("2026-11-23T09:05:07Z") });
    assert.ok(xml.includes("<GERROR:ErrorText>blocked &#60;&#38;&#62; health application</GERROR:ErrorText>"));
    assert.deepEqual(await schemaErrors("Error", xml), []);
    assert.notDeepEqual(
      await schemaErrors("Error", xml.replace("<GERROR:Code>114</GERROR:Code>", "<GERROR:Code>x</GERROR:Code>")),
      [],
      "the schema check is real",
    );
    assert.throws(() => gematikErrorXml({ code: "UNIT_NOT_FOUND", message: "" }, { messageId: "", at: new Date() }), RangeError);
  });
});
