import { DomainError, ValidationError, type Decider } from "@tigw/platform";

/**
 * Registration: one unit's standing at the VPN-Zugangsdienst (gemSpec_VPN_ZugD). The VPN-ZugD's
 * answers arrive as commands (the application calls it, the decider records what it said and
 * what follows from it): a failed registration leaves the unit unregistered, a failed
 * deregistration leaves it registered, a Sperrung ends the registration and keeps further ones
 * out until it is lifted. Time arrives with each command.
 */
export const REGISTERED = "Registriert";
export const NOT_REGISTERED = "Nicht registriert";
export const CONTRACT_TI = "Zugriff auf TI erlaubt";
export const CONTRACT_TI_SIS = "Zugriff auf TI und SIS erlaubt";
export const CONTRACT_NONE = "Kein Zugriff auf TI und SIS";
export type RegistrationStatus = typeof REGISTERED | typeof NOT_REGISTERED;
export type ContractStatus = typeof CONTRACT_TI | typeof CONTRACT_TI_SIS | typeof CONTRACT_NONE;

/** MTU: 1500 by default, 1400 behind DS-Lite (seed 004); nothing else. */
export const MTU_DEFAULT = 1500;
export const MTU_DS_LITE = 1400;
export const MTUS = [MTU_DEFAULT, MTU_DS_LITE] as const;

/** The configuration data the VPN-ZugD hands out with a registration (seed 004, DOMAIN.md). */
export interface DnsParameters {
  dnsServersInt: string[];
  dnsDomainVpnZugdInt: string;
  dnsServersTi: string[];
  dnsServersSis: string[];
  dnsServersBestandsnetze: string[];
}

export const NO_DNS = (): DnsParameters => ({ dnsServersInt: [], dnsDomainVpnZugdInt: "", dnsServersTi: [], dnsServersSis: [], dnsServersBestandsnetze: [] });

export interface RegistrationState {
  exists: boolean;
  unitId: string;
  serial: string;
  status: RegistrationStatus;
  contractStatus: ContractStatus;
  contractId: string;
  sisRequested: boolean;
  dns: DnsParameters;
  mtu: number;
  blocked: boolean;
  blockedReason: string;
  /** "OK" or the code of the last refusal (7011 ...), with its message. */
  lastResult: string;
  lastMessage: string;
  registeredAt: string;
  updatedAt: string;
}

export type RegistrationCommand =
  | {
      type: "RecordRegistration";
      unitId: string;
      serial: string;
      contractId: string;
      contractStatus: ContractStatus;
      sisRequested: boolean;
      dns: DnsParameters;
      at: string;
    }
  | { type: "RecordRegistrationFailure"; unitId: string; serial: string; contractId: string; code: string; message: string; at: string }
  | { type: "RecordDeregistration"; at: string }
  | { type: "RecordDeregistrationFailure"; code: string; message: string; at: string }
  | { type: "SetMtu"; unitId: string; serial: string; mtu: number; at: string }
  | { type: "RecordBlock"; unitId: string; serial: string; contractId: string; reason: string; at: string }
  | { type: "RecordUnblock"; at: string };

export type RegistrationEvent =
  | {
      type: "VpnRegistered";
      data: { unitId: string; serial: string; contractId: string; contractStatus: ContractStatus; sisRequested: boolean; dns: DnsParameters; at: string };
    }
  | { type: "VpnRegistrationFailed"; data: { unitId: string; serial: string; contractId: string; code: string; message: string; at: string } }
  | { type: "VpnDeregistered"; data: { unitId: string; at: string } }
  | { type: "VpnDeregistrationFailed"; data: { unitId: string; code: string; message: string; at: string } }
  | { type: "MtuChanged"; data: { unitId: string; mtu: number; at: string } }
  | { type: "VpnBlocked"; data: { unitId: string; serial: string; contractId: string; reason: string; at: string } }
  | { type: "VpnUnblocked"; data: { unitId: string; at: string } };

export const initialRegistration = (): RegistrationState => ({
  exists: false,
  unitId: "",
  serial: "",
  status: NOT_REGISTERED,
  contractStatus: CONTRACT_NONE,
  contractId: "",
  sisRequested: false,
  dns: NO_DNS(),
  mtu: MTU_DEFAULT,
  blocked: false,
  blockedReason: "",
  lastResult: "",
  lastMessage: "",
  registeredAt: "",
  updatedAt: "",
});

/** A ContractID as the VPN-ZugD issues it: 1-64 printable characters without spaces. */
export function checkContractId(contractId: string): string {
  if (!/^[\x21-\x7e]{1,64}$/.test(contractId))
    throw new ValidationError("INVALID_CONTRACT_ID", "contractId", "a ContractID has 1-64 printable characters without spaces");
  return contractId;
}

