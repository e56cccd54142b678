import type { Client } from "@grpc/grpc-js";
import { call, createClient } from "@tigw/platform";
import { HsmServiceClient } from "@tigw/platform/dist/src/gen/tigw/hsm/v1/hsm.js";
import type * as hsm from "@tigw/platform/dist/src/gen/tigw/hsm/v1/hsm.js";
import { TenancyServiceClient } from "@tigw/platform/dist/src/gen/tigw/tenancy/v1/tenancy.js";
import type * as tenancy from "@tigw/platform/dist/src/gen/tigw/tenancy/v1/tenancy.js";

type Rpc<Req, Res> = (req: Req) => Promise<Res>;
type ClientCtor = new (address: string, creds: never, options?: object) => Client;

/** Promise-returning calls with a deadline for the named unary methods of a generated client. */
function promiseApi<Api>(Ctor: ClientCtor, address: string, methods: readonly string[], deadlineMs: number): Api & { close(): void } {
  const client = createClient(Ctor as never, address, { deadlineMs }) as Client & Record<string, (...a: unknown[]) => unknown>;
  const api: Record<string, unknown> = { close: () => client.close() };
  for (const m of methods) {
    const method = client[m]!.bind(client);
    api[m] = (req: unknown) => call(method as never, req);
  }
  return api as Api & { close(): void };
}

/** The gateway's view of tigw.tenancy.v1.TenancyService. */
export interface TenancyApi {
  createUnit: Rpc<tenancy.CreateUnitRequest, tenancy.CreateUnitResponse>;
  changeUnitState: Rpc<tenancy.ChangeUnitStateRequest, tenancy.ChangeUnitStateResponse>;
  getUnit: Rpc<tenancy.GetUnitRequest, tenancy.GetUnitResponse>;
  listUnits: Rpc<tenancy.ListUnitsRequest, tenancy.ListUnitsResponse>;
  addMandant: Rpc<tenancy.AddMandantRequest, tenancy.AddMandantResponse>;
  listMandanten: Rpc<tenancy.ListMandantenRequest, tenancy.ListMandantenResponse>;
  importLicence: Rpc<tenancy.ImportLicenceRequest, tenancy.ImportLicenceResponse>;
  listProfiles: Rpc<tenancy.ListProfilesRequest, tenancy.ListProfilesResponse>;
  close(): void;
}

/** The gateway's view of tigw.hsm.v1.HsmService. */
export interface HsmApi {
  getSecurityModule: Rpc<hsm.GetSecurityModuleRequest, hsm.GetSecurityModuleResponse>;
  listExpiries: Rpc<hsm.ListExpiriesRequest, hsm.ListExpiriesResponse>;
  attemptLzv: Rpc<hsm.AttemptLzvRequest, hsm.AttemptLzvResponse>;
  revokeUnit: Rpc<hsm.RevokeUnitRequest, hsm.RevokeUnitResponse>;
  getCertificate: Rpc<hsm.GetCertificateRequest, hsm.GetCertificateResponse>;
  getTrustAnchors: Rpc<hsm.GetTrustAnchorsRequest, hsm.GetTrustAnchorsResponse>;
  getClock: Rpc<hsm.GetClockRequest, hsm.GetClockResponse>;
  advanceClock: Rpc<hsm.AdvanceClockRequest, hsm.AdvanceClockResponse>;
  close(): void;
}

const TENANCY_METHODS = ["createUnit", "changeUnitState", "getUnit", "listUnits", "addMandant", "listMandanten", "importLicence", "listProfiles"] as const;
const HSM_METHODS = ["getSecurityModule", "listExpiries", "attemptLzv", "revokeUnit", "getCertificate", "getTrustAnchors", "getClock", "advanceClock"] as const;

export const tenancyApi = (address: string, deadlineMs = 10_000): TenancyApi => promiseApi<TenancyApi>(TenancyServiceClient as unknown as ClientCtor, address, TENANCY_METHODS, deadlineMs);
export const hsmApi = (address: string, deadlineMs = 30_000): HsmApi => promiseApi<HsmApi>(HsmServiceClient as unknown as ClientCtor, address, HSM_METHODS, deadlineMs);
