/** Nest injection tokens of the services' gRPC clients. */
export const TENANCY = Symbol("TenancyApi");
export const HSM = Symbol("HsmApi");