export function checkMtu(mtu: number): number {
  if (!(MTUS as readonly number[]).includes(mtu)) {
    throw new ValidationError("INVALID_MTU", "mtu", `MTU ${mtu} is not supported: use ${MTU_DEFAULT} (default) or ${MTU_DS_LITE} (behind DS-Lite)`, {
      value: String(mtu),
    });
  }
  return mtu;
}

function decide(c: RegistrationCommand, s: RegistrationState): RegistrationEvent[] {
  switch (c.type) {
    case "RecordRegistration":
      checkContractId(c.contractId);
      if (s.blocked)
        throw new DomainError("UNIT_BLOCKED", `unit ${s.serial} is blocked at the VPN-ZugD (Sperrung: ${s.blockedReason}); lift the Sperrung first`, {
          unitId: s.unitId,
        });
      if (c.contractStatus === CONTRACT_NONE) throw new DomainError("INVALID_ARGUMENT", "a registration without TI access is a refusal, not a registration");
      return [
        {
          type: "VpnRegistered",
          data: {
            unitId: c.unitId,
            serial: c.serial,
            contractId: c.contractId,
            contractStatus: c.contractStatus,
            sisRequested: c.sisRequested,
            dns: c.dns,
            at: c.at,
          },
        },
      ];
    case "RecordRegistrationFailure":
      return [
        { type: "VpnRegistrationFailed", data: { unitId: c.unitId, serial: c.serial, contractId: c.contractId, code: c.code, message: c.message, at: c.at } },
      ];
    case "RecordDeregistration":
      if (!s.exists || s.status === NOT_REGISTERED) return [];
      return [{ type: "VpnDeregistered", data: { unitId: s.unitId, at: c.at } }];
    case "RecordDeregistrationFailure":
      if (!s.exists) throw new DomainError("NOT_REGISTERED", "the unit was never registered at the VPN-ZugD");
      return [{ type: "VpnDeregistrationFailed", data: { unitId: s.unitId, code: c.code, message: c.message, at: c.at } }];
    case "SetMtu":
      checkMtu(c.mtu);
      if (s.exists && s.mtu === c.mtu) return [];
      return [{ type: "MtuChanged", data: { unitId: c.unitId, mtu: c.mtu, at: c.at } }];
    case "RecordBlock":
      if (s.blocked) return [];
      return [{ type: "VpnBlocked", data: { unitId: c.unitId, serial: c.serial, contractId: c.contractId, reason: c.reason, at: c.at } }];
    case "RecordUnblock":
      if (!s.blocked) return [];
      return [{ type: "VpnUnblocked", data: { unitId: s.unitId, at: c.at } }];
  }
}

const unregistered = { status: NOT_REGISTERED, contractStatus: CONTRACT_NONE } as const;

function evolve(s: RegistrationState, e: RegistrationEvent): RegistrationState {
  const base = { ...s, exists: true, unitId: e.data.unitId || s.unitId, updatedAt: e.data.at };
  switch (e.type) {
    case "VpnRegistered": {
      const { serial, contractId, contractStatus, sisRequested, dns, at } = e.data;
      return { ...base, serial, contractId, contractStatus, sisRequested, dns, status: REGISTERED, lastResult: "OK", lastMessage: "", registeredAt: at };
    }
    case "VpnRegistrationFailed":
      // gemSpec_VPN_ZugD: a failed (re-)registration leaves the Konnektor unregistered.
      return {
        ...base,
        serial: e.data.serial,
        contractId: e.data.contractId,
        ...unregistered,
        dns: NO_DNS(),
        lastResult: e.data.code,
        lastMessage: e.data.message,
        registeredAt: "",
      };
    case "VpnDeregistered":
      return { ...base, ...unregistered, dns: NO_DNS(), lastResult: "OK", lastMessage: "deregistered", registeredAt: "" };
    case "VpnDeregistrationFailed":
      // ... and a failed deregistration leaves it registered.
      return { ...base, lastResult: e.data.code, lastMessage: e.data.message };
    case "MtuChanged":
      return { ...base, mtu: e.data.mtu };
    case "VpnBlocked":
      return {
        ...base,
        serial: e.data.serial,
        ...unregistered,
        dns: NO_DNS(),
        blocked: true,
        blockedReason: e.data.reason,
        registeredAt: "",
        lastMessage: `Sperrung: ${e.data.reason}`,
      };
    case "VpnUnblocked":
      return { ...base, blocked: false, blockedReason: "", lastMessage: "Sperrung lifted: register again for TI access" };
  }
}

export const registrationDecider: Decider<RegistrationState, RegistrationCommand, RegistrationEvent> = { initialState: initialRegistration, decide, evolve };
