import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { call, createClient, SystemClock, topicOf, type DomainError, type EventBus } from "@tigw/platform";
import { TenancyServiceClient } from "@tigw/contracts/tenancy/v1/tenancy";
import { eventually, freshContext, refusal, serviceSetups } from "@tigw/platform/testing";
import { issueLicence, loadProfiles, startTenancy, type RunningTenancy } from "../src/index.js";

/**
 * The tenancy service over real gRPC, on the embedded adapters always and on real PostgreSQL and
 * Kafka when DATABASE_URL and KAFKA_BROKERS are set (CI).
 */
const setups = serviceSetups();

for (const setup of setups) {
  describe(`tenancy over gRPC (${setup.store.name} store, ${setup.bus.name} bus)`, () => {
    const vendor = generateKeyPairSync("ed25519");
    const context = freshContext("tenancy");
    let svc: RunningTenancy;
    let bus: EventBus;
    let client: TenancyServiceClient;
    const rpc = <Req, Res>(m: (req: Req, md: never, o: never, cb: never) => unknown, req: Req) => call<Req, Res>(m.bind(client) as never, req);

    before(async () => {
      bus = await setup.bus.bus();
      svc = await startTenancy({
        sql: await setup.store.sql(),
        bus,
        clock: new SystemClock(),
        profiles: loadProfiles(),
        vendorKeys: [vendor.publicKey],
        context,
      });
      client = createClient(TenancyServiceClient, svc.address, { deadlineMs: 30_000 });
    });
    after(async () => {
      client.close();
      await svc.stop();
      await bus.close();
    });

    const create = (serial: string, profile = "rz") =>
      rpc(client.createUnit, { serial, profile, firmware: "", producedOn: "" }) as Promise<{ unit: { unitId: string; serial: string } }>;

    it("creates a unit and finds it by id and by serial; the fleet overview lists it", async () => {
      const { unit } = await create("RZK-1000");
      const byId = (await rpc(client.getUnit, { unit: unit.unitId })) as { unit: { serial: string; state: string; computeUnits: unknown[] } };
      assert.equal(byId.unit.serial, "RZK-1000");
      assert.equal(byId.unit.state, "provisioned");
      assert.deepEqual(byId.unit.computeUnits, [
        { index: 1, ktsUsed: 0, ktsLimit: 50 },
        { index: 2, ktsUsed: 0, ktsLimit: 50 },
      ]);
      const bySerial = (await rpc(client.getUnit, { unit: "RZK-1000" })) as { unit: { unitId: string } };
      assert.equal(bySerial.unit.unitId, unit.unitId);
      const fleet = (await rpc(client.listUnits, {})) as { units: { serial: string; mandantenLimit: number }[] };
      assert.deepEqual(
        fleet.units.filter((u) => u.serial === "RZK-1000").map((u) => [u.serial, u.mandantenLimit]),
        [["RZK-1000", 10]],
      );
    });

    it("refuses bad input with a code naming the field, and a duplicate serial, changing nothing", async () => {
      await create("RZK-1001");
      assert.equal((await refusal(create("RZK-2000", "tower"))).code, "UNKNOWN_PROFILE");
      assert.equal((await refusal(create("rz 2000"))).details["field"], "serial");
      const dup = await refusal(create("RZK-1001", "einbox"));
      assert.equal(dup.code, "SERIAL_EXISTS");
      assert.equal(dup.details["field"], "serial");
      const unit = (await rpc(client.getUnit, { unit: "RZK-1001" })) as { unit: { profile: string } };
      assert.equal(unit.unit.profile, "rz", "the existing unit is untouched");
      assert.equal((await refusal(rpc(client.getUnit, { unit: "RZK-2000" }))).code, "UNIT_NOT_FOUND");
    });

    it("hosts 10 Mandanten; the 11th is refused with MANDANT_LIMIT_REACHED naming unit and limit", async () => {
      await create("RZK-3000");
      for (let i = 1; i <= 10; i++)
        await rpc(client.addMandant, { unit: "RZK-3000", mandantId: `praxis-${i}`, name: `Praxis ${i}`, bsnr: `12345678${i % 10}`, smcbIccsn: "" });
      const e = await refusal(rpc(client.addMandant, { unit: "RZK-3000", mandantId: "praxis-11", name: "Praxis 11", bsnr: "", smcbIccsn: "" }));
      assert.equal(e.code, "MANDANT_LIMIT_REACHED");
      assert.equal(e.details["serial"], "RZK-3000");
      assert.equal(e.details["limit"], "10");
      const bad = await refusal(rpc(client.addMandant, { unit: "RZK-3000", mandantId: "x", name: "X", bsnr: "1234", smcbIccsn: "" }));
      assert.equal(bad.code, "INVALID_BSNR");
      const list = (await rpc(client.listMandanten, { unit: "RZK-3000" })) as { mandanten: unknown[] };
      assert.equal(list.mandanten.length, 10);
    });

    it("of 150 concurrent reservations on a unit with 100 free slots exactly 100 succeed, spread 50/50", async () => {
      await create("RZK-4000");
      const results = await Promise.allSettled(Array.from({ length: 150 }, (_, i) => rpc(client.reserveKtSlot, { unit: "RZK-4000", ctId: `kt-${i}` })));
      const ok = results.filter((r) => r.status === "fulfilled").length;
      const refused = results.filter((r) => r.status === "rejected").map((r) => (r as PromiseRejectedResult).reason as DomainError);
      assert.equal(ok, 100);
      assert.equal(refused.length, 50);
      assert.ok(
        refused.every((e) => e.code === "KT_LIMIT_REACHED"),
        `other refusals: ${refused.map((e) => e.code).join(",")}`,
      );
      const unit = (await rpc(client.getUnit, { unit: "RZK-4000" })) as { unit: { computeUnits: { ktsUsed: number }[]; ktSlots: unknown[] } };
      assert.deepEqual(
        unit.unit.computeUnits.map((c) => c.ktsUsed),
        [50, 50],
      );
      assert.equal(unit.unit.ktSlots.length, 100);
      const released = (await rpc(client.releaseKtSlot, { unit: "RZK-4000", ctId: "kt-0" })) as { released: boolean };
      assert.equal(released.released, true);
      await rpc(client.reserveKtSlot, { unit: "RZK-4000", ctId: "kt-new" });
    });

    it("a licence raised from 50 to 75 takes effect at once: the 75th terminal of a compute unit gets in, the 76th not", async () => {
      await create("EBK-5000", "einbox");
      for (let i = 1; i <= 50; i++) await rpc(client.reserveKtSlot, { unit: "EBK-5000", ctId: `kt-${i}` });
      assert.equal((await refusal(rpc(client.reserveKtSlot, { unit: "EBK-5000", ctId: "kt-51" }))).code, "KT_LIMIT_REACHED");
      const file = issueLicence(vendor.privateKey, { serial: "EBK-5000", ktPerComputeUnit: 75, features: ["PTV5", "LZV"] });
      const tampered = structuredClone(file);
      tampered.licence.ktPerComputeUnit = 999;
      assert.equal((await refusal(rpc(client.importLicence, { unit: "EBK-5000", licenceFile: JSON.stringify(tampered) }))).code, "LICENCE_INVALID");
      const foreign = issueLicence(vendor.privateKey, { serial: "EBK-9999", ktPerComputeUnit: 75 });
      assert.equal((await refusal(rpc(client.importLicence, { unit: "EBK-5000", licenceFile: JSON.stringify(foreign) }))).code, "LICENCE_SERIAL_MISMATCH");
      const kept = (await rpc(client.getUnit, { unit: "EBK-5000" })) as { unit: { licence: { ktPerComputeUnit: number; source: string } } };
      assert.deepEqual([kept.unit.licence.ktPerComputeUnit, kept.unit.licence.source], [50, "profile"], "the unit keeps its old licence");
      const raised = (await rpc(client.importLicence, { unit: "EBK-5000", licenceFile: JSON.stringify(file) })) as {
        unit: { licence: { ktPerComputeUnit: number; features: string[] } };
      };
      assert.equal(raised.unit.licence.ktPerComputeUnit, 75);
      assert.deepEqual(raised.unit.licence.features, ["LZV", "PTV5"]);
      for (let i = 51; i <= 75; i++) await rpc(client.reserveKtSlot, { unit: "EBK-5000", ctId: `kt-${i}` });
      const e = await refusal(rpc(client.reserveKtSlot, { unit: "EBK-5000", ctId: "kt-76" }));
      assert.deepEqual([e.code, e.details["computeUnit"], e.details["limit"]], ["KT_LIMIT_REACHED", "1", "75"]);
    });

    it("a licence cannot be rolled back: an older one, or one replaced earlier, is refused with LICENCE_OUTDATED and the unit keeps the newer", async () => {
      await create("EBK-5001", "einbox");
      const issued = (ktPerComputeUnit: number, day: string) =>
        JSON.stringify(issueLicence(vendor.privateKey, { serial: "EBK-5001", ktPerComputeUnit, issuedAt: new Date(`${day}T09:00:00.000Z`) }));
      const licenceOf = async () =>
        ((await rpc(client.getUnit, { unit: "EBK-5001" })) as { unit: { licence: { ktPerComputeUnit: number; issuedAt: string } } }).unit.licence;
      const march = issued(80, "2026-03-01");
      await rpc(client.importLicence, { unit: "EBK-5001", licenceFile: march });
      const older = await refusal(rpc(client.importLicence, { unit: "EBK-5001", licenceFile: issued(100, "2026-01-01") }));
      assert.deepEqual([older.code, older.details["currentIssuedAt"]], ["LICENCE_OUTDATED", "2026-03-01T09:00:00.000Z"]);
      assert.match(older.message, /issued 2026-01-01T09:00:00.000Z, not after/);
      const kept = await licenceOf();
      assert.deepEqual([kept.ktPerComputeUnit, kept.issuedAt], [80, "2026-03-01T09:00:00.000Z"], "the unit keeps the March licence");
      await rpc(client.importLicence, { unit: "EBK-5001", licenceFile: issued(60, "2026-06-01") });
      assert.equal(
        (await refusal(rpc(client.importLicence, { unit: "EBK-5001", licenceFile: march }))).code,
        "LICENCE_OUTDATED",
        "the replaced March licence stays replaced",
      );
      const june = await licenceOf();
      assert.deepEqual([june.ktPerComputeUnit, june.issuedAt], [60, "2026-06-01T09:00:00.000Z"]);
    });

    it("publishes its events on tigw.<context>.events.v1 keyed by unit id", async () => {
      const seen: { type: string; key: string }[] = [];
      const sub = await bus.subscribe({
        groupId: `${context}-probe`,
        topics: [topicOf(context)],
        fromBeginning: true,
        handler: async (m) => void seen.push({ type: m.headers["event-type"] ?? "", key: m.key }),
      });
      try {
        const { unit } = await create("RZK-6000");
        await rpc(client.reserveKtSlot, { unit: "RZK-6000", ctId: "kt-bus" });
        await eventually(() => seen.some((s) => s.type === "UnitCreated" && s.key === unit.unitId), 60_000, "UnitCreated on the bus");
        await eventually(() => seen.some((s) => s.type === "KtSlotReserved" && s.key === unit.unitId), 60_000, "KtSlotReserved on the bus");
      } finally {
        await sub.stop();
      }
    });

    it("rebuilds the read models from the events with the same result", async () => {
      await create("RZK-7000");
      for (const ctId of ["kt-1", "kt-2", "kt-3"]) await rpc(client.reserveKtSlot, { unit: "RZK-7000", ctId });
      const before = await svc.tenancy.listUnits();
      const applied = await svc.tenancy.rebuildReadModels();
      assert.ok(applied >= 4, `replayed ${applied} events`);
      assert.deepEqual(await svc.tenancy.listUnits(), before);
      assert.ok(
        before.some((u) => u.serial === "RZK-7000" && Object.keys(u.slots).length === 3),
        "the rebuilt fleet has the unit with its slots",
      );
    });
  });
}
