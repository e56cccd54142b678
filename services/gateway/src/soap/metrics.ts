import { meter } from "@tigw/platform";

/**
 * SOAP calls per unit, operation and gematik code ("0" when it succeeded), and their duration per
 * operation (ms). The unit label is the serial: an operator reads it on the dashboard.
 */
export function soapMetrics(): { call(unit: string, operation: string, code: number, ms: number): void } {
  const m = meter("gateway");
  const calls = m.createCounter("tigw_soap_requests_total", { description: "SOAP calls of practice software by unit, operation and gematik code (0 = OK)" });
  const duration = m.createHistogram("tigw_soap_request_duration_ms", { description: "Time to answer a SOAP call, by operation", unit: "ms" });
  return {
    call(unit, operation, code, ms) {
      calls.add(1, { unit, operation, code: String(code) });
      duration.record(ms, { operation });
    },
  };
}
