import { meter } from "@tigw/platform";
import type { VpnBoxes } from "./boxes.js";
import type { ZugangsmodulEndpoint } from "../zugangsmodul/endpoint.js";

/**
 * The Zugangsmodul's box metrics, read at each scrape: boxes connected now (the alert on many
 * dropping at once watches it), boxes by state, sessions opened and refused by reason, and tunnel
 * requests per practice account since start.
 */
export function registerBoxMetrics(boxes: VpnBoxes, endpoint: ZugangsmodulEndpoint): () => void {
  const m = meter("vpn");
  const connected = m.createObservableGauge("tigw_zm_boxes_connected", { description: "VPN boxes with a live session at the Zugangsmodul" });
  const byState = m.createObservableGauge("tigw_zm_boxes", { description: "VPN boxes by state (awaiting-enrolment, enrolled, removed)" });
  const opened = m.createObservableCounter("tigw_zm_sessions_opened_total", { description: "Box sessions admitted since start" });
  const refused = m.createObservableCounter("tigw_zm_sessions_refused_total", {
    description: "Box sessions refused or ended by the Zugangsmodul's checks, by reason, since start",
  });
  const requests = m.createObservableCounter("tigw_zm_tunnel_requests_total", { description: "Requests through box sessions by practice account since start" });
  const observables = [connected, byState, opened, refused, requests];
  const callback = async (r: Parameters<Parameters<typeof m.addBatchObservableCallback>[0]>[0]) => {
    r.observe(connected, endpoint.connectedCount());
    r.observe(opened, endpoint.sessionsOpened);
    for (const [reason, n] of endpoint.refused) r.observe(refused, n, { reason });
    for (const [account, n] of endpoint.requests) r.observe(requests, n, { account });
    const counts = new Map<string, number>([
      ["awaiting-enrolment", 0],
      ["enrolled", 0],
      ["removed", 0],
    ]);
    for (const b of await boxes.list()) counts.set(b.state, (counts.get(b.state) ?? 0) + 1);
    for (const [state, n] of counts) r.observe(byState, n, { state });
  };
  m.addBatchObservableCallback(callback, observables);
  return () => m.removeBatchObservableCallback(callback, observables);
}
