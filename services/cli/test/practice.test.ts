import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { answer, type FakeGateway, fakeGateway, loggedIn, tigw } from "./support.js";

const ort = {
  account: "praxis-ort",
  practiceName: "Hausarztpraxis Dr. Ort",
  status: "active",
  blockedReason: "",
  bindings: [{ serial: "RZK-DEMO-0001", mandantId: "btrs-01", boundAt: "2026-03-02T08:00:00.000Z" }],
  grants: [{ grantId: "dvo-1a2b", serial: "RZK-DEMO-0001", technician: "Max Techniker", until: "2026-03-02T12:00:00.000Z", state: "active" }],
  createdAt: "2026-03-01T08:00:00.000Z",
};
const neu = { ...ort, account: "praxis-neu", practiceName: "Praxis Neu", status: "totp-enrolment", bindings: [], grants: [] };

describe("tigw practice", () => {
  let gw: FakeGateway;
  before(async () => {
    gw = await fakeGateway({
      "GET /api/v1/practices": () => ({ practices: [ort, neu] }),
      "GET /api/v1/practices/praxis-ort": () => ort,
      "POST /api/v1/practices/praxis-neu/bind": (r) => ({
        ...neu,
        bindings: [{ serial: "RZK-DEMO-0001", mandantId: (r.body as { mandantId: string }).mandantId }],
      }),
      "POST /api/v1/practices/praxis-x/bind": () =>
        answer(409, { code: "MANDANT_ALREADY_BOUND", detail: "Mandant btrs-01 of unit RZK-DEMO-0001 belongs to another practice account" }),
      "POST /api/v1/practices/praxis-ort/block": () => ({ ...ort, status: "blocked", blockedReason: "Vertrag beendet" }),
      "POST /api/v1/practices/praxis-ort/totp/reset": () => ({ ...ort, status: "totp-enrolment" }),
    });
    loggedIn(gw.url);
  });
  after(() => gw.close());

  it("list: account, name, status, Mandanten and active grants", async () => {
    assert.equal(
      (await tigw(gw.url, "practice", "list")).out,
      [
        "ACCOUNT     PRACTICE                STATUS          MANDANTEN              ACTIVE GRANTS",
        "praxis-ort  Hausarztpraxis Dr. Ort  active          RZK-DEMO-0001/btrs-01  1",
        "praxis-neu  Praxis Neu              totp-enrolment  -                      0",
      ].join("\n"),
    );
  });

  it("show: the account with its DVO grants", async () => {
    const r = await tigw(gw.url, "practice", "show", "praxis-ort");
    assert.match(r.out, /Mandanten:\s+RZK-DEMO-0001\/btrs-01/);
    assert.match(r.out, /dvo-1a2b\s+RZK-DEMO-0001\s+Max Techniker\s+2026-03-02T12:00:00.000Z\s+active/);
  });

  it("bind needs --unit and --mandant; a Mandant of another account is refused with its code", async () => {
    const r = await tigw(gw.url, "practice", "bind", "praxis-neu", "--unit", "RZK-DEMO-0001", "--mandant", "btrs-04");
    assert.deepEqual(gw.last.body, { unit: "RZK-DEMO-0001", mandantId: "btrs-04" });
    assert.match(r.out, /^bound RZK-DEMO-0001\/btrs-04 to praxis-neu/);
    const missing = await tigw(gw.url, "practice", "bind", "praxis-neu", "--unit", "RZK-DEMO-0001");
    assert.equal(missing.code, 2);
    assert.match(missing.err, /missing --mandant/);
    const taken = await tigw(gw.url, "practice", "bind", "praxis-x", "--unit", "RZK-DEMO-0001", "--mandant", "btrs-01");
    assert.equal(taken.code, 1);
    assert.match(taken.err, /MANDANT_ALREADY_BOUND/);
  });

  it("reset-totp: the account is back in enrolment", async () => {
    const r = await tigw(gw.url, "practice", "reset-totp", "praxis-ort");
    assert.deepEqual([gw.last.method, gw.last.path], ["POST", "/api/v1/practices/praxis-ort/totp/reset"]);
    assert.match(r.out, /^TOTP of praxis-ort reset/);
    assert.match(r.out, /Status:\s+totp-enrolment/);
  });

  it("block with a reason", async () => {
    const r = await tigw(gw.url, "practice", "block", "praxis-ort", "--reason", "Vertrag beendet");
    assert.deepEqual(gw.last.body, { reason: "Vertrag beendet" });
    assert.match(r.out, /Status:\s+blocked: Vertrag beendet/);
  });
});
