import { call, createClient } from "@tigw/platform";
import { HsmServiceClient } from "@tigw/contracts/hsm/v1/hsm";
import type * as hsm from "@tigw/contracts/hsm/v1/hsm";
import { TenancyServiceClient } from "@tigw/contracts/tenancy/v1/tenancy";
import type * as tenancy from "@tigw/contracts/tenancy/v1/tenancy";

/** What card-terminal needs of tenancy: the unit (id, Mandanten) and its KT slots. */
export interface TenancyPort {
  unit(unit: string): Promise<{ unitId: string; mandanten: string[] }>;
  /** A unit's id from its id or serial; remembered, as neither ever changes. */
  unitId(unit: string): Promise<string>;
  reserveSlot(unitId: string, ctId: string): Promise<number>;
  releaseSlot(unitId: string, ctId: string): Promise<void>;
  close(): void;
}

/** What card-terminal needs of hsm: a certificate of the test PKI, and the sub-CAs it trusts. */
export interface HsmPort {
  certificate(
    serial: string,
  ): Promise<{ pem: string; commonName: string; subject: string; iccsn: string; notBefore: string; notAfter: string; ocspStatus: string }>;
  /** The sub-CA certificates (PEM) of the TI PKI: the trust anchors a relying party checks against. */
  subCas(): Promise<string[]>;
  close(): void;
}

export function tenancyOverGrpc(address: string): TenancyPort {
  const c = createClient(TenancyServiceClient, address, { deadlineMs: 30_000 });
  const ids = new Map<string, string>();
  const unit = async (name: string) => {
    const r = await call<tenancy.GetUnitRequest, tenancy.GetUnitResponse>(c.getUnit.bind(c), { unit: name });
    ids.set(name, r.unit!.unitId);
    return { unitId: r.unit!.unitId, mandanten: r.unit!.mandanten.map((m) => m.mandantId) };
  };
  return {
    unit,
    unitId: async (name) => ids.get(name) ?? (await unit(name)).unitId,
    reserveSlot: async (unit, ctId) =>
      (await call<tenancy.ReserveKtSlotRequest, tenancy.ReserveKtSlotResponse>(c.reserveKtSlot.bind(c), { unit, ctId })).slot!.computeUnit,
    releaseSlot: async (unit, ctId) => void (await call<tenancy.ReleaseKtSlotRequest, tenancy.ReleaseKtSlotResponse>(c.releaseKtSlot.bind(c), { unit, ctId })),
    close: () => c.close(),
  };
}

export function hsmOverGrpc(address: string): HsmPort {
  const c = createClient(HsmServiceClient, address, { deadlineMs: 30_000 });
  return {
    certificate: async (certSerial) =>
      (await call<hsm.GetCertificateRequest, hsm.GetCertificateResponse>(c.getCertificate.bind(c), { certSerial })).certificate!,
    subCas: async () => (await call<hsm.GetTrustAnchorsRequest, hsm.GetTrustAnchorsResponse>(c.getTrustAnchors.bind(c), {})).subCaPems,
    close: () => c.close(),
  };
}
