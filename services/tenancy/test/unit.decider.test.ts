import { generateKeyPairSync } from "node:crypto";
import { describe, it } from "node:test";
import { spec } from "@tigw/platform";
import { DEFAULT_PROFILES, issueLicence, unitDecider, type UnitCommand, type UnitEvent } from "../src/index.js";

const at = "2026-11-23T10:00:00.000Z";
const rz = DEFAULT_PROFILES.find((p) => p.name === "rz")!;
const einbox = DEFAULT_PROFILES.find((p) => p.name === "einbox")!;
const vendor = generateKeyPairSync("ed25519");
const otherVendor = generateKeyPairSync("ed25519");
const unitId = "0b7c9f6e-1111-4a4a-8a8a-000000000001";

const created = (profile = rz, over: Partial<{ serial: string; producedOn: string; firmware: string }> = {}): UnitEvent => ({
  type: "UnitCreated",
  data: {
    unitId,
    serial: over.serial ?? "RZK-0001",
    profile: profile.name,
    figures: {
      computeUnits: profile.computeUnits,
      ktPerComputeUnit: profile.ktPerComputeUnit,
      recommendedKts: profile.recommendedKts,
      maxMandanten: profile.maxMandanten,
    },
    firmware: over.firmware ?? "5.50.4:2.0.0",
    producedOn: over.producedOn ?? "2026-11-23",
    at,
  },
});
const create = (over: Partial<Extract<UnitCommand, { type: "CreateUnit" }>> = {}): UnitCommand => ({
  type: "CreateUnit",
  unitId,
  serial: "RZK-0001",
  profileName: "rz",
  profile: rz,
  at,
  ...over,
});
const mandantAdded = (i: number): UnitEvent => ({
  type: "MandantAdded",
  data: { unitId, mandantId: `m${i}`, name: `Praxis ${i}`, bsnr: "", smcbIccsn: "", at },
});
const reserved = (ctId: string, computeUnit: number): UnitEvent => ({ type: "KtSlotReserved", data: { unitId, ctId, computeUnit, at } });
const reserve = (ctId: string): UnitCommand => ({ type: "ReserveKtSlot", ctId, at });
const licence = (kt: number, serial = "RZK-0001", key = vendor.privateKey) =>
  issueLicence(key, { serial, ktPerComputeUnit: kt, features: ["PTV5", "LZV"], licenceId: "lic-1", issuedAt: new Date(at) });
const importCmd = (file: ReturnType<typeof licence>): UnitCommand => ({ type: "ImportLicence", file, vendorKeys: [vendor.publicKey], at });
const fill = (perCu: number, cus = 2) => Array.from({ length: perCu * cus }, (_, i) => reserved(`kt${i}`, (i % cus) + 1));

describe("Unit decider: creation", () => {
  it("creates a unit with the profile's figures, firmware and today as production date", () => {
    spec(unitDecider).given([]).when(create()).then([created()]);
  });
  it("takes a past production date and an explicit firmware", () => {
    spec(unitDecider)
      .given([])
      .when(create({ producedOn: "2020-03-01", firmware: "4.10.1" }))
      .then([created(rz, { producedOn: "2020-03-01", firmware: "4.10.1" })]);
  });
  it("a new profile is data: an einbox unit gets 1 compute unit", () => {
    spec(unitDecider)
      .given([])
      .when(create({ profileName: "einbox", profile: einbox }))
      .then([created(einbox)]);
  });
  it("refuses an unknown profile, naming the field", () => {
    spec(unitDecider)
      .given([])
      .when(create({ profileName: "tower", profile: undefined }))
      .thenThrows("UNKNOWN_PROFILE", { field: "profile", value: "tower" });
  });
  it("refuses a serial, firmware or production date of the wrong form", () => {
    spec(unitDecider)
      .given([])
      .when(create({ serial: "rz 1" }))
      .thenThrows("INVALID_SERIAL", { field: "serial" });
    spec(unitDecider)
      .given([])
      .when(create({ firmware: "5.50" }))
      .thenThrows("INVALID_FIRMWARE_VERSION", { field: "firmware" });
    spec(unitDecider)
      .given([])
      .when(create({ producedOn: "2021-02-30" }))
      .thenThrows("INVALID_PRODUCTION_DATE", { field: "producedOn" });
    spec(unitDecider)
      .given([])
      .when(create({ producedOn: "2027-01-01" }))
      .thenThrows("INVALID_PRODUCTION_DATE", { field: "producedOn" });
  });
  it("refuses creating a unit that exists", () => {
    spec(unitDecider).given([created()]).when(create()).thenThrows("SERIAL_EXISTS", { field: "serial" });
  });
});

