import { unary, type GrpcServiceBinding } from "@tigw/platform";
import * as pb from "@tigw/contracts/tenancy/v1/tenancy";
import type { Tenancy } from "../application/tenancy.js";
import type { UnitView } from "../application/fleet-projection.js";
import { slotsUsed, type MandantRecord } from "../domain/unit.js";

const toMandant = (m: MandantRecord): pb.Mandant => ({ mandantId: m.mandantId, name: m.name, bsnr: m.bsnr, smcbIccsn: m.smcbIccsn, addedAt: m.addedAt });

const computeUnits = (u: UnitView): pb.ComputeUnit[] => slotsUsed(u).map((used, i) => ({ index: i + 1, ktsUsed: used, ktsLimit: u.licence.ktPerComputeUnit }));

/** The proto Unit; `detail` adds the Mandanten and KT slots (GetUnit), the overview leaves them out. */
export function toUnit(u: UnitView, detail: boolean): pb.Unit {
  return {
    unitId: u.unitId,
    serial: u.serial,
    profile: u.profile,
    firmware: u.firmware,
    producedOn: u.producedOn,
    state: u.lifecycle,
    licence: { ...u.licence },
    computeUnits: computeUnits(u),
    mandantenCount: Object.keys(u.mandanten).length,
    mandantenLimit: u.maxMandanten,
    ktsRecommended: u.recommendedKts,
    mandanten: detail ? Object.values(u.mandanten).map(toMandant) : [],
    ktSlots: detail ? Object.entries(u.slots).map(([ctId, computeUnit]) => ({ ctId, computeUnit })) : [],
    createdAt: u.createdAt,
    updatedAt: u.updatedAt,
    version: String(u.version),
  };
}

/** tigw.tenancy.v1.TenancyService over the application; domain refusals map to gRPC statuses. */
export function tenancyGrpc(t: Tenancy): GrpcServiceBinding {
  const impl: pb.TenancyServiceServer = {
    createUnit: unary(async (r: pb.CreateUnitRequest) => ({ unit: toUnit(await t.createUnit(r), true) })),
    changeUnitState: unary(async (r: pb.ChangeUnitStateRequest) => ({ unit: toUnit(await t.changeState(r.unit, r.action, r.reason), true) })),
    getUnit: unary(async (r: pb.GetUnitRequest) => ({ unit: toUnit(await t.getUnit(r.unit), true) })),
    listUnits: unary(async () => ({ units: (await t.listUnits()).map((u) => toUnit(u, false)) })),
    addMandant: unary(async (r: pb.AddMandantRequest) => {
      const unit = await t.addMandant(r.unit, { mandantId: r.mandantId, name: r.name, bsnr: r.bsnr, smcbIccsn: r.smcbIccsn });
      return { mandant: toMandant(unit.mandanten[r.mandantId]!), unit: toUnit(unit, false) };
    }),
    listMandanten: unary(async (r: pb.ListMandantenRequest) => ({ mandanten: Object.values((await t.getUnit(r.unit)).mandanten).map(toMandant) })),
    reserveKtSlot: unary(async (r: pb.ReserveKtSlotRequest) => {
      const { computeUnit, unit } = await t.reserveKtSlot(r.unit, r.ctId);
      return { slot: { ctId: r.ctId, computeUnit }, computeUnits: computeUnits(unit) };
    }),
    releaseKtSlot: unary(async (r: pb.ReleaseKtSlotRequest) => {
      const { released, unit } = await t.releaseKtSlot(r.unit, r.ctId);
      return { released, computeUnits: computeUnits(unit) };
    }),
    importLicence: unary(async (r: pb.ImportLicenceRequest) => ({ unit: toUnit(await t.importLicence(r.unit, r.licenceFile), true) })),
    listProfiles: unary(async () => ({
      profiles: t.profiles.map(({ name, description, computeUnits, ktPerComputeUnit, recommendedKts, maxMandanten }) => ({
        name,
        description,
        computeUnits,
        ktPerComputeUnit,
        recommendedKts,
        maxMandanten,
      })),
    })),
  };
  return { name: "tigw.tenancy.v1.TenancyService", definition: pb.TenancyServiceService, implementation: impl };
}
