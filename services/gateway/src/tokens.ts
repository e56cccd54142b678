/** Nest injection token of the tenancy gRPC client. */
export const TENANCY = Symbol("TenancyApi");
