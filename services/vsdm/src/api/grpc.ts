import { unary, type GrpcServiceBinding } from "@tigw/platform";
import * as pb from "@tigw/contracts/vsdm/v1/vsdm";
import type { FachdienstBehaviour } from "../fachmodul/fachdienst.js";
import type { Vsdm } from "../application/vsdm.js";

/** tigw.vsdm.v1.VsdmService over the application. */
export function vsdmGrpc(v: Vsdm): GrpcServiceBinding {
  const impl: pb.VsdmServiceServer = {
    readVsd: unary(async (r: pb.ReadVsdRequest) =>
      v.read({
        unit: r.unit,
        context: {
          mandantId: r.context?.mandantId ?? "",
          clientSystemId: r.context?.clientSystemId ?? "",
          workplaceId: r.context?.workplaceId ?? "",
          userId: r.context?.userId ?? "",
        },
        ehcHandle: r.ehcHandle,
        hpcHandle: r.hpcHandle,
        performOnlineCheck: r.performOnlineCheck,
        readOnlineReceipt: r.readOnlineReceipt,
      }),
    ),
    prepareEgk: unary(async (r: pb.PrepareEgkRequest) => v.prepareEgk(r)),
    listProtocol: unary(async (r: pb.ListProtocolRequest) => ({ entries: await v.protocolOf(r) })),
    setFachdienst: unary(async (r: pb.SetFachdienstRequest) => {
      v.fachdienst.set(r.ik, r.behaviour as FachdienstBehaviour);
      return {};
    }),
  };
  return { name: "tigw.vsdm.v1.VsdmService", definition: pb.VsdmServiceService, implementation: impl };
}
