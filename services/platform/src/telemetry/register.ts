/**
 * Preload for services: `node --require @tigw/platform/dist/src/telemetry/register.js main.js`
 * starts telemetry before anything loads @grpc/grpc-js, pg or kafkajs. Reads
 * TIGW_SERVICE_NAME, TIGW_METRICS_PORT (the Prometheus /metrics port) and TIGW_METRICS_HOST (its
 * address, 127.0.0.1 unless set: in a pod 0.0.0.0, so that Prometheus reaches it).
 */
import { exitOnConfigError, int, loadConfig, str } from "../config.js";
import { meter } from "./metrics.js";
import { startTelemetry } from "./sdk.js";

const cfg = exitOnConfigError(() =>
  loadConfig({
    TIGW_SERVICE_NAME: str({ default: "ti-gateway" }),
    TIGW_METRICS_PORT: int({ default: 9464, min: 0, max: 65535 }),
    TIGW_METRICS_HOST: str({ default: "127.0.0.1" }),
  }),
);
void startTelemetry({ serviceName: cfg.TIGW_SERVICE_NAME, metricsPort: cfg.TIGW_METRICS_PORT, metricsHost: cfg.TIGW_METRICS_HOST }).then(() =>
  // Resident memory of the process, so capacity runs (npm run loadtest) can report it.
  meter("process")
    .createObservableGauge("tigw_process_resident_memory_bytes", { description: "Resident set size of the process", unit: "By" })
    .addCallback((r) => r.observe(process.memoryUsage().rss)),
);

