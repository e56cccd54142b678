import { Controller, Get, Inject, Param } from "@nestjs/common";
import type { SoapEndpoints } from "../soap/endpoints.js";
import { SOAP } from "../tokens.js";
import { Access } from "./access.js";

@Controller("api/v1")
export class SoapController {
  constructor(@Inject(SOAP) private readonly soap: SoapEndpoints) {}

  @Get("units/:unit/soap")
  @Access({
    role: "operator",
    summary:
      "The unit's Konnektor interface for practice software (opened on first use): its HTTPS base URL, connector.sds URL, client authentication mode and TLS server certificate; clients trust the test PKI's roots (GET pki/trust-anchors)",
  })
  async endpoint(@Param("unit") unit: string) {
    const e = await this.soap.ensure(unit);
    return {
      unitId: e.unitId,
      serial: e.serial,
      baseUrl: e.baseUrl,
      connectorSds: `${e.baseUrl}/connector.sds`,
      clientAuth: e.clientAuth,
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
}
