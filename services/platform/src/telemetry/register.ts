/**
 * Preload for services: `node --require @tigw/platform/telemetry/register main.js`
 * starts telemetry before anything loads @grpc/grpc-js, pg or kafkajs. Reads
 * TIGW_SERVICE_NAME and TIGW_METRICS_PORT (the Prometheus /metrics port).
 */
import { exitOnConfigError, int, loadConfig, str } from "../config.js";
import { meter } from "./metrics.js";
import { startTelemetry } from "./sdk.js";

const cfg = exitOnConfigError(() =>
  loadConfig({ TIGW_SERVICE_NAME: str({ default: "ti-gateway" }), TIGW_METRICS_PORT: int({ default: 9464, min: 0, max: 65535 }) }),
);
void startTelemetry({ serviceName: cfg.TIGW_SERVICE_NAME, metricsPort: cfg.TIGW_METRICS_PORT }).then(() =>
  // Resident memory of the process, so capacity runs (npm run loadtest) can report it.
  meter("process")
    .createObservableGauge("tigw_process_resident_memory_bytes", { description: "Resident set size of the process", unit: "By" })
    .addCallback((r) => r.observe(process.memoryUsage().rss)),
);

