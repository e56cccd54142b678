import { randomUUID } from "node:crypto";
import { gunzipSync } from "node:zlib";
import { Body, Controller, Get, Headers, HttpCode, Inject, Param, Post, Query, Res } from "@nestjs/common";
import { DomainError, ValidationError } from "@tigw/platform";
import { gematikErrorXml, isGematikCode, readVsdResponseXml } from "@tigw/vsdm";
import type { VsdmApi } from "../grpc-clients.js";
import { VSDM } from "../tokens.js";
import { Access } from "./access.js";
import { field, stringsBody } from "./body.js";
import { httpStatusOf } from "./problem.js";

/** What a client asking for XML gets: the status and content type to set, and the body. */
interface XmlReply {
  status(n: number): unknown;
  type(t: string): unknown;
}
const wantsXml = (accept: string | undefined) => /\b(application|text)\/xml\b/.test(accept ?? "");

/** The documents as the WSDL carries them (gzip, Base64) and decoded for people. */
const doc = (gz: Uint8Array) => ({ base64: Buffer.from(gz).toString("base64"), xml: gz.length ? gunzipSync(gz).toString("latin1") : "" });

@Controller("api/v1")
export class VsdController {
  constructor(@Inject(VSDM) private readonly vsdm: VsdmApi) {}

  @Post("vsd/read")
  @HttpCode(200)
  @Access({
    role: "operator",
    summary:
      "ReadVSD with a call context (Mandant, client system, workplace), the eGK and SMC-B card handles; refusals carry the gematik code. " +
      "With Accept: application/xml the answer is the gematik ReadVSDResponse (VSDService.xsd v5.2) and a refusal with a gematik code the GERROR Error (TelematikError.xsd)",
    body: stringsBody(["unit", "mandantId", "clientSystemId", "workplaceId", "ehcHandle", "hpcHandle"], ["performOnlineCheck", "readOnlineReceipt"]),
  })
  async read(@Body() body: unknown, @Headers("accept") accept: string | undefined, @Res({ passthrough: true }) res: XmlReply) {
    const b = body as { performOnlineCheck?: unknown; readOnlineReceipt?: unknown };
    const reading = this.vsdm.readVsd({
      unit: field(body, "unit"),
      context: { mandantId: field(body, "mandantId"), clientSystemId: field(body, "clientSystemId"), workplaceId: field(body, "workplaceId"), userId: "" },
      ehcHandle: field(body, "ehcHandle"),
      hpcHandle: field(body, "hpcHandle"),
      performOnlineCheck: b?.performOnlineCheck === true,
      readOnlineReceipt: b?.readOnlineReceipt === true,
    });
    if (wantsXml(accept)) {
      res.type("application/xml");
      return reading.then(readVsdResponseXml, (e: unknown) => {
        if (!(e instanceof DomainError) || !isGematikCode(e.code)) throw e; // problem+json: no gematik form
        res.status(httpStatusOf(e));
        return gematikErrorXml(e, { messageId: randomUUID(), at: new Date() });
      });
    }
    const r = await reading;
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
  @Access({
    role: "viewer",
    summary:
      "Ablauf- and Fehlerprotokoll of the VSDM Fachmodul (?mandant=M&outcome=ok|warning|error&from=ISO&to=ISO&limit=N; the newest N, default 1000, oldest first)",
  })
  log(
    @Param("unit") unit: string,
    @Query("outcome") outcome?: string,
    @Query("mandant") mandant?: string,
    @Query("from") from?: string,
    @Query("to") to?: string,
    @Query("limit") limit?: string,
  ) {
    const n = limit === undefined ? 0 : Number(limit);
    if (!Number.isInteger(n) || n < 0) throw new ValidationError("INVALID_ARGUMENT", "limit", `limit must be a whole number, not "${limit}"`);
    return this.vsdm.listProtocol({ unit, outcome: outcome ?? "", mandantId: mandant ?? "", from: from ?? "", to: to ?? "", limit: n });
  }

  @Post("sim/egk")
  @Access({
    role: "operator",
    summary: "Issue the eGK of an insured person (kvnr) or a Prüfkarte (pruefkarte 1-5000) for a simulated terminal",
    body: stringsBody([], ["kvnr", "pruefkarte"]),
    status: 201,
  })
  egk(@Body() body: unknown) {
    return this.vsdm.prepareEgk({ kvnr: field(body, "kvnr", { optional: true }), pruefkarte: Number((body as { pruefkarte?: unknown })?.pruefkarte ?? 0) });
  }

  @Post("sim/fachdienst")
  @HttpCode(200)
  @Access({
    role: "operator",
    summary: "Switch the simulated Fachdienst of an insurer (IK): no-update, update-pending, not-responsible, unreachable, slow",
    body: stringsBody(["ik", "behaviour"]),
  })
  fachdienst(@Body() body: unknown) {
    return this.vsdm.setFachdienst({ ik: field(body, "ik"), behaviour: field(body, "behaviour") });
  }
}