describe("Unit decider: lifecycle", () => {
  const change = (action: string): UnitCommand => ({ type: "ChangeUnitState", action: action as "activate", reason: "theft", at });
  it("activates a provisioned unit, blocks (Sperrung) and unblocks it, decommissions it", () => {
    spec(unitDecider)
      .given([created()])
      .when(change("activate"))
      .then([{ type: "UnitActivated", data: { unitId, at } }]);
    spec(unitDecider)
      .given([created()])
      .when(change("block"))
      .then([{ type: "UnitBlocked", data: { unitId, reason: "theft", at } }]);
    spec(unitDecider)
      .given([created(), { type: "UnitBlocked", data: { unitId, reason: "", at } }])
      .when(change("unblock"))
      .then([{ type: "UnitUnblocked", data: { unitId, at } }]);
    spec(unitDecider)
      .given([created()])
      .when(change("decommission"))
      .then([{ type: "UnitDecommissioned", data: { unitId, reason: "theft", at } }]);
  });
  it("repeating a transition changes nothing; an impossible one is refused", () => {
    spec(unitDecider)
      .given([created(), { type: "UnitActivated", data: { unitId, at } }])
      .when(change("activate"))
      .then([]);
    spec(unitDecider)
      .given([created(), { type: "UnitDecommissioned", data: { unitId, reason: "", at } }])
      .when(change("activate"))
      .thenThrows("INVALID_STATE_TRANSITION", { from: "decommissioned" });
    spec(unitDecider).given([created()]).when(change("explode")).thenThrows("INVALID_ACTION", { field: "action" });
  });
  it("refuses commands on a unit that does not exist", () => {
    spec(unitDecider).given([]).when(change("activate")).thenThrows("UNIT_NOT_FOUND");
  });
});

describe("Unit decider: Mandanten", () => {
  const add = (over: Partial<Extract<UnitCommand, { type: "AddMandant" }>> = {}): UnitCommand => ({
    type: "AddMandant",
    mandantId: "praxis-1",
    name: "Praxis Dr. Ort",
    bsnr: "123456789",
    smcbIccsn: "80276883110000012345",
    at,
    ...over,
  });
  it("adds a Mandant with BSNR and SMC-B ICCSN", () => {
    spec(unitDecider)
      .given([created()])
      .when(add())
      .then([
        { type: "MandantAdded", data: { unitId, mandantId: "praxis-1", name: "Praxis Dr. Ort", bsnr: "123456789", smcbIccsn: "80276883110000012345", at } },
      ]);
  });
  it("refuses the 11th Mandant on a unit with a limit of 10, naming unit and limit", () => {
    const ten = Array.from({ length: 10 }, (_, i) => mandantAdded(i));
    spec(unitDecider)
      .given([created(), ...ten])
      .when(add({ mandantId: "m10" }))
      .thenThrows("MANDANT_LIMIT_REACHED", { unitId, serial: "RZK-0001", limit: "10" });
  });
  it("refuses a BSNR that is not 9 digits, an ICCSN that is not 20 digits, a bad id, an empty name, a duplicate id", () => {
    spec(unitDecider)
      .given([created()])
      .when(add({ bsnr: "12345678" }))
      .thenThrows("INVALID_BSNR", { field: "bsnr" });
    spec(unitDecider)
      .given([created()])
      .when(add({ smcbIccsn: "8027688311000001234" }))
      .thenThrows("INVALID_ICCSN", { field: "iccsn" });
    spec(unitDecider)
      .given([created()])
      .when(add({ mandantId: "praxis 1" }))
      .thenThrows("INVALID_MANDANT_ID", { field: "mandantId" });
    spec(unitDecider)
      .given([created()])
      .when(add({ name: "  " }))
      .thenThrows("INVALID_MANDANT_NAME", { field: "name" });
    spec(unitDecider)
      .given([created(), mandantAdded(1)])
      .when(add({ mandantId: "m1" }))
      .thenThrows("MANDANT_EXISTS", { field: "mandantId" });
  });
  it("refuses Mandanten on a blocked or decommissioned unit", () => {
    spec(unitDecider)
      .given([created(), { type: "UnitBlocked", data: { unitId, reason: "", at } }])
      .when(add())
      .thenThrows("UNIT_BLOCKED");
    spec(unitDecider)
      .given([created(), { type: "UnitDecommissioned", data: { unitId, reason: "", at } }])
      .when(add())
      .thenThrows("UNIT_DECOMMISSIONED");
  });
});

