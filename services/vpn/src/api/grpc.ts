import { unary, type GrpcServiceBinding } from "@tigw/platform";
import * as pb from "@tigw/contracts/vpn/v1/vpn";
import * as zm from "@tigw/contracts/vpn/v1/zugangsmodul";
import type { RegistrationView, Vpn } from "../application/vpn.js";
import type { PracticeView, Zugangsmodul } from "../application/zugangsmodul.js";
import type { BoxView, VpnBoxes } from "../application/boxes.js";
import { ZUGANGSMODUL_SERVER_NAME } from "../zugangsmodul/endpoint.js";
import type { KonnektorAddresses } from "../zugangsmodul/konnektors.js";
import type { VpnZugdSimulator } from "../vpnzugd/simulator.js";

export function toRegistration(r: RegistrationView): pb.Registration {
  return {
    unitId: r.unitId,
    serial: r.serial,
    registrationStatus: r.status,
    contractStatus: r.contractStatus,
    contractId: r.contractId,
    sisRequested: r.sisRequested,
    dns: { ...r.dns },
    mtu: r.mtu,
    tiTunnel: { ...r.tiTunnel },
    sisTunnel: { ...r.sisTunnel },
    blocked: r.blocked,
    blockedReason: r.blockedReason,
    lastResult: r.lastResult,
    lastMessage: r.lastMessage,
    registeredAt: r.registeredAt,
    updatedAt: r.updatedAt,
    tiAccess: r.verdict.tiAccess,
    sisAccess: r.verdict.sisAccess,
    tiAccessReasons: r.verdict.reasons,
    version: String(r.version),
  };
}

/** tigw.vpn.v1.VpnService over the application and the simulated VPN-ZugD. */
export function vpnGrpc(v: Vpn, zugd: VpnZugdSimulator): GrpcServiceBinding {
  const reply = (r: RegistrationView) => ({ registration: toRegistration(r) });
  const impl: pb.VpnServiceServer = {
    register: unary(async (r: pb.RegisterRequest) => reply(await v.register(r.unit, r.contractId, r.sis))),
    deregister: unary(async (r: pb.DeregisterRequest) => reply(await v.deregister(r.unit))),
    getRegistration: unary(async (r: pb.GetRegistrationRequest) => reply(await v.view(r.unit))),
    listRegistrations: unary(async () => ({ registrations: (await v.list()).map(toRegistration) })),
    setMtu: unary(async (r: pb.SetMtuRequest) => reply(await v.setMtu(r.unit, r.mtu))),
    getTiAccess: unary(async (r: pb.GetTiAccessRequest) => v.tiAccess(r.unit)),
    block: unary(async (r: pb.BlockRequest) => reply(await v.block(r.serial, r.contractId, r.reason, (s, c, why) => zugd.block(s, c, why)))),
    unblock: unary(async (r: pb.UnblockRequest) => reply(await v.unblock(r.serial, r.contractId, (s, c) => zugd.unblock(s, c)))),
    addContract: unary(async (r: pb.AddContractRequest) => ({
      contract: await zugd.addContract({ contractId: r.contractId, customer: r.customer, sis: r.sis }),
    })),
    setFault: unary(async (r: pb.SetFaultRequest) => ({ faults: zugd.setFault(r.fault, r.on) })),
    getSimulator: unary(async () => ({ url: zugd.url, contracts: await zugd.contracts(), faults: zugd.activeFaults(), blocks: await zugd.blocks() })),
  };
  return { name: "tigw.vpn.v1.VpnService", definition: pb.VpnServiceService, implementation: impl };
}

export function toPractice(p: PracticeView): zm.Practice {
  return { ...p, bindings: p.bindings.map((b) => ({ ...b })), grants: p.grants.map((g) => ({ ...g })), version: String(p.version) };
}

/**
 * tigw.vpn.v1.ZugangsmodulService: the practice accounts. Authentication of people is the
 * caller's (the gateway's portal and operator API); answers never carry a password or, after
 * enrolment, a TOTP secret.
 */
