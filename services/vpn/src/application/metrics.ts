import { meter } from "@tigw/platform";
import type { Vpn } from "./vpn.js";
import type { VpnZugdSimulator } from "../vpnzugd/simulator.js";

/**
 * VPN metrics, read at each scrape: calls to the VPN-ZugD by operation and result code, TI
 * access per unit (1/0, for the alert on a unit that loses it) and units with and without it,
 * tunnel state per unit, and the simulator's answers by code.
 */
export function registerVpnMetrics(v: Vpn, zugd: VpnZugdSimulator): () => void {
  const m = meter("vpn");
  const calls = m.createObservableCounter("tigw_vpn_registrations_total", {
    description: "Calls of the units to the VPN-ZugD by operation and result (OK or the gematik code) since start",
  });
  const access = m.createObservableGauge("tigw_vpn_ti_access", {
    description: "1 when the unit has TI access (registered, gSMC-K valid, not blocked, no critical update past its deadline), else 0",
  });
  const units = m.createObservableGauge("tigw_vpn_units", { description: "Units with a VPN-ZugD record by TI access (with / without)" });
  const tunnels = m.createObservableGauge("tigw_vpn_tunnel_up", { description: "1 when the unit's tunnel (ti, sis) is up" });
  const answers = m.createObservableCounter("tigw_vpnzugd_sim_answers_total", {
    description: "Answers of the simulated VPN-ZugD by code (OK or the gematik code)",
  });
  const observables = [calls, access, units, tunnels, answers];
  const callback = async (r: Parameters<Parameters<typeof m.addBatchObservableCallback>[0]>[0]) => {
    for (const [key, n] of v.outcomes) {
      const [operation, result] = key.split("\u0000");
      r.observe(calls, n, { operation, result });
    }
    for (const [code, n] of zugd.answers) r.observe(answers, n, { code });
    let withAccess = 0;
    let without = 0;
    for (const reg of await v.list()) {
      const ti = reg.verdict.tiAccess;
      if (ti) withAccess++;
      else without++;
      r.observe(access, ti ? 1 : 0, { unit: reg.serial });
      r.observe(tunnels, reg.tiTunnel.state === "up" ? 1 : 0, { unit: reg.serial, tunnel: "ti" });
      r.observe(tunnels, reg.sisTunnel.state === "up" ? 1 : 0, { unit: reg.serial, tunnel: "sis" });
    }
    r.observe(units, withAccess, { ti_access: "with" });
    r.observe(units, without, { ti_access: "without" });
  };
  m.addBatchObservableCallback(callback, observables);
  return () => m.removeBatchObservableCallback(callback, observables);
}
