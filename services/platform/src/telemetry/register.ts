/**
 * Preload for services: `node --require @tigw/platform/telemetry/register main.js`
 * starts telemetry before anything loads @grpc/grpc-js, pg or kafkajs. Reads
 * TIGW_SERVICE_NAME, TIGW_METRICS_PORT (the Prometheus /metrics port), TIGW_METRICS_HOST (its
 * address, 127.0.0.1 unless set: in a pod 0.0.0.0, so that Prometheus reaches it) and
 * OTEL_EXPORTER_OTLP_ENDPOINT (where traces go, if anywhere).
 */
import { exitOnConfigError, host, int, loadConfig, parsed, url } from "../config.js";
import { meter } from "./metrics.js";
import { startTelemetry } from "./sdk.js";

const cfg = exitOnConfigError(() =>
  loadConfig({
    TIGW_SERVICE_NAME: parsed(
      (raw) => {
        if (!/^[a-z][a-z0-9-]{0,62}$/.test(raw)) throw new Error(`expected a service name (lower-case letters, digits, "-"), got "${raw}"`);
        return raw;
      },
      { default: "ti-gateway" },
    ),
    TIGW_METRICS_PORT: int({ default: 9464, min: 0, max: 65535 }),
    TIGW_METRICS_HOST: host({ default: "127.0.0.1" }),
    OTEL_EXPORTER_OTLP_ENDPOINT: url(["http", "https"], { optional: true }),
  }),
);
void startTelemetry({ serviceName: cfg.TIGW_SERVICE_NAME, metricsPort: cfg.TIGW_METRICS_PORT, metricsHost: cfg.TIGW_METRICS_HOST }).then(() =>
  // Resident memory of the process, so capacity runs (npm run loadtest) can report it.
  meter("process")
    .createObservableGauge("tigw_process_resident_memory_bytes", { description: "Resident set size of the process", unit: "By" })
    .addCallback((r) => r.observe(process.memoryUsage().rss)),
);
