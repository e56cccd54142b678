export * from "./domain/registration.js";
export * from "./domain/ti-access.js";
export * from "./vpnzugd/soap.js";
export * from "./vpnzugd/simulator.js";
export * from "./application/vpn.js";
export * from "./service.js";
export { toRegistration } from "./api/grpc.js";