describe("Unit decider: KT slots", () => {
  it("places a terminal on the compute unit with the most free capacity", () => {
    spec(unitDecider)
      .given([created()])
      .when(reserve("kt-a"))
      .then([reserved("kt-a", 1)]);
    spec(unitDecider)
      .given([created(), reserved("kt-a", 1)])
      .when(reserve("kt-b"))
      .then([reserved("kt-b", 2)]);
    spec(unitDecider)
      .given([created(), reserved("a", 1), reserved("b", 2), reserved("c", 2)])
      .when(reserve("d"))
      .then([reserved("d", 1)]);
  });
  it("reserving again for the same terminal changes nothing", () => {
    spec(unitDecider)
      .given([created(), reserved("kt-a", 1)])
      .when(reserve("kt-a"))
      .then([]);
  });
  it("refuses the 101st terminal of an rz unit with KT_LIMIT_REACHED naming unit, compute units and limit", () => {
    spec(unitDecider)
      .given([created(), ...fill(50)])
      .when(reserve("kt-101"))
      .thenThrows("KT_LIMIT_REACHED", { unitId, computeUnit: "1,2", limit: "50", total: "100" });
  });
  it("an einbox unit holds 50", () => {
    spec(unitDecider)
      .given([created(einbox), ...fill(50, 1)])
      .when(reserve("kt-51"))
      .thenThrows("KT_LIMIT_REACHED", { computeUnit: "1", limit: "50" });
  });
  it("a released slot can be taken again; releasing a free slot changes nothing", () => {
    const released: UnitEvent = { type: "KtSlotReleased", data: { unitId, ctId: "kt0", computeUnit: 1, at } };
    spec(unitDecider)
      .given([created(), ...fill(50)])
      .when({ type: "ReleaseKtSlot", ctId: "kt0", at })
      .then([released]);
    spec(unitDecider)
      .given([created(), ...fill(50), released])
      .when(reserve("new"))
      .then([reserved("new", 1)]);
    spec(unitDecider).given([created()]).when({ type: "ReleaseKtSlot", ctId: "nope", at }).then([]);
  });
  it("refuses a ctId of the wrong form", () => {
    spec(unitDecider).given([created()]).when(reserve("")).thenThrows("INVALID_CT_ID", { field: "ctId" });
  });
});

