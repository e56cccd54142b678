import { Body, Controller, Get, HttpCode, Inject, Param, Post, Put } from "@nestjs/common";
import type { CardTerminalApi } from "../grpc-clients.js";
import { field, stringsBody } from "./body.js";
import type { SoapEndpoints } from "../soap/endpoints.js";
import { CARD_TERMINAL, SOAP } from "../tokens.js";
import { Access } from "./access.js";

@Controller("api/v1")
export class SoapController {
  constructor(
    @Inject(SOAP) private readonly soap: SoapEndpoints,
    @Inject(CARD_TERMINAL) private readonly kt: CardTerminalApi,
  ) {}

  @Get("units/:unit/soap")
  @Access({
    role: "operator",
    summary:
      "The unit's Konnektor interface for practice software (opened on first use): its HTTPS base URL, connector.sds URL, client authentication mode and TLS server certificate; clients trust the test PKI's roots (GET pki/trust-anchors)",
  })
  async endpoint(@Param("unit") unit: string) {
    const e = await this.soap.ensure(unit);
    const { infomodell } = await this.kt.getInfomodell({ unit: e.unitId });
    return {
      unitId: e.unitId,
      serial: e.serial,
      baseUrl: e.baseUrl,
      connectorSds: `${e.baseUrl}/connector.sds`,
      clientAuth: infomodell?.clientAuth || "none",
      tlsMandatory: true,
      certificatePem: e.certificatePem,
      trustAnchors: "the roots of the test PKI: GET /api/v1/pki/trust-anchors (rootPems), or tigw pki roots --out FILE",
    };
  }

  @Get("units/:unit/soap/log")
  @Access({
    role: "viewer",
    summary: "The unit's SOAP log: the newest 1,000 calls (operation, client system, gematik code or 0, duration); no insured data, no PINs",
  })
  async log(@Param("unit") unit: string) {
    const e = await this.soap.ensure(unit);
    return { unitId: e.unitId, calls: e.log };
  }

  @Post("units/:unit/client-auth")
  @HttpCode(200)
  @Access({
    role: "operator",
    summary:
      "How the unit's client systems authenticate at its SOAP interface: none, basic (HTTP Basic, per client system) or mtls (registered client certificate)",
    body: stringsBody(["mode"]),
  })
  clientAuth(@Param("unit") unit: string, @Body() body: unknown) {
    return this.kt.setClientAuth({ unit, mode: field(body, "mode") });
  }

  @Put("units/:unit/infomodell/client-systems/:clientSystem/credential")
  @Access({
    role: "operator",
    summary:
      "A client system's password (kept as a hash) and/or TLS client certificate (PEM, RSA or ECC) for the SOAP interface; the answer never shows the password",
    body: stringsBody([], ["password", "certPem"]),
  })
  credential(@Param("unit") unit: string, @Param("clientSystem") clientSystemId: string, @Body() body: unknown) {
    return this.kt.setClientSystemCredential({
      unit,
      clientSystemId,
      password: field(body, "password", { optional: true }),
      certPem: field(body, "certPem", { optional: true }),
    });
  }
}
