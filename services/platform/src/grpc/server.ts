import { Server, ServerCredentials, type Metadata, type sendUnaryData, type ServerUnaryCall, type ServiceDefinition, type UntypedServiceImplementation } from "@grpc/grpc-js";
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
    fn(call.request, call.metadata).then(
      (res) => callback(null, res),
      (e: unknown) => {
        if (!(e instanceof DomainError)) reportInternal(e, call.getPath());
        callback(toGrpcError(e));
      },
    );
  };
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
  const server = new Server();
  for (const s of services) server.addService(s.definition, s.implementation);
  const health = new HealthImplementation({ "": "NOT_SERVING", ...Object.fromEntries(services.map((s) => [s.name, "NOT_SERVING"])) });
  health.addToServer(server);
  const address = `${opts.host ?? "127.0.0.1"}:${opts.port ?? 0}`;
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(address, ServerCredentials.createInsecure(), (err, p) => (err ? reject(new Error(`gRPC server cannot bind ${address}: ${err.message}`)) : resolve(p))),
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
