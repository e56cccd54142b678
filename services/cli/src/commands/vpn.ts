import { type CommandGroup, type Context, need, unitPath, UsageError } from "./command.js";
import { fields, table } from "../output.js";

/**
 * tigw vpn ... and tigw sim vpnzugd ...: the units' registration at the VPN-Zugangsdienst, the
 * TI-access rule, the Sperrung, and the simulated VPN-ZugD's contracts and faults.
 */
export const VPN_USAGE = `  tigw vpn register UNIT --contract-id C [--sis]   register at the VPN-ZugD (mutual TLS, signed with a managed SM-B)
  tigw vpn deregister UNIT | status UNIT | list     registration, contract status, tunnels, DNS, MTU, TI access
  tigw vpn mtu UNIT 1500|1400              MTU (1400 behind DS-Lite)
  tigw vpn block --serial S --contract-id C [--reason R]   Sperrung at the VPN-ZugD: TI access ends
  tigw vpn unblock --serial S --contract-id C              lift it (the unit must register again)
  tigw sim vpnzugd show | contract add --id C [--customer N] [--sis] | fault CODE on|off
        (CODE: 7011 7021 7031 7041 7061 7071 7081 7091 unreachable)`;

interface Registration {
  serial: string;
  registrationStatus: string;
  contractStatus: string;
  contractId: string;
  sisRequested: boolean;
  dns: { dnsServersInt: string[]; dnsDomainVpnZugdInt: string; dnsServersTi: string[]; dnsServersSis: string[]; dnsServersBestandsnetze: string[] };
  mtu: number;
  tiTunnel: { state: string; lastHeartbeat: string };
  sisTunnel: { state: string; lastHeartbeat: string };
  blocked: boolean;
  blockedReason: string;
  lastResult: string;
  lastMessage: string;
  registeredAt: string;
  tiAccess: boolean;
  sisAccess: boolean;
  tiAccessReasons: string[];
}

interface Simulator {
  url: string;
  contracts: { contractId: string; customer: string; sis: boolean }[];
  faults: string[];
  blocks: { serial: string; contractId: string; reason: string; at: string }[];
}

const list = (xs: string[]) => xs.join(", ") || "-";

function registrationText(r: Registration): string {
  const tunnel = (t: { state: string; lastHeartbeat: string }) => `${t.state}${t.lastHeartbeat ? ` (last heartbeat ${t.lastHeartbeat})` : ""}`;
  return fields([
    ["Unit", r.serial],
    ["Registration", r.registrationStatus],
    ["Contract status", r.contractStatus],
    ["ContractID", r.contractId || "-"],
    ["TI access", r.tiAccess ? "yes" : `NO: ${r.tiAccessReasons.join("; ")}`],
    ["SIS", r.sisAccess ? "yes" : r.sisRequested ? "requested, not granted" : "not requested"],
    ["TI tunnel", tunnel(r.tiTunnel)],
    ["SIS tunnel", tunnel(r.sisTunnel)],
    ["Sperrung", r.blocked ? `yes: ${r.blockedReason}` : "no"],
    ["MTU", r.mtu],
    ["DNS_SERVERS_INT", list(r.dns.dnsServersInt)],
    ["DNS_DOMAIN_VPN_ZUGD_INT", r.dns.dnsDomainVpnZugdInt || "-"],
    ["DNS_SERVERS_TI", list(r.dns.dnsServersTi)],
    ["DNS_SERVERS_SIS", list(r.dns.dnsServersSis)],
    ["DNS_SERVERS_BESTANDSNETZE", list(r.dns.dnsServersBestandsnetze)],
    ["Last result", r.lastResult ? `${r.lastResult}${r.lastMessage ? ` ${r.lastMessage}` : ""}` : "-"],
  ]);
}

/** The MTU argument: a whole number, checked here so a typo is not sent as null. */
function mtuArg(text: string | undefined): number {
  const mtu = Number(need(text, "MTU (1500 or 1400)"));
  if (!Number.isInteger(mtu)) throw new UsageError(`MTU must be 1500 or 1400, not "${text}"`);
  return mtu;
}

/**
 * Runs `tigw vpn ...` (group "vpn") or `tigw sim vpnzugd ...` (group "sim", verb "vpnzugd") on
 * the shared command context.
 */
