import { Body, Controller, Get, HttpCode, Inject, Param, Post } from "@nestjs/common";
import { ValidationError } from "@tigw/platform";
import type { VpnApi } from "../grpc-clients.js";
import { VPN } from "../tokens.js";
import { Access } from "./access.js";
import { field } from "./body.js";

const flag = (body: unknown, name: string): boolean => {
  const v = body && typeof body === "object" ? (body as Record<string, unknown>)[name] : undefined;
  if (v === undefined || v === null) return false;
  if (typeof v !== "boolean") throw new ValidationError("INVALID_REQUEST", name, `${name} must be true or false`);
  return v;
};

const schema = (required: string[], props: Record<string, "string" | "boolean" | "integer">) => ({
  type: "object",
  required,
  properties: Object.fromEntries(Object.entries(props).map(([k, type]) => [k, { type }])),
});

/** The units' registration at the VPN-ZugD, the TI-access rule and the Sperrung. */
@Controller("api/v1")
export class VpnController {
  constructor(@Inject(VPN) private readonly vpn: VpnApi) {}

  @Get("units/:unit/vpn")
  @Access({
    role: "viewer",
    summary: "VPN-ZugD registration of a unit: status, contract status, ContractID, DNS parameters, MTU, TI and SIS tunnels, TI access and why not",
  })
  async status(@Param("unit") unit: string) {
    return (await this.vpn.getRegistration({ unit })).registration;
  }

  @Post("units/:unit/vpn/register")
  @HttpCode(200)
  @Access({
    role: "operator",
    summary:
      "Register the unit at the VPN-ZugD (mutual TLS with its C.NK.VPN, signed with a managed SM-B); refusals carry the VPN-ZugD's code 7011-7091 and leave it unregistered",
    body: schema(["contractId"], { contractId: "string", sis: "boolean" }),
  })
  async register(@Param("unit") unit: string, @Body() body: unknown) {
    return (await this.vpn.register({ unit, contractId: field(body, "contractId"), sis: flag(body, "sis") })).registration;
  }

  @Post("units/:unit/vpn/deregister")
  @HttpCode(200)
  @Access({ role: "operator", summary: "Deregister the unit at the VPN-ZugD; a refusal (7081) leaves it registered" })
  async deregister(@Param("unit") unit: string) {
    return (await this.vpn.deregister({ unit })).registration;
  }

  @Post("units/:unit/vpn/mtu")
  @HttpCode(200)
  @Access({ role: "operator", summary: "Set the MTU: 1500 (default) or 1400 (behind DS-Lite)", body: schema(["mtu"], { mtu: "integer" }) })
  async mtu(@Param("unit") unit: string, @Body() body: unknown) {
    const mtu = (body as { mtu?: unknown } | undefined)?.mtu;
    if (typeof mtu !== "number" || !Number.isInteger(mtu) || mtu < 0)
      throw new ValidationError("INVALID_REQUEST", "mtu", "mtu must be a whole number (1500 or 1400)");
    return (await this.vpn.setMtu({ unit, mtu })).registration;
  }

  @Get("units/:unit/ti-access")
  @Access({ role: "viewer", summary: "The TI-access rule for a unit: registered, gSMC-K valid and not revoked, not blocked" })
  tiAccess(@Param("unit") unit: string) {
    return this.vpn.getTiAccess({ unit });
  }

  @Get("vpn/registrations")
  @Access({ role: "viewer", summary: "Every unit's VPN-ZugD registration and TI access" })
  list() {
    return this.vpn.listRegistrations({});
  }

  @Post("vpn/block")
  @HttpCode(200)
  @Access({
    role: "operator",
    summary:
      "Sperrung at the VPN-ZugD by serial number and contract data (theft, tampering): TI access ends; only a new registration after unblocking restores it",
    body: schema(["serial", "contractId"], { serial: "string", contractId: "string", reason: "string" }),
  })
  async block(@Body() body: unknown) {
    return (await this.vpn.block({ serial: field(body, "serial"), contractId: field(body, "contractId"), reason: field(body, "reason", { optional: true }) }))
      .registration;
  }

  @Post("vpn/unblock")
  @HttpCode(200)
  @Access({
    role: "operator",
    summary: "Lift a Sperrung at the VPN-ZugD (serial and contract data); the unit must register again",
    body: schema(["serial", "contractId"], { serial: "string", contractId: "string" }),
  })
  async unblock(@Body() body: unknown) {
    return (await this.vpn.unblock({ serial: field(body, "serial"), contractId: field(body, "contractId") })).registration;
  }

  @Get("sim/vpnzugd")
  @Access({ role: "viewer", summary: "The simulated VPN-ZugD: its URL, contracts, active faults and Sperrungen" })
  simulator() {
    return this.vpn.getSimulator({});
  }

  @Post("sim/vpnzugd/contracts")
  @Access({
    role: "operator",
    summary: "Add (or change) a contract at the simulated VPN-ZugD: ContractID, customer, TI or TI+SIS",
    body: schema(["contractId"], { contractId: "string", customer: "string", sis: "boolean" }),
    status: 201,
  })
  async contract(@Body() body: unknown) {
    return (
      await this.vpn.addContract({ contractId: field(body, "contractId"), customer: field(body, "customer", { optional: true }), sis: flag(body, "sis") })
    ).contract;
  }

  @Post("sim/vpnzugd/faults")
  @HttpCode(200)
  @Access({
    role: "operator",
    summary: "Switch a fault of the simulated VPN-ZugD on or off: 7011, 7021, 7031, 7041, 7061, 7071, 7081, 7091 or unreachable",
    body: schema(["fault", "on"], { fault: "string", on: "boolean" }),
  })
  fault(@Body() body: unknown) {
    return this.vpn.setFault({ fault: field(body, "fault"), on: flag(body, "on") });
  }
}
