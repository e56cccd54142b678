import { createServer, type Server } from "node:http";
import { PrometheusExporter } from "@opentelemetry/exporter-prometheus";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { GrpcInstrumentation } from "@opentelemetry/instrumentation-grpc";
import { HttpInstrumentation } from "@opentelemetry/instrumentation-http";
import { PgInstrumentation } from "@opentelemetry/instrumentation-pg";
import { NodeSDK } from "@opentelemetry/sdk-node";
import { BatchSpanProcessor, type SpanProcessor } from "@opentelemetry/sdk-trace-base";
import { guardedListener, hardenHttpServer } from "../http/guard.js";

export interface TelemetryOptions {
  serviceName: string;
  /** Port of the Prometheus /metrics endpoint; 0 picks a free one; undefined = no endpoint. */
  metricsPort?: number;
  metricsHost?: string;
  /** Extra span processors (tests use an in-memory exporter). */
  spanProcessors?: SpanProcessor[];
}

export interface Telemetry {
  metricsPort?: number;
  shutdown(): Promise<void>;
}

/**
 * Starts OpenTelemetry: traces (exported over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set),
 * W3C trace context over HTTP and gRPC (instrumented) and Kafka (headers, see propagation.ts), metrics in
 * Prometheus format on /metrics. Must run before @grpc/grpc-js and pg are loaded, or their
 * instrumentation silently does nothing: start services with `node --require` of register.js.
 */
export async function startTelemetry(o: TelemetryOptions): Promise<Telemetry> {
  const processors: SpanProcessor[] = [...(o.spanProcessors ?? [])];
  if (process.env["OTEL_EXPORTER_OTLP_ENDPOINT"]) processors.push(new BatchSpanProcessor(new OTLPTraceExporter()));
  let exporter: PrometheusExporter | undefined;
  let server: Server | undefined;
  if (o.metricsPort !== undefined) {
    exporter = new PrometheusExporter({ preventServerStart: true });
    const handler = exporter.getMetricsRequestHandler.bind(exporter);
    server = hardenHttpServer(
      createServer(
        guardedListener("metrics endpoint", (req, res) => {
          req.resume();
          if (req.url?.split("?")[0] !== "/metrics") res.writeHead(404, { "content-type": "text/plain" }).end("not found; metrics are at /metrics\n");
          else if (req.method !== "GET" && req.method !== "HEAD")
            res.writeHead(405, { "content-type": "text/plain", allow: "GET, HEAD" }).end("metrics are read with GET\n");
          else handler(req, res);
        }),
      ),
    );
  }
  // Start before anything awaits: the caller goes on loading @grpc/grpc-js, pg and http while
  // this function waits for the metrics port, and modules loaded before start() stay unpatched.
  const sdk = new NodeSDK({
    serviceName: o.serviceName,
    spanProcessors: processors,
    metricReaders: exporter ? [exporter] : [],
    instrumentations: [
      new GrpcInstrumentation(),
      // Queries inside a request's trace only: the relays' and projections' polling would start a trace each.
      new PgInstrumentation({ requireParentSpan: true }),
      // The REST API's requests start the traces that cross the services; scrapes and probes do not.
      new HttpInstrumentation({ ignoreIncomingRequestHook: (req) => /^\/(metrics|api\/v1\/health)\b/.test(req.url ?? "") }),
    ],
  });
  sdk.start();
  if (server) await new Promise<void>((resolve, reject) => server!.once("error", reject).listen(o.metricsPort, o.metricsHost ?? "127.0.0.1", resolve));
  const address = server?.address();
  return {
    metricsPort: typeof address === "object" && address ? address.port : undefined,
    shutdown: async () => {
      await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
      await sdk.shutdown();
    },
  };
}
