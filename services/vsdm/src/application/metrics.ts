import { meter } from "@tigw/platform";
import type { ProtocolEntry } from "./vsdm.js";

/** ReadVSD by outcome and code (counter), and the latency of each step (histogram, ms). */
export function vsdmMetrics(): (entry: ProtocolEntry) => void {
  const m = meter("vsdm");
  const reads = m.createCounter("tigw_vsdm_reads_total", { description: "ReadVSD calls by outcome, code and Prüfungsnachweis result" });
  const steps = m.createHistogram("tigw_vsdm_step_duration_ms", { description: "Duration of each ReadVSD step", unit: "ms" });
  return (e) => {
    reads.add(1, { outcome: e.outcome, code: e.code || "none", result: String(e.result) });
    for (const s of e.steps) steps.record(s.ms, { step: s.name });
  };
}
