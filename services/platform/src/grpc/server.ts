import {
  Server,
  ServerCredentials,
  status,
  type Metadata,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceDefinition,
  type UntypedHandleCall,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";
import { DomainError } from "../errors.js";
import { toGrpcError } from "./errors.js";

let reportInternal: (e: unknown, method: string) => void = (e, method) => console.error(`gRPC ${method}: internal error:`, e);

/** Where unexpected (non-domain) errors of handlers are reported; the caller only sees INTERNAL. */
export function onInternalGrpcError(report: (e: unknown, method: string) => void): void {
  reportInternal = report;
}

/** An async function as a grpc-js unary handler, with domain errors mapped to statuses. */
export function unary<Req, Res>(fn: (request: Req, metadata: Metadata) => Promise<Res>) {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
    new Promise<Res>((resolve) => resolve(fn(call.request, call.metadata))).then(
      (res) => callback(null, res),
      (e: unknown) => {
        if (!(e instanceof DomainError)) reportInternal(e, call.getPath());
        callback(toGrpcError(e));
      },
    );
  };
}

/** A request message the method's decoder refused, in place of the request (see rejectUndecodable). */
class Undecodable {
  constructor(readonly reason: string) {}
}

/**
 * The service with requests its decoder cannot read answered INVALID_ARGUMENT naming the problem
 * (grpc-js itself answers INTERNAL, as if the server had failed). Methods with a request stream
 * keep grpc-js's answer: none of ours has one.
 */
function rejectUndecodable(definition: ServiceDefinition, implementation: UntypedServiceImplementation): [ServiceDefinition, UntypedServiceImplementation] {
  const def: Record<string, ServiceDefinition[string]> = {};
  const impl: Record<string, UntypedHandleCall> = {};
  for (const [name, method] of Object.entries(definition)) {
    // grpc-js finds a handler by the method's name or its original (lowerCamel) name, as proto-loader's definitions need.
    const handler = implementation[name] ?? (method.originalName ? implementation[method.originalName] : undefined);
    if (method.requestStream || !handler) {
      def[name] = method;
      if (handler) impl[name] = handler;
      continue;
    }
    def[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return method.requestDeserialize(bytes);
        } catch (e) {
          return new Undecodable(`request is not a valid ${method.path} message: ${e instanceof Error ? e.message : String(e)}`);
        }
      },
    };
    const refusal = (u: Undecodable) => ({ code: status.INVALID_ARGUMENT, details: u.reason });
    impl[name] = method.responseStream
      ? (call: ServerWritableStream<unknown, unknown>) =>
          call.request instanceof Undecodable ? call.emit("error", refusal(call.request)) : (handler as (c: typeof call) => void)(call)
      : (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) =>
          call.request instanceof Undecodable ? callback(refusal(call.request)) : (handler as (c: typeof call, cb: typeof callback) => void)(call, callback);
  }
  return [def as ServiceDefinition, impl];
}

/** A grpc-js server whose services (health included) answer undecodable requests INVALID_ARGUMENT. */
class StrictServer extends Server {
  override addService(service: ServiceDefinition, implementation: UntypedServiceImplementation): void {
    super.addService(...rejectUndecodable(service, implementation));
  }
}

export interface GrpcServiceBinding {
  /** Fully qualified name, e.g. "tigw.tenancy.v1.TenancyService", reported by grpc.health.v1. */
  name: string;
  definition: ServiceDefinition;
  implementation: UntypedServiceImplementation;
}

export interface RunningGrpcServer {
  server: Server;
  port: number;
  health: HealthImplementation;
  shutdown(): Promise<void>;
}

/**
 * Starts a gRPC server with the given services and grpc.health.v1 (overall status "" and one
 * per service, SERVING once bound, NOT_SERVING while shutting down). Port 0 picks a free port.
 */
export async function startGrpcServer(services: GrpcServiceBinding[], opts: { host?: string; port?: number } = {}): Promise<RunningGrpcServer> {
  const server = new StrictServer();
  for (const s of services) server.addService(s.definition, s.implementation);
  const health = new HealthImplementation({ "": "NOT_SERVING", ...Object.fromEntries(services.map((s) => [s.name, "NOT_SERVING"])) });
  health.addToServer(server);
  const address = `${opts.host ?? "127.0.0.1"}:${opts.port ?? 0}`;
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(address, ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(new Error(`gRPC server cannot bind ${address}: ${err.message}`)) : resolve(p),
    ),
  );
  health.setStatus("", "SERVING");
  for (const s of services) health.setStatus(s.name, "SERVING");
  return {
    server,
    port,
    health,
    shutdown: async () => {
      health.setStatus("", "NOT_SERVING");
      for (const s of services) health.setStatus(s.name, "NOT_SERVING");
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    },
  };
}
