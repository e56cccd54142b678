import { meter } from "@tigw/platform";
import type { Ksr } from "./ksr.js";

/**
 * KSR metrics, read at each scrape: units by the approval of their firmware, days left until the
 * deadline of the update each unit must install (negative once passed: the alerts' input), units
 * without TI access because of a critical update past its deadline, and update steps by result.
 */
export function registerKsrMetrics(k: Ksr): () => void {
  const m = meter("ksr");
  const units = m.createObservableGauge("tigw_ksr_units", { description: "Units by the approval of their firmware (zugelassen, Zulassung widerrufen, ...)" });
  const deadline = m.createObservableGauge("tigw_ksr_update_deadline_days", {
    description: "Days until the deadline of the update the unit must install (negative: past), per unit and UpdateID",
  });
  const blocked = m.createObservableGauge("tigw_ksr_ti_blocked_units", {
    description: "Units whose TI access ends because a critical update is past its deadline",
  });
  const steps = m.createObservableCounter("tigw_ksr_update_steps_total", {
    description: "Update steps (download, verify, apply) by result (OK or 4181-4185) since start",
  });
  const observables = [units, deadline, blocked, steps];
  const callback = async (r: Parameters<Parameters<typeof m.addBatchObservableCallback>[0]>[0]) => {
    for (const [key, n] of k.outcomes) {
      const [step, result] = key.split("\u0000");
      r.observe(steps, n, { step, result });
    }
    const byApproval = new Map<string, number>();
    let lost = 0;
    const today = Date.parse(`${k.clock.now().toISOString().slice(0, 10)}T00:00:00Z`);
    for (const u of await k.list()) {
      byApproval.set(u.approval, (byApproval.get(u.approval) ?? 0) + 1);
      if (u.tiBlockers.length) lost++;
      if (u.due) {
        const days = Math.round((Date.parse(`${u.due.deadline}T00:00:00Z`) - today) / 86_400_000);
        r.observe(deadline, days, { unit: u.serial, update_id: u.due.updateId, priority: u.due.fwPriority });
      }
    }
    for (const [approval, n] of byApproval) r.observe(units, n, { approval });
    r.observe(blocked, lost);
  };
  m.addBatchObservableCallback(callback, observables);
  return () => m.removeBatchObservableCallback(callback, observables);
}
