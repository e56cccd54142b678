import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { consume, on, SimulatedClock, SqlEventStore, topicOf, type EventBus, type Subscription } from "@tigw/platform";
import { LicenceImported, UnitCreated } from "@tigw/contracts/tenancy/v1/events";
import { eventually, freshContext, serviceSetups } from "@tigw/platform/testing";
import { issueLicence, loadProfiles, startTenancy, type RunningTenancy } from "../src/index.js";

/**
 * The contract of tenancy's events that other services consume (proto/tigw/tenancy/v1/events.proto):
 * the real service publishes each type, a consumer decodes it typed with the platform's consumer
 * helper, and the decoded events must equal the committed snapshot. A field renamed on either
 * side (producer's data or the proto) decodes differently and fails here, not in production.
 * After an intended, compatible change: UPDATE_CONTRACT_SNAPSHOT=1 rewrites the snapshot.
 */
const SNAPSHOT = join(__dirname, "..", "..", "test", "events.contract.json");

for (const setup of serviceSetups()) {
  describe(`tenancy's cross-service events keep their contract (${setup.bus.name} bus)`, () => {
    const vendor = generateKeyPairSync("ed25519");
    const context = freshContext("tenancy");
    let bus: EventBus;
    let svc: RunningTenancy;
    let sub: Subscription;
    const decoded: Record<string, unknown> = {};

    before(async () => {
      bus = await setup.bus.bus();
      const sql = await setup.store.sql();
      svc = await startTenancy({
        sql,
        bus,
        clock: new SimulatedClock(new Date("2026-11-23T08:00:00.000Z")),
        profiles: loadProfiles(),
        vendorKeys: [vendor.publicKey],
        context,
      });
      const probe = await SqlEventStore.open(sql, freshContext("probe"));
      const keep = (type: string) => async (e: unknown) => void (decoded[type] = e);
      sub = await consume({
        bus,
        groupId: `${context}-contract`,
        topics: [topicOf(context)],
        inbox: { sql: probe.sql, schema: probe.schema },
        handlers: {
          UnitCreated: on({ message: UnitCreated, handle: keep("UnitCreated") }),
          LicenceImported: on({ message: LicenceImported, handle: keep("LicenceImported") }),
        },
      });
    });
    after(async () => {
      await sub.stop();
      await svc.stop();
      await bus.close();
    });

    it("UnitCreated and LicenceImported decode to the committed snapshot", async () => {
      const unit = await svc.tenancy.createUnit({ serial: "EBK-7000", profile: "einbox", producedOn: "2026-01-15" });
      const file = issueLicence(vendor.privateKey, {
        serial: "EBK-7000",
        ktPerComputeUnit: 75,
        features: ["LZV", "PTV5"],
        issuedAt: new Date("2026-11-01T00:00:00.000Z"),
        licenceId: "lic-contract-1",
      });
      await svc.tenancy.importLicence(unit.unitId, JSON.stringify(file));
      await eventually(() => Object.keys(decoded).length === 2, 60_000, "both events decoded");
      // What differs between runs (ids) is replaced by a placeholder; everything else is the contract.
      const normal = JSON.parse(JSON.stringify(decoded).replaceAll(unit.unitId, "<unitId>").replaceAll(file.signature.keyId, "<keyId>")) as Record<
        string,
        unknown
      >;
      if (process.env["UPDATE_CONTRACT_SNAPSHOT"]) writeFileSync(SNAPSHOT, JSON.stringify(normal, null, 2) + "\n");
      assert.deepEqual(normal, JSON.parse(readFileSync(SNAPSHOT, "utf8")), "decoded events differ from test/events.contract.json");
    });
  });
}