export const toBox = (b: BoxView): zm.VpnBox => ({ ...b });

export function zugangsmodulGrpc(
  z: Zugangsmodul,
  boxes: VpnBoxes,
  endpoint: { publicAddress: string; trustPems: string[] },
  konnektors: KonnektorAddresses,
): GrpcServiceBinding {
  const reply = (p: PracticeView) => ({ practice: toPractice(p) });
  const impl: zm.ZugangsmodulServiceServer = {
    registerPractice: unary(async (r: zm.RegisterPracticeRequest) => reply(await z.register(r.account, r.password, r.practiceName))),
    authenticatePractice: unary(async (r: zm.AuthenticatePracticeRequest) => reply(await z.authenticate(r.account, r.password, r.totp))),
    beginTotpEnrolment: unary(async (r: zm.BeginTotpEnrolmentRequest) => z.beginTotp(r.account)),
    confirmTotpEnrolment: unary(async (r: zm.ConfirmTotpEnrolmentRequest) => {
      const c = await z.confirmTotp(r.account, r.code);
      return { ...reply(c.practice), recoveryCodes: c.recoveryCodes };
    }),
    renewRecoveryCodes: unary(async (r: zm.RenewRecoveryCodesRequest) => {
      const c = await z.renewRecoveryCodes(r.account, r.password);
      return { ...reply(c.practice), recoveryCodes: c.recoveryCodes };
    }),
    getPractice: unary(async (r: zm.GetPracticeRequest) => reply(await z.view(r.account))),
    listPractices: unary(async () => ({ practices: (await z.list()).map(toPractice) })),
    bindPractice: unary(async (r: zm.BindPracticeRequest) => reply(await z.bind(r.account, r.unit, r.mandantId, r.by))),
    unbindPractice: unary(async (r: zm.UnbindPracticeRequest) => reply(await z.unbind(r.account, r.unit, r.mandantId, r.by))),
    blockPractice: unary(async (r: zm.BlockPracticeRequest) => reply(await z.block(r.account, r.reason, r.by))),
    unblockPractice: unary(async (r: zm.UnblockPracticeRequest) => reply(await z.unblock(r.account, r.by))),
    resetPracticeTotp: unary(async (r: zm.ResetPracticeTotpRequest) => reply(await z.resetTotp(r.account, r.by))),
    grantDvoAccess: unary(async (r: zm.GrantDvoAccessRequest) => {
      const p = await z.grantDvo(r.account, r.unit, r.technician, r.hours);
      return { practice: toPractice(p), grant: p.grants.find((g) => g.grantId === p.grantId) };
    }),
    revokeDvoAccess: unary(async (r: zm.RevokeDvoAccessRequest) => reply(await z.revokeDvo(r.account, r.grantId))),
    createBoxEnrolment: unary(async (r: zm.CreateBoxEnrolmentRequest) => {
      const { box, code } = await boxes.announce(r.account, r.name);
      return { box: toBox(box), enrolmentCode: code, zugangsmodulAddress: endpoint.publicAddress, trustPems: endpoint.trustPems };
    }),
    listBoxes: unary(async (r: zm.ListBoxesRequest) => ({ boxes: (await boxes.list(r.account || undefined)).map(toBox) })),
    getZugangsmodulEndpoint: unary(async () => ({ address: endpoint.publicAddress, trustPems: endpoint.trustPems, serverName: ZUGANGSMODUL_SERVER_NAME })),
    removeBox: unary(async (r: zm.RemoveBoxRequest) => ({ box: toBox(await boxes.remove(r.account, r.boxId, r.account)) })),
    announceKonnektorEndpoint: unary(async (r: zm.AnnounceKonnektorEndpointRequest) => (await konnektors.announce(r.unitId, r.address), {})),
  };
  return { name: "tigw.vpn.v1.ZugangsmodulService", definition: zm.ZugangsmodulServiceService, implementation: impl };
}
