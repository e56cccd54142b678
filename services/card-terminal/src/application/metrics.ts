import { meter } from "@tigw/platform";
import type { CardTerminalObserver, CardTerminals } from "./card-terminals.js";

/**
 * Terminals by correlation state per unit and by connection (gauges from the read model),
 * pairing and connect latency (histograms, ms), refused connects by reason (counter).
 */
export function cardTerminalMetrics(): { observer: CardTerminalObserver; register(c: CardTerminals): () => void } {
  const m = meter("card-terminal");
  const pairing = m.createHistogram("tigw_kt_pairing_duration_ms", { description: "Time to assign and pair a terminal", unit: "ms" });
  const connect = m.createHistogram("tigw_kt_connect_duration_ms", { description: "Time to check a terminal's connect proof", unit: "ms" });
  const refused = m.createCounter("tigw_kt_connects_refused_total", { description: "Refused terminal connects by reason" });
  return {
    observer: { paired: (ms) => pairing.record(ms), connected: (ms) => connect.record(ms), refused: (reason) => refused.add(1, { reason }) },
    register(c) {
      const byState = m.createObservableGauge("tigw_kt_terminals", { description: "Terminals by unit, Mandant, correlation state and connection" });
      const cb = async (r: Parameters<Parameters<typeof m.addBatchObservableCallback>[0]>[0]) => {
        const terminals = await c.list();
        // Mandant of each terminal, from the Infomodell of its unit ("" when not assigned to one).
        const mandantOf = new Map<string, string>();
        for (const unitId of new Set(terminals.map((t) => t.unitId).filter(Boolean))) {
          for (const [mandantId, m] of Object.entries((await c.infomodell(unitId)).mandanten)) for (const ctId of m.terminals) mandantOf.set(ctId, mandantId);
        }
        const counts = new Map<string, number>();
        for (const t of terminals) {
          const key = JSON.stringify([t.unitId, mandantOf.get(t.ctId) ?? "", t.correlation, t.connected ? "connected" : "disconnected"]);
          counts.set(key, (counts.get(key) ?? 0) + 1);
        }
        for (const [key, n] of counts) {
          const [unit, mandant, state, connection] = JSON.parse(key) as string[];
          r.observe(byState, n, { unit, mandant, state, connection });
        }
      };
      m.addBatchObservableCallback(cb, [byState]);
      return () => m.removeBatchObservableCallback(cb, [byState]);
    },
  };
}