describe("Unit decider: licences", () => {
  const imported = (kt: number): UnitEvent => ({
    type: "LicenceImported",
    data: { unitId, licenceId: "lic-1", ktPerComputeUnit: kt, features: ["LZV", "PTV5"], issuedAt: at, keyId: licence(kt).signature.keyId, at },
  });
  it("imports a licence signed by the vendor for this serial", () => {
    spec(unitDecider)
      .given([created()])
      .when(importCmd(licence(75)))
      .then([imported(75)]);
  });
  it("a raised capacity takes effect at once: with 75 per compute unit the 75th terminal of a compute unit gets in, the 76th not", () => {
    const einboxCreated = created(einbox);
    spec(unitDecider)
      .given([einboxCreated, ...fill(50, 1)])
      .when(reserve("kt-51"))
      .thenThrows("KT_LIMIT_REACHED", { limit: "50" });
    spec(unitDecider)
      .given([einboxCreated, imported(75), ...fill(50, 1)])
      .when(reserve("kt-51"))
      .then([reserved("kt-51", 1)]);
    spec(unitDecider)
      .given([einboxCreated, imported(75), ...fill(74, 1)])
      .when(reserve("kt-75"))
      .then([reserved("kt-75", 1)]);
    spec(unitDecider)
      .given([einboxCreated, imported(75), ...fill(75, 1)])
      .when(reserve("kt-76"))
      .thenThrows("KT_LIMIT_REACHED", { computeUnit: "1", limit: "75" });
  });
  it("refuses a tampered licence with LICENCE_INVALID", () => {
    const file = licence(75);
    file.licence.ktPerComputeUnit = 500;
    spec(unitDecider).given([created()]).when(importCmd(file)).thenThrows("LICENCE_INVALID", { field: "licence" });
  });
  it("refuses a licence of an unknown vendor key with LICENCE_INVALID", () => {
    spec(unitDecider)
      .given([created()])
      .when(importCmd(licence(75, "RZK-0001", otherVendor.privateKey)))
      .thenThrows("LICENCE_INVALID");
  });
  it("refuses another unit's licence with LICENCE_SERIAL_MISMATCH", () => {
    spec(unitDecider)
      .given([created()])
      .when(importCmd(licence(75, "RZK-0002")))
      .thenThrows("LICENCE_SERIAL_MISMATCH", { licenceSerial: "RZK-0002", unitSerial: "RZK-0001" });
  });
  it("refuses a licence below the terminals already placed", () => {
    spec(unitDecider)
      .given([created(), ...fill(40)])
      .when(importCmd(licence(30)))
      .thenThrows("LICENCE_BELOW_USAGE", { limit: "30", used: "40" });
  });
  describe("no rollback: a licence replaces the current one only if issued after it (LICENCE_OUTDATED)", () => {
    const issued = (licenceId: string, issuedAt: string, kt = 75) =>
      issueLicence(vendor.privateKey, { serial: "RZK-0001", ktPerComputeUnit: kt, licenceId, issuedAt: new Date(issuedAt) });
    const importedFile = (f: ReturnType<typeof issued>): UnitEvent => ({
      type: "LicenceImported",
      data: {
        unitId,
        licenceId: f.licence.licenceId,
        ktPerComputeUnit: f.licence.ktPerComputeUnit,
        features: [],
        issuedAt: f.licence.issuedAt,
        keyId: f.signature.keyId,
        at,
      },
    });
    const january = issued("lic-jan", "2026-01-01T00:00:00.000Z", 60);
    const march = issued("lic-mar", "2026-03-01T00:00:00.000Z", 80);
    const june = issued("lic-jun", "2026-06-01T00:00:00.000Z", 70);

    it("refuses an older licence than the current one, naming both issue times", () => {
      spec(unitDecider)
        .given([created(), importedFile(march)])
        .when(importCmd(january))
        .thenThrows("LICENCE_OUTDATED", {
          field: "licence",
          licenceId: "lic-jan",
          issuedAt: "2026-01-01T00:00:00.000Z",
          currentLicenceId: "lic-mar",
          currentIssuedAt: "2026-03-01T00:00:00.000Z",
        });
    });
    it("refuses re-importing a licence that a newer one replaced", () => {
      spec(unitDecider)
        .given([created(), importedFile(march), importedFile(june)])
        .when(importCmd(march))
        .thenThrows("LICENCE_OUTDATED", { currentLicenceId: "lic-jun" });
    });
    it("refuses another licence issued at the same time as the current one", () => {
      spec(unitDecider)
        .given([created(), importedFile(march)])
        .when(importCmd(issued("lic-mar-2", "2026-03-01T00:00:00.000Z", 90)))
        .thenThrows("LICENCE_OUTDATED");
    });
    it("takes a newer licence, even one granting less", () => {
      spec(unitDecider)
        .given([created(), importedFile(march)])
        .when(importCmd(june))
        .then([importedFile(june)]);
    });
    it("re-importing the current licence changes nothing", () => {
      spec(unitDecider)
        .given([created(), importedFile(march)])
        .when(importCmd(march))
        .then([]);
    });
    it("the first licence file may be older than the unit: the profile's base licence is no file", () => {
      spec(unitDecider)
        .given([created()])
        .when(importCmd(january))
        .then([importedFile(january)]);
    });
  });
  it("ECDSA vendor keys work too", () => {
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const file = issueLicence(ec.privateKey, { serial: "RZK-0001", ktPerComputeUnit: 60, licenceId: "lic-ec", issuedAt: new Date(at) });
    spec(unitDecider)
      .given([created()])
      .when({ type: "ImportLicence", file, vendorKeys: [vendor.publicKey, ec.publicKey], at })
      .then([
        { type: "LicenceImported", data: { unitId, licenceId: "lic-ec", ktPerComputeUnit: 60, features: [], issuedAt: at, keyId: file.signature.keyId, at } },
      ]);
  });
});
