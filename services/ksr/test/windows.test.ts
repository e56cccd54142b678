import assert from "node:assert/strict";
import { verify, X509Certificate } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { call, createClient } from "@tigw/platform";
import { eventually, refusal } from "@tigw/platform/testing";
import { KsrServiceClient } from "@tigw/contracts/ksr/v1/ksr";
import type * as pb from "@tigw/contracts/ksr/v1/ksr";
import { LIST_UPDATES_ACTION, listUpdatesRequestXml, withoutSignature } from "../src/index.js";
import { startFleet, type Fleet } from "./support.js";

/**
 * The weekly window over ksr's gRPC API: a Konnektor switched off over its Monday 01:00 window
 * misses it, and switching it on on Tuesday does not catch it up; it installs in the next
 * Monday's window. Bad settings are refused naming the field.
 */
describe("update windows over gRPC: a missed window is not caught up (embedded)", () => {
  let fleet: Fleet;
  let ksr: KsrServiceClient;
  const unitOf = async (unit: string) => (await call<pb.GetUnitFirmwareRequest, pb.GetUnitFirmwareResponse>(ksr.getUnitFirmware.bind(ksr), { unit })).unit!;
  const power = (unit: string, on: boolean) => call<pb.SetPowerRequest, pb.SetPowerResponse>(ksr.setPower.bind(ksr), { unit, on });
  const run = () => call<pb.RunSchedulerRequest, pb.RunSchedulerResponse>(ksr.runScheduler.bind(ksr), {});
  const advance = async (d: string) => {
    await fleet.clock.advance(d);
    await run();
  };

  before(async () => {
    fleet = await startFleet("2024-01-10T08:00:00.000Z"); // a Wednesday
    ksr = createClient(KsrServiceClient, fleet.ksr.address, { deadlineMs: 60_000 });
    await fleet.tenancy.tenancy.createUnit({ serial: "EBK-W-1", profile: "einbox", firmware: "5.50.3:2.0.0", producedOn: "2023-06-01" });
    await eventually(async () => (await fleet.ksr.ksr.list()).length === 1, 30_000, "ksr enrols the unit");
    await call<pb.PublishReleaseRequest, pb.PublishReleaseResponse>(ksr.publishRelease.bind(ksr), {
      updateId: "EINBOX_5_50_4",
      product: "einbox",
      fwVersion: "5.50.4:2.0.0",
      fwPriority: "Kritisch",
      startDate: "2024-01-10",
      deadline: "2024-02-19",
      releaseNotes: "PTV5#WR3",
      approvedUntil: "",
      afterTerminals: false,
    });
  });
  after(async () => {
    ksr.close();
    await fleet.stop();
  });

  it("enrolled with the defaults and the release due, next window Monday 01:00", async () => {
    const u = await unitOf("EBK-W-1");
    assert.deepEqual(u.settings, { autoDownload: true, autoUpdate: true, window: "Mon 01:00" });
    assert.equal(u.dueUpdateId, "EINBOX_5_50_4");
    assert.equal(u.nextWindow, "2024-01-15T00:00:00.000Z");
  });

  it("switched off over Monday 01:00 and on again on Tuesday: the window is missed and not caught up", async () => {
    await advance("4d"); // Sunday 08:00
    await power("EBK-W-1", false);
    await advance("2d"); // Tuesday 08:00: the window passed while the Konnektor was off
    await power("EBK-W-1", true);
    await advance("1d");
    const u = await unitOf("EBK-W-1");
    assert.equal(u.version, "5.50.3:2.0.0");
    assert.equal(u.lastResult, "MISSED");
    assert.match(u.lastMessage, /2024-01-15T00:00:00.000Z missed: the Konnektor was switched off/);
    assert.equal(u.nextWindow, "2024-01-22T00:00:00.000Z");
  });

  it("installs in the next Monday's window", async () => {
    await advance("5d"); // Monday 22.01. 08:00
    const u = await unitOf("EBK-W-1");
    assert.equal(u.version, "5.50.4:2.0.0");
    assert.equal(u.lastResult, "OK");
    const installed = (await fleet.ksr.ksr.store.readAll(undefined, 10_000)).find((e) => e.type === "FirmwareInstalled")!;
    assert.equal((installed.data as { at: string }).at, "2024-01-22T00:00:00.000Z");
  });

  it("refuses a window that is no weekday and time, and a setting that is not on or off, naming the field", async () => {
    const bad = await refusal(call(ksr.changeUpdateSettings.bind(ksr), { unit: "EBK-W-1", autoDownload: "", autoUpdate: "", window: "Montag 1 Uhr" }));
    assert.equal(bad.code, "INVALID_UPDATE_WINDOW");
    assert.equal(bad.details["field"], "window");
    const onOff = await refusal(call(ksr.changeUpdateSettings.bind(ksr), { unit: "EBK-W-1", autoDownload: "yes", autoUpdate: "", window: "" }));
    assert.equal(onOff.code, "INVALID_SETTING");
    const revoked = await refusal(
      call(ksr.publishRelease.bind(ksr), {
        updateId: "REVOKED",
        product: "einbox",
        fwVersion: "5.1.3:2.0.0",
        fwPriority: "Normal",
        startDate: "2024-02-01",
        deadline: "2024-03-01",
        releaseNotes: "",
        approvedUntil: "",
        afterTerminals: false,
      }),
    );
    assert.equal(revoked.code, "VERSION_NOT_APPROVED");
  });

  it("the simulated KSR answers list_Updates over SOAP with the signed UpdateInformation, and refuses malformed requests", async () => {
    const post = (body: string, type = "text/xml; charset=utf-8") =>
      fetch(fleet.ksr.soapUrl, { method: "POST", headers: { "content-type": type, soapaction: LIST_UPDATES_ACTION }, body });
    const ask = (fwVersion: string) => listUpdatesRequestXml({ productVendorId: "TIGW", productCode: "einbox", hwVersion: "2.0.0", fwVersion });
    const res = await post(ask("5.50.3:2.0.0"));
    assert.equal(res.status, 200);
    const xml = await res.text();
    const info = /<KSR:UpdateInformation xmlns:KSR="[^"]+">.*?<\/KSR:UpdateInformation>/.exec(xml)?.[0];
    assert.ok(info, xml.slice(0, 300));
    assert.match(
      info,
      /<KSR:UpdateID>EINBOX_5_50_4<\/KSR:UpdateID>.*<KSR:StartDate>2024-01-10<\/KSR:StartDate><KSR:Deadline>2024-02-19<\/KSR:Deadline>.*<KSR:FWPriority>Kritisch<\/KSR:FWPriority>/,
    );
    const signed = withoutSignature(info)!;
    assert.equal(
      signed.updateInformation,
      (await fleet.ksr.ksr.download("EINBOX_5_50_4")).updateInformation,
      "without its signature element: the signed bytes",
    );
    assert.ok(
      verify("sha256", Buffer.from(signed.updateInformation), new X509Certificate(signed.signerCertificate).publicKey, Buffer.from(signed.signature, "base64")),
    );
    assert.doesNotMatch(await (await post(ask("5.50.4:2.0.0"))).text(), /UpdateInformation/, "nothing newer than 5.50.4");
    const bad = await post(ask("5.50.3:2.0.0").replace(/<KSR:ProductCode>.*<\/KSR:ProductCode>/, ""));
    assert.equal(bad.status, 500);
    assert.match(await bad.text(), /<faultcode>soap:Client<\/faultcode><faultstring>listUpdatesRequest needs exactly one ProductCode/);
    assert.equal((await post(ask("5.50.3:2.0.0"), "application/json")).status, 415);
  });
});
