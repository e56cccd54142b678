import { meter } from "@tigw/platform";
import { slotsUsed } from "../domain/unit.js";
import type { Tenancy } from "./tenancy.js";

/**
 * Fleet gauges, read from the fleet read model at every scrape: units by state and profile, KT
 * slots used and licensed per unit and compute unit, Mandanten per unit. Returns unregister.
 */
export function registerFleetMetrics(t: Tenancy): () => void {
  const m = meter("tenancy");
  const units = m.createObservableGauge("tigw_units", { description: "Konnektor units by state and profile" });
  const ktUsed = m.createObservableGauge("tigw_kt_slots_used", { description: "KT slots in use per unit and compute unit" });
  const ktLimit = m.createObservableGauge("tigw_kt_slots_limit", { description: "Licensed KT slots per unit and compute unit" });
  const mandanten = m.createObservableGauge("tigw_mandanten", { description: "Mandanten (BTRS) per unit" });
  const mandantenLimit = m.createObservableGauge("tigw_mandanten_limit", { description: "Mandanten a unit may host" });
  const callback = async (r: Parameters<Parameters<typeof m.addBatchObservableCallback>[0]>[0]) => {
    const fleet = await t.listUnits();
    const byState = new Map<string, number>();
    for (const u of fleet) {
      const key = `${u.lifecycle}\u0000${u.profile}`;
      byState.set(key, (byState.get(key) ?? 0) + 1);
      slotsUsed(u).forEach((used, i) => {
        const attrs = { unit: u.serial, compute_unit: String(i + 1) };
        r.observe(ktUsed, used, attrs);
        r.observe(ktLimit, u.licence.ktPerComputeUnit, attrs);
      });
      r.observe(mandanten, Object.keys(u.mandanten).length, { unit: u.serial });
      r.observe(mandantenLimit, u.maxMandanten, { unit: u.serial });
    }
    for (const [key, n] of byState) {
      const [state, profile] = key.split("\u0000");
      r.observe(units, n, { state, profile });
    }
  };
  const observables = [units, ktUsed, ktLimit, mandanten, mandantenLimit];
  m.addBatchObservableCallback(callback, observables);
  return () => m.removeBatchObservableCallback(callback, observables);
}
