import { Body, Controller, Get, HttpCode, Inject, Param, Post, Query } from "@nestjs/common";
import { gunzipSync } from "node:zlib";
import type { VsdmApi } from "../grpc-clients.js";
import { VSDM } from "../tokens.js";
import { Access } from "./access.js";
import { field, stringsBody } from "./body.js";

/** The documents as the WSDL carries them (gzip, Base64) and decoded for people. */
const doc = (gz: Uint8Array) => ({ base64: Buffer.from(gz).toString("base64"), xml: gz.length ? gunzipSync(gz).toString("latin1") : "" });

@Controller("api/v1")
export class VsdController {
  constructor(@Inject(VSDM) private readonly vsdm: VsdmApi) {}

  @Post("vsd/read")
  @HttpCode(200)
  @Access({
    role: "operator",
    summary: "ReadVSD with a call context (Mandant, client system, workplace), the eGK and SMC-B card handles; refusals carry the gematik code",
    body: stringsBody(["unit", "mandantId", "clientSystemId", "workplaceId", "ehcHandle", "hpcHandle"], ["performOnlineCheck", "readOnlineReceipt"]),
  })
  async read(@Body() body: unknown) {
    const b = body as { performOnlineCheck?: unknown; readOnlineReceipt?: unknown };
    const r = await this.vsdm.readVsd({
      unit: field(body, "unit"),
      context: { mandantId: field(body, "mandantId"), clientSystemId: field(body, "clientSystemId"), workplaceId: field(body, "workplaceId"), userId: "" },
      ehcHandle: field(body, "ehcHandle"),
      hpcHandle: field(body, "hpcHandle"),
      performOnlineCheck: b?.performOnlineCheck === true,
      readOnlineReceipt: b?.readOnlineReceipt === true,
    });
    return {
      persoenlicheVersichertendaten: doc(r.persoenlicheVersichertendaten),
      allgemeineVersicherungsdaten: doc(r.allgemeineVersicherungsdaten),
      geschuetzteVersichertendaten: doc(r.geschuetzteVersichertendaten),
      vsdStatus: r.vsdStatus,
      pruefungsnachweis: doc(r.pruefungsnachweis),
      result: r.result,
      errorCode: r.errorCode,
    };
  }

  @Get("units/:unit/vsd-log")
  @Access({ role: "viewer", summary: "Ablauf- and Fehlerprotokoll of the VSDM Fachmodul (?outcome=ok|warning|error)" })
  log(@Param("unit") unit: string, @Query("outcome") outcome?: string) {
    return this.vsdm.listProtocol({ unit, outcome: outcome ?? "" });
  }

  @Post("sim/egk")
  @Access({ role: "operator", summary: "Issue the eGK of an insured person (kvnr) or a Prüfkarte (pruefkarte 1-5000) for a simulated terminal", body: stringsBody([], ["kvnr", "pruefkarte"]), status: 201 })
  egk(@Body() body: unknown) {
    return this.vsdm.prepareEgk({ kvnr: field(body, "kvnr", { optional: true }), pruefkarte: Number((body as { pruefkarte?: unknown })?.pruefkarte ?? 0) });
  }

  @Post("sim/fachdienst")
  @HttpCode(200)
  @Access({ role: "operator", summary: "Switch the simulated Fachdienst of an insurer (IK): no-update, update-pending, not-responsible, unreachable, slow", body: stringsBody(["ik", "behaviour"]) })
  fachdienst(@Body() body: unknown) {
    return this.vsdm.setFachdienst({ ik: field(body, "ik"), behaviour: field(body, "behaviour") });
  }
}
