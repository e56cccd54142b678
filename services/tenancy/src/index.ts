export * from "./domain/profiles.js";
export * from "./domain/licence.js";
export * from "./domain/unit.js";
export * from "./application/tenancy.js";
export * from "./application/fleet-projection.js";
export * from "./service.js";
export { toUnit } from "./api/grpc.js";
