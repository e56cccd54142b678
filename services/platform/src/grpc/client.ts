import {
  credentials,
  InterceptingCall,
  makeGenericClientConstructor,
  Metadata,
  type CallOptions,
  type Client,
  type ChannelCredentials,
  type Interceptor,
  type ServiceError,
} from "@grpc/grpc-js";
import { service as healthService } from "grpc-health-check";
import { fromGrpcError } from "./errors.js";

/** Gives every call without its own deadline one `ms` from now: no call waits forever. */
export function deadlineInterceptor(ms: number): Interceptor {
  return (options, nextCall) => new InterceptingCall(nextCall({ ...options, deadline: options.deadline ?? Date.now() + ms }));
}

type ClientCtor<C> = new (address: string, creds: ChannelCredentials, options?: object) => C;

/**
 * A client of a generated (ts-proto grpc-js) service with a default deadline on every call. A
 * restarted service is reconnected to within seconds: grpc-js would otherwise back off up to
 * 120 s, and callers sharing its channel (one per address) would fail fast all that time.
 */
export function createClient<C extends Client>(Ctor: ClientCtor<C>, address: string, opts: { deadlineMs?: number } = {}): C {
  return new Ctor(address, credentials.createInsecure(), {
    interceptors: [deadlineInterceptor(opts.deadlineMs ?? 5_000)],
    "grpc.initial_reconnect_backoff_ms": 250,
    "grpc.max_reconnect_backoff_ms": 5_000,
  });
}

type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (err: ServiceError | null, res?: Res) => void,
) => unknown;

/** Calls a unary method and returns a promise; a domain refusal comes back as DomainError. */
export function call<Req, Res>(method: UnaryMethod<Req, Res>, request: Req, options: Partial<CallOptions> = {}): Promise<Res> {
  return new Promise((resolve, reject) => method(request, new Metadata(), options, (err, res) => (err ? reject(fromGrpcError(err)) : resolve(res as Res))));
}

/**
 * A unary call by method name, for tools and tests that drive many methods of a ts-proto client
 * (the request must still name every field: ts-proto encodes a missing string badly).
 */
export function callByName<Res>(client: object, method: string, request: object): Promise<Res> {
  const fn = (client as Record<string, UnaryMethod<object, Res> | undefined>)[method];
  if (typeof fn !== "function") throw new TypeError(`no gRPC method ${method} on this client`);
  return call<object, Res>(fn.bind(client), request);
}

const HealthClient = makeGenericClientConstructor(healthService, "Health");

/** Asks a server's grpc.health.v1 for the status of `service` ("" = the whole server). */
export function checkHealth(address: string, service = "", deadlineMs = 2_000): Promise<string> {
  const client = new HealthClient(address, credentials.createInsecure()) as unknown as Client & {
    check: UnaryMethod<{ service: string }, { status: string }>;
  };
  return call(client.check.bind(client), { service }, { deadline: Date.now() + deadlineMs })
    .then((r) => r.status)
    .finally(() => client.close());
}
