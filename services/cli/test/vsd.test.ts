import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { timeArg } from "../src/commands/command.js";
import { answer, type FakeGateway, fakeGateway, loggedIn, tigw } from "./support.js";

const doc = (xml: string) => ({ base64: "", xml });
const persoenlich =
  "<Versicherten_ID>X110411675</Versicherten_ID><Geburtsdatum>19640812</Geburtsdatum><Vorname>Erika</Vorname><Nachname>Mustermann</Nachname><Vorsatzwort>von</Vorsatzwort><Geschlecht>W</Geschlecht><Postleitzahl>10117</Postleitzahl><Ort>Berlin</Ort><Strasse>Friedrichstraße</Strasse><Hausnummer>136</Hausnummer>";
const allgemein =
  "<Beginn>20240101</Beginn><Kostentraegerkennung>109500969</Kostentraegerkennung><Name>Test GKV-SV</Name><Versichertenart>1</Versichertenart><WOP>72</WOP>";
const cards = [
  { slot: 1, cardHandle: "h-smcb", cardType: "SMC-B", iccsn: "80276883110000000001", certSerial: "", insertedAt: "", ctId: "KT-1" },
  { slot: 2, cardHandle: "h-egk", cardType: "EGK", iccsn: "80276001010000000007", certSerial: "", insertedAt: "", ctId: "KT-1" },
];

describe("tigw vsd", () => {
  let gw: FakeGateway;
  before(async () => {
    gw = await fakeGateway({
      "GET /api/v1/units/RZK-0001/cards": () => ({ cards }),
      "GET /api/v1/units/RZK-0001/infomodell": () => ({
        unitId: "u-1",
        mandanten: [{ mandantId: "m1", clientSystems: ["cs1"], workplaces: ["wp1"], terminals: ["KT-1"], smbs: ["80276883110000000001"] }],
        workplaces: [],
      }),
      "POST /api/v1/vsd/read": (r) =>
        (r.body as { performOnlineCheck: boolean }).performOnlineCheck
          ? {
              persoenlicheVersichertendaten: doc(persoenlich),
              allgemeineVersicherungsdaten: doc(allgemein),
              geschuetzteVersichertendaten: doc(""),
              pruefungsnachweis: doc(""),
              vsdStatus: { status: "0" },
              result: 3,
              errorCode: 12103,
            }
          : answer(200, "<ReadVSDResponse/>", "application/xml"),
      "GET /api/v1/units/RZK-0001/vsd-log?mandant=m1&outcome=error&limit=5": () => ({
        entries: [
          {
            at: "2025-03-01T10:00:00.000Z",
            unitId: "u-1",
            mandantId: "m1",
            workplaceId: "wp1",
            ctId: "KT-1",
            kvnr: "",
            steps: [
              { name: "a", ms: 12, detail: "" },
              { name: "b", ms: 30, detail: "" },
            ],
            ocsp: "",
            outcome: "error",
            code: "114",
            result: 0,
          },
        ],
      }),
    });
    loggedIn(gw.url);
  });
  after(() => gw.close());

  it("read: finds the eGK in the slot and the Mandant's SMC-B; prints the insured person and the Prüfungsnachweis", async () => {
    const r = await tigw(
      gw.url,
      "vsd",
      "read",
      "--unit",
      "RZK-0001",
      "--mandant",
      "m1",
      "--workplace",
      "wp1",
      "--ct-id",
      "KT-1",
      "--slot",
      "2",
      "--online-check",
    );
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(gw.last.body, {
      unit: "RZK-0001",
      mandantId: "m1",
      clientSystemId: "cs1",
      workplaceId: "wp1",
      ehcHandle: "h-egk",
      hpcHandle: "h-smcb",
      performOnlineCheck: true,
      readOnlineReceipt: false,
    });
    assert.equal(
      r.out,
      [
        "Versicherten_ID: X110411675",
        "Name:            Erika von Mustermann",
        "Geburtsdatum:    12.08.1964",
        "Geschlecht:      W",
        "Anschrift:       Friedrichstraße 136, 10117 Berlin",
        "Versichert seit: 01.01.2024",
        "Kostenträger:    109500969 Test GKV-SV",
        "Versichertenart: 1",
        "WOP:             72",
        "",
        "Prüfungsnachweis: 3 (update technically impossible), Fachdienst code 12103",
      ].join("\n"),
    );
  });
  it("read -o xml: the gematik XML as it came", async () => {
    const r = await tigw(gw.url, "vsd", "read", "--unit", "RZK-0001", "--mandant", "m1", "--workplace", "wp1", "--ct-id", "KT-1", "--slot", "2", "-o", "xml");
    assert.deepEqual([r.code, r.out], [0, "<ReadVSDResponse/>"]);
  });
  it("read with an empty slot: 4008, nothing read", async () => {
    const r = await tigw(gw.url, "vsd", "read", "--unit", "RZK-0001", "--mandant", "m1", "--workplace", "wp1", "--ct-id", "KT-1", "--slot", "3");
    assert.deepEqual([r.code, r.err], [1, "error 4008: no card in KT-1 slot 3"]);
    assert.notEqual(gw.last.path, "/api/v1/vsd/read");
  });
  it("read without --workplace or --slot: usage error", async () => {
    assert.match((await tigw(gw.url, "vsd", "read", "--unit", "RZK-0001", "--mandant", "m1", "--ct-id", "KT-1")).err, /missing --slot/);
  });
  it("log: filters as query; the entries with the summed step times", async () => {
    const r = await tigw(gw.url, "vsd", "log", "RZK-0001", "--mandant", "m1", "--outcome", "error", "--limit", "5");
    assert.equal(
      r.out,
      [
        "TIME                      MANDANT  WORKPLACE  CT-ID  KVNR  OCSP  OUTCOME  CODE  RESULT  MS",
        "2025-03-01T10:00:00.000Z  m1       wp1        KT-1   -     -     error    114   -       42",
      ].join("\n"),
    );
  });

  it("log --from/--to: an ISO time as given, a span such as 24h or 7d back from now", () => {
    const now = Date.parse("2025-03-08T12:00:00.000Z");
    assert.equal(timeArg("7d", now), "2025-03-01T12:00:00.000Z");
    assert.equal(timeArg("90m", now), "2025-03-08T10:30:00.000Z");
    assert.equal(timeArg("2025-01-01", now), "2025-01-01");
    assert.equal(timeArg(undefined, now), undefined);
  });
});