export async function runVpn(c: Context, group: string): Promise<number> {
  const [arg1, arg2, arg3] = c.args;
  if (group === "vpn") {
    const verb = c.verb;
    const one = async (p: Promise<Registration>, say: (r: Registration) => string) => {
      const r = await p;
      c.show(r, () => `${say(r)}\n\n${registrationText(r)}`);
      return 0;
    };
    switch (verb) {
      case "register":
        return one(
          c.api().post<Registration>(`${unitPath(arg1)}/vpn/register`, { contractId: need(c.o["contract-id"], "--contract-id"), sis: c.o.sis === true }),
          (r) => `${r.serial}: ${r.registrationStatus}, ${r.contractStatus}`,
        );
      case "deregister":
        return one(c.api().post<Registration>(`${unitPath(arg1)}/vpn/deregister`, {}), (r) => `${r.serial}: ${r.registrationStatus}`);
      case "status":
        return one(c.api().get<Registration>(`${unitPath(arg1)}/vpn`), (r) => `${r.serial} at the VPN-ZugD`);
      case "mtu":
        return one(c.api().post<Registration>(`${unitPath(arg1)}/vpn/mtu`, { mtu: mtuArg(arg2) }), (r) => `${r.serial}: MTU ${r.mtu}`);
      case "block":
        return one(
          c.api().post<Registration>("/api/v1/vpn/block", {
            serial: need(c.o.serial, "--serial"),
            contractId: need(c.o["contract-id"], "--contract-id"),
            reason: c.o.reason,
          }),
          (r) => `${r.serial} blocked at the VPN-ZugD (Sperrung): no TI access`,
        );
      case "unblock":
        return one(
          c.api().post<Registration>("/api/v1/vpn/unblock", {
            serial: need(c.o.serial, "--serial"),
            contractId: need(c.o["contract-id"], "--contract-id"),
          }),
          (r) => `Sperrung of ${r.serial} lifted: register it again (tigw vpn register ${r.serial} --contract-id ${c.o["contract-id"]})`,
        );
      case "list": {
        const r = await c.api().get<{ registrations: Registration[] }>("/api/v1/vpn/registrations");
        c.show(r, () =>
          table(
            ["SERIAL", "REGISTRATION", "CONTRACT", "CONTRACT STATUS", "TI", "SIS", "TI TUNNEL", "LAST RESULT"],
            r.registrations.map((x) => [
              x.serial,
              x.registrationStatus,
              x.contractId || "-",
              x.contractStatus,
              x.tiAccess ? "yes" : x.blocked ? "NO (Sperrung)" : "NO",
              x.sisAccess ? "yes" : "no",
              x.tiTunnel.state,
              x.lastResult || "-",
            ]),
          ),
        );
        return 0;
      }
      default:
        throw c.unknown();
    }
  }
  if (group === "sim" && c.verb === "vpnzugd") {
    if (arg1 === "show") {
      const s = await c.api().get<Simulator>("/api/v1/sim/vpnzugd");
      c.show(s, () =>
        [
          fields([
            ["URL", s.url],
            ["Faults", list(s.faults)],
          ]),
          "",
          table(
            ["CONTRACT", "CUSTOMER", "ACCESS"],
            s.contracts.map((x) => [x.contractId, x.customer || "-", x.sis ? "TI und SIS" : "TI"]),
          ),
          ...(s.blocks.length
            ? [
                "",
                table(
                  ["BLOCKED SERIAL", "CONTRACT", "SINCE", "REASON"],
                  s.blocks.map((b) => [b.serial, b.contractId, b.at, b.reason]),
                ),
              ]
            : []),
        ].join("\n"),
      );
      return 0;
    }
    if (arg1 === "contract" && arg2 === "add") {
      const k = await c.api().post<{ contractId: string; sis: boolean }>("/api/v1/sim/vpnzugd/contracts", {
        contractId: need(c.o.id, "--id"),
        customer: c.o.customer,
        sis: c.o.sis === true,
      });
      c.show(k, () => `contract ${k.contractId} at the VPN-ZugD: ${k.sis ? "Zugriff auf TI und SIS" : "Zugriff auf TI"}`);
      return 0;
    }
    if (arg1 === "fault") {
      const code = need(arg2, "CODE");
      const state = arg3;
      if (state !== "on" && state !== "off") throw new UsageError("tigw sim vpnzugd fault CODE on|off");
      const r = await c.api().post<{ faults: string[] }>("/api/v1/sim/vpnzugd/faults", { fault: code, on: state === "on" });
      c.show(r, () => `VPN-ZugD faults now: ${list(r.faults)}`);
      return 0;
    }
    throw new UsageError("tigw sim vpnzugd show | contract add --id C [--sis] | fault CODE on|off");
  }
  throw c.unknown();
}

/** `tigw vpn ...` in the command table. */
export const vpn: CommandGroup = { names: ["vpn"], usage: VPN_USAGE, run: runVpn };
