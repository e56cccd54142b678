import type { Client } from "@grpc/grpc-js";
import { call, createClient } from "@tigw/platform";
import { TenancyServiceClient } from "@tigw/platform/dist/src/gen/tigw/tenancy/v1/tenancy.js";
import type * as pb from "@tigw/platform/dist/src/gen/tigw/tenancy/v1/tenancy.js";

type Rpc<Req, Res> = (req: Req) => Promise<Res>;

/** The gateway's view of tigw.tenancy.v1.TenancyService: promise-returning calls with deadlines. */
export interface TenancyApi {
  createUnit: Rpc<pb.CreateUnitRequest, pb.CreateUnitResponse>;
  changeUnitState: Rpc<pb.ChangeUnitStateRequest, pb.ChangeUnitStateResponse>;
  getUnit: Rpc<pb.GetUnitRequest, pb.GetUnitResponse>;
  listUnits: Rpc<pb.ListUnitsRequest, pb.ListUnitsResponse>;
  addMandant: Rpc<pb.AddMandantRequest, pb.AddMandantResponse>;
  listMandanten: Rpc<pb.ListMandantenRequest, pb.ListMandantenResponse>;
  importLicence: Rpc<pb.ImportLicenceRequest, pb.ImportLicenceResponse>;
  listProfiles: Rpc<pb.ListProfilesRequest, pb.ListProfilesResponse>;
  close(): void;
}

export function tenancyApi(address: string, deadlineMs = 10_000): TenancyApi {
  const client = createClient(TenancyServiceClient, address, { deadlineMs }) as TenancyServiceClient & Client;
  const rpc = <Req, Res>(name: keyof TenancyServiceClient): Rpc<Req, Res> => {
    const method = (client[name] as (...a: unknown[]) => unknown).bind(client);
    return (req: Req) => call<Req, Res>(method as never, req);
  };
  return {
    createUnit: rpc("createUnit"),
    changeUnitState: rpc("changeUnitState"),
    getUnit: rpc("getUnit"),
    listUnits: rpc("listUnits"),
    addMandant: rpc("addMandant"),
    listMandanten: rpc("listMandanten"),
    importLicence: rpc("importLicence"),
    listProfiles: rpc("listProfiles"),
    close: () => client.close(),
  };
}
