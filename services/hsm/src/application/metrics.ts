import { meter } from "@tigw/platform";
import { daysLeft } from "../domain/security-module.js";
import type { Hsm } from "./hsm.js";

/** Days to expiry per unit and identity (gauge) and LZV attempts by outcome, read at each scrape. */
export function registerHsmMetrics(h: Hsm): () => void {
  const m = meter("hsm");
  const days = m.createObservableGauge("tigw_cert_days_to_expiry", {
    description: "Days until a gSMC-K identity certificate expires (negative: expired)",
    unit: "d",
  });
  const lzv = m.createObservableCounter("tigw_lzv_attempts_total", { description: "LZV attempts by outcome (SUCCESS or the refusal code) since start" });
  const callback = async (r: Parameters<Parameters<typeof m.addBatchObservableCallback>[0]>[0]) => {
    const now = h.clock.now().toISOString();
    for (const sm of await h.projection.list(h.pki.store.sql)) {
      for (const id of Object.values(sm.identities)) if (!id.revoked) r.observe(days, daysLeft(id.notAfter, now), { unit: sm.serial, identity: id.name });
    }
    for (const [outcome, n] of h.lzvOutcomes) r.observe(lzv, n, { outcome });
  };
  m.addBatchObservableCallback(callback, [days, lzv]);
  return () => m.removeBatchObservableCallback(callback, [days, lzv]);
}
