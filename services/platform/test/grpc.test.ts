import assert from "node:assert/strict";
import { status, type ServiceError } from "@grpc/grpc-js";
import { after, before, describe, it } from "node:test";
import {
  call,
  checkHealth,
  CommandHandler,
  createClient,
  DomainError,
  embeddedSql,
  SqlEventStore,
  startGrpcServer,
  unary,
  VersionConflictError,
  type RunningGrpcServer,
} from "../src/index.js";
import { CounterServiceClient, CounterServiceService } from "@tigw/contracts/example/v1/counter";
import { counterDecider } from "./support/counter.js";

describe("gRPC helpers (example CounterService over a real socket)", () => {
  let server: RunningGrpcServer;
  let client: CounterServiceClient;
  let store: SqlEventStore;
  before(async () => {
    store = await SqlEventStore.open(await embeddedSql(), "example");
    const handler = new CommandHandler(store, counterDecider);
    server = await startGrpcServer([
      {
        name: "tigw.example.v1.CounterService",
        definition: CounterServiceService,
        implementation: {
          increment: unary(async (req: { counterId: string; amount: number }) => {
            const r = await handler.handle(req.counterId, { type: "Increment", amount: req.amount, limit: 10 });
            return { value: String(r.state.value), version: String(r.nextExpectedVersion) };
          }),
          getCounter: unary(async (req: { counterId: string }) => {
            if (req.counterId === "boom") throw new Error("secret connection string postgres://u:pw@host");
            if (req.counterId === "raced") throw new VersionConflictError("raced", 1, 2);
            if (req.counterId === "downstream") {
              // A service this one depends on is down: nothing listens on port 1.
              const down = createClient(CounterServiceClient, "127.0.0.1:1", { deadlineMs: 2_000 });
              try {
                await call(down.getCounter.bind(down), { counterId: "x" });
              } finally {
                down.close();
              }
            }
            const { state, version } = await handler.load(req.counterId);
            return { value: String(state.value), version: String(version) };
          }),
          sleep: unary(async (req: { delayMs: number }) => {
            await new Promise((r) => setTimeout(r, req.delayMs));
            return {};
          }),
        },
      },
    ]);
    client = createClient(CounterServiceClient, `127.0.0.1:${server.port}`, { deadlineMs: 300 });
  });
  after(async () => {
    client.close();
    await server.shutdown();
    await store.sql.close();
  });

  it("serves grpc.health.v1 for the server and each service; an unknown service is NOT_FOUND", async () => {
    const address = `127.0.0.1:${server.port}`;
    assert.equal(await checkHealth(address), "SERVING");
    assert.equal(await checkHealth(address, "tigw.example.v1.CounterService"), "SERVING");
    await assert.rejects(checkHealth(address, "tigw.nope.v1.Nope"), (e: ServiceError) => e.code === status.NOT_FOUND);
  });

  it("answers a command and a query", async () => {
    const r = await call(client.increment.bind(client), { counterId: "c1", amount: 3 });
    assert.deepEqual(r, { value: "3", version: "1" });
    assert.deepEqual(await call(client.getCounter.bind(client), { counterId: "c1" }), { value: "3", version: "1" });
  });

  it("maps a domain refusal to a gRPC status with the stable code and details, back to a DomainError", async () => {
    await call(client.increment.bind(client), { counterId: "c2", amount: 9 });
    await assert.rejects(call(client.increment.bind(client), { counterId: "c2", amount: 5 }), (e: unknown) => {
      assert.ok(e instanceof DomainError);
      assert.equal(e.code, "COUNTER_LIMIT_REACHED");
      assert.equal(e.details["limit"], "10");
      return true;
    });
    await assert.rejects(call(client.increment.bind(client), { counterId: "c2", amount: 0 }), (e: DomainError) => e.code === "INVALID_AMOUNT");
    await assert.rejects(
      call(client.getCounter.bind(client), { counterId: "raced" }),
      (e: unknown) => e instanceof VersionConflictError && e.actualVersion === 2,
    );
  });

  it("uses INVALID_ARGUMENT, FAILED_PRECONDITION and ABORTED as statuses", async () => {
    const raw = (method: "increment" | "getCounter", req: object) =>
      new Promise<ServiceError>((resolve) =>
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        (client[method] as any).call(client, req, (err: ServiceError) => resolve(err)),
      );
    assert.equal((await raw("increment", { counterId: "c3", amount: 0 })).code, status.INVALID_ARGUMENT);
    await call(client.increment.bind(client), { counterId: "c4", amount: 9 });
    assert.equal((await raw("increment", { counterId: "c4", amount: 5 })).code, status.FAILED_PRECONDITION);
    assert.equal((await raw("getCounter", { counterId: "raced" })).code, status.ABORTED);
  });

  it("hides an unexpected error's message behind INTERNAL", async () => {
    await assert.rejects(call(client.getCounter.bind(client), { counterId: "boom" }), (e: ServiceError) => {
      assert.equal(e.code, status.INTERNAL);
      assert.ok(!e.message.includes("pw@"), "no internals leak");
      return true;
    });
  });

  it("answers UNAVAILABLE when a service it calls cannot be reached, without naming its address", async () => {
    await assert.rejects(call(client.getCounter.bind(client), { counterId: "downstream" }, { deadline: Date.now() + 5_000 }), (e: ServiceError) => {
      assert.equal(e.code, status.UNAVAILABLE);
      assert.match(e.details, /depends on is unavailable/);
      assert.ok(!e.message.includes("127.0.0.1"), "no internals leak");
      return true;
    });
  });

  it("gives every call a deadline: a slow server answers DEADLINE_EXCEEDED instead of hanging", async () => {
    const t0 = Date.now();
    await assert.rejects(call(client.sleep.bind(client), { delayMs: 3_000 }), (e: ServiceError) => e.code === status.DEADLINE_EXCEEDED);
    assert.ok(Date.now() - t0 < 2_500);
    await call(client.sleep.bind(client), { delayMs: 1 });
  });
});
