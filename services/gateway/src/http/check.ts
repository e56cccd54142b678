import { Controller, Get, Inject, Param } from "@nestjs/common";
import { DomainError } from "@tigw/platform";
import { checkUnit, type UnitFacts } from "../diagnose/unit-check.js";
import type { CardTerminalApi, HsmApi, TenancyApi, VpnApi, VsdmApi } from "../grpc-clients.js";
import { CARD_TERMINAL, HSM, TENANCY, VPN, VSDM } from "../tokens.js";
import { Access } from "./access.js";

@Controller("api/v1")
export class UnitCheckController {
  constructor(
    @Inject(TENANCY) private readonly tenancy: TenancyApi,
    @Inject(HSM) private readonly hsm: HsmApi,
    @Inject(CARD_TERMINAL) private readonly kt: CardTerminalApi,
    @Inject(VSDM) private readonly vsdm: VsdmApi,
    @Inject(VPN) private readonly vpn: VpnApi,
  ) {}

  @Get("units/:unit/check")
  @Access({
    role: "viewer",
    summary:
      "Functional check of a unit: state, TI access (certificates, VPN-ZugD registration), KT slots, terminals, each Mandant's SM-B, VSDM reads of the last 24 h",
  })
  async check(@Param("unit") unit: string) {
    const { unit: u } = await this.tenancy.getUnit({ unit });
    const since = new Date(Date.now() - 86_400_000).toISOString();
    const [mandanten, sm, terminals, info, cards, protocol, vpn] = await Promise.all([
      this.tenancy.listMandanten({ unit }),
      this.hsm.getSecurityModule({ unitId: u!.unitId }).then(
        (r) => r.securityModule,
        (e: unknown) => (e instanceof DomainError && e.code === "SECURITY_MODULE_NOT_FOUND" ? undefined : Promise.reject(e)),
      ),
      this.kt.listTerminals({ unit, mandantId: "" }),
      this.kt.getInfomodell({ unit }),
      this.kt.listCards({ unit }),
      this.vsdm.listProtocol({ unit, mandantId: "", outcome: "", from: since, to: "", limit: 10_000 }),
      this.vpn.getRegistration({ unit: u!.unitId }).then(
        (r) => r.registration,
        () => undefined,
      ),
    ]);
    const smc = cards.cards.filter((c) => c.cardType === "SMC-B" || c.cardType === "HBA");
    const pins = await Promise.all(smc.map((c) => this.kt.getPinStatus({ cardHandle: c.cardHandle })));
    const facts: UnitFacts = {
      unit: { serial: u!.serial, state: u!.state, computeUnits: u!.computeUnits.map((c) => ({ index: c.index, ktsUsed: c.ktsUsed, ktsLimit: c.ktsLimit })) },
      vpn: vpn && {
        registrationStatus: vpn.registrationStatus,
        contractStatus: vpn.contractStatus,
        blocked: vpn.blocked,
        tiAccess: vpn.tiAccess,
        reasons: vpn.tiAccessReasons,
        tiTunnel: vpn.tiTunnel?.state ?? "down",
      },
      securityModule: sm && { tiAccess: sm.tiAccess, identities: sm.identities.map((i) => ({ name: i.name, daysToExpiry: i.daysToExpiry })) },
      mandanten: mandanten.mandanten.map((m) => m.mandantId),
      terminals: terminals.terminals.map((t) => ({ ctId: t.ctId, correlation: t.correlation, connected: t.connected })),
      smbs: Object.fromEntries((info.infomodell?.mandanten ?? []).map((m) => [m.mandantId, m.smbs])),
      smcCards: smc.map((c, i) => ({ iccsn: c.iccsn, ctId: c.ctId, pin: pins[i]!.status })),
      reads: protocol.entries.map((e) => ({ outcome: e.outcome, result: e.result, code: e.code })),
    };
    return { unit: u!.serial, checkedAt: new Date().toISOString(), ...checkUnit(facts) };
  }
}
