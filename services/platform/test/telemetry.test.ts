import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { startTelemetry, type Telemetry } from "../src/telemetry/sdk.js";

// Telemetry starts before @grpc/grpc-js and pg are loaded (they are imported below, lazily),
// as services do with --require; otherwise their instrumentation would do nothing.
describe("telemetry: traces across gRPC and the bus, Prometheus metrics, JSON logs", () => {
  const spans = new InMemorySpanExporter();
  let telemetry: Telemetry;
  let P: typeof import("../src/index.js");
  let api: typeof import("@opentelemetry/api");
  before(async () => {
    telemetry = await startTelemetry({ serviceName: "tigw-test", metricsPort: 0, spanProcessors: [new SimpleSpanProcessor(spans)] });
    P = await import("../src/index.js");
    api = await import("@opentelemetry/api");
  });
  after(async () => {
    await telemetry.shutdown();
  });

  it("serves metrics in Prometheus format on /metrics", async () => {
    const counter = P.meter("test").createCounter("tigw_test_requests_total", { description: "requests seen by the test" });
    counter.add(3, { outcome: "ok" });
    const res = await fetch(`http://127.0.0.1:${telemetry.metricsPort}/metrics`);
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.match(text, /# TYPE tigw_test_requests_total counter/);
    assert.match(text, /tigw_test_requests_total\{outcome="ok"[^}]*\} 3/);
  });

  it("continues the caller's trace in a gRPC server", async () => {
    const { CounterServiceClient, CounterServiceService } = await import("@tigw/contracts/example/v1/counter");
    let serverTraceId = "";
    const server = await P.startGrpcServer([
      {
        name: "tigw.example.v1.CounterService",
        definition: CounterServiceService,
        implementation: {
          getCounter: P.unary(async () => {
            serverTraceId = api.trace.getActiveSpan()?.spanContext().traceId ?? "";
            return { value: "0", version: "0" };
          }),
          increment: P.unary(async () => ({ value: "0", version: "0" })),
          sleep: P.unary(async () => ({})),
        },
      },
    ]);
    const client = P.createClient(CounterServiceClient, `127.0.0.1:${server.port}`);
    const tracer = api.trace.getTracer("test");
    const clientTraceId = await tracer.startActiveSpan("operator-request", async (span) => {
      await P.call(client.getCounter.bind(client), { counterId: "x" });
      span.end();
      return span.spanContext().traceId;
    });
    client.close();
    await server.shutdown();
    assert.match(clientTraceId, /^[0-9a-f]{32}$/);
    assert.equal(serverTraceId, clientTraceId);
  });

  it("carries the trace from an append through the outbox to a bus consumer (traceparent header)", async () => {
    const store = await P.SqlEventStore.open(await P.embeddedSql(), "traced");
    const bus = await P.EmbeddedBus.open(await P.embeddedSql(), { pollMs: 20 });
    const tracer = api.trace.getTracer("test");
    const appendTraceId = await tracer.startActiveSpan("command", async (span) => {
      await store.append("u1", 0, [{ type: "Traced", data: {}, unitId: "u1" }]);
      span.end();
      return span.spanContext().traceId;
    });
    await new P.OutboxRelay(store, bus).drain();
    let consumerTraceId = "";
    const sub = await bus.subscribe({
      groupId: "g",
      topics: [P.topicOf("traced")],
      handler: async (m) => {
        consumerTraceId = api.trace.getSpanContext(P.extractHeaders(m.headers))?.traceId ?? "";
      },
    });
    const end = Date.now() + 10_000;
    while (!consumerTraceId && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    await sub.stop();
    await bus.close();
    await store.sql.close();
    assert.equal(consumerTraceId, appendTraceId);
  });

  it("the consumer helper continues the producer's trace in a consumer span; a dead letter counts in tigw_bus_dead_letters_total", async () => {
    const sql = await P.embeddedSql();
    const store = await P.SqlEventStore.open(sql, "traced_consumer");
    const bus = await P.EmbeddedBus.open(await P.embeddedSql(), { pollMs: 20 });
    const tracer = api.trace.getTracer("test");
    const producer = await tracer.startActiveSpan("command", async (span) => {
      await store.append("u1", 0, [
        { type: "Traced", data: { n: 1 }, unitId: "u1" },
        { type: "Traced", data: { n: 2 }, unitId: "u1" },
      ]);
      span.end();
      return span.spanContext();
    });
    await new P.OutboxRelay(store, bus).drain();
    const handled: { n: number; traceId: string }[] = [];
    const sub = await P.consume({
      bus,
      groupId: "traced-group",
      topics: [P.topicOf("traced_consumer")],
      inbox: { sql, schema: store.schema },
      maxAttempts: 2,
      retryBackoffMs: 5,
      handlers: {
        Traced: P.on({
          message: { fromJSON: (j: unknown) => j as { n: number } },
          handle: async (e) => {
            if (e.n === 2) throw new Error("cannot handle n=2");
            handled.push({ n: e.n, traceId: api.trace.getActiveSpan()?.spanContext().traceId ?? "" });
          },
        }),
      },
    });
    const end = Date.now() + 10_000;
    while ((await bus.listDeadLetters([P.topicOf("traced_consumer")])).length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    await sub.stop();
    await bus.close();
    await sql.close();
    assert.deepEqual(handled, [{ n: 1, traceId: producer.traceId }]);
    const consumeSpan = spans.getFinishedSpans().find((s) => s.name === "consume Traced" && s.status.code !== api.SpanStatusCode.ERROR);
    assert.ok(consumeSpan, "a consumer span");
    assert.equal(consumeSpan.spanContext().traceId, producer.traceId);
    assert.equal(consumeSpan.kind, api.SpanKind.CONSUMER);
    const text = await (await fetch(`http://127.0.0.1:${telemetry.metricsPort}/metrics`)).text();
    assert.match(text, /tigw_bus_dead_letters_total\{[^}]*group="traced-group"[^}]*\} 1/);
  });

  it("logs JSON lines with the trace id and without secrets", async () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _enc, cb) => (lines.push(String(chunk)), cb()) });
    const log = P.createLogger("test", { destination: sink });
    const traceId = api.trace.getTracer("test").startActiveSpan("op", (span) => {
      log.info({ user: "admin", password: "hunter2", card: { pin: "123456" } }, "login");
      span.end();
      return span.spanContext().traceId;
    });
    const entry = JSON.parse(lines[0]!);
    assert.equal(entry.msg, "login");
    assert.equal(entry.trace_id, traceId);
    assert.equal(entry.password, "[redacted]");
    assert.equal(entry.card.pin, "[redacted]");
    assert.ok(!lines[0]!.includes("hunter2") && !lines[0]!.includes("123456"));
  });
});
