import type { Client } from "@grpc/grpc-js";
import { call, createClient } from "@tigw/platform";
import { HsmServiceClient } from "@tigw/contracts/hsm/v1/hsm";
import type * as hsm from "@tigw/contracts/hsm/v1/hsm";
import { TenancyServiceClient } from "@tigw/contracts/tenancy/v1/tenancy";
import { CardTerminalServiceClient } from "@tigw/contracts/cardterminal/v1/card_terminal";
import type * as kt from "@tigw/contracts/cardterminal/v1/card_terminal";
import { VsdmServiceClient } from "@tigw/contracts/vsdm/v1/vsdm";
import type * as vsdm from "@tigw/contracts/vsdm/v1/vsdm";
import type * as tenancy from "@tigw/contracts/tenancy/v1/tenancy";
import { DeadLetterServiceClient } from "@tigw/contracts/events/v1/dead_letters";
import type * as events from "@tigw/contracts/events/v1/dead_letters";
import { VpnServiceClient } from "@tigw/contracts/vpn/v1/vpn";
import { KsrServiceClient } from "@tigw/contracts/ksr/v1/ksr";
import type * as ksr from "@tigw/contracts/ksr/v1/ksr";
import type * as vpn from "@tigw/contracts/vpn/v1/vpn";
import { ZugangsmodulServiceClient } from "@tigw/contracts/vpn/v1/zugangsmodul";
import type * as zm from "@tigw/contracts/vpn/v1/zugangsmodul";

type Rpc<Req, Res> = (req: Req) => Promise<Res>;
type ClientCtor = new (address: string, creds: never, options?: object) => Client;

/** Promise-returning calls with a deadline for the named unary methods of a generated client. */
function promiseApi<Api>(Ctor: ClientCtor, address: string, methods: readonly string[], deadlineMs: number): Api & { close(): void } {
  const client = createClient(Ctor as never, address, { deadlineMs }) as Client & Record<string, (...a: unknown[]) => unknown>;
  const api: Record<string, unknown> = { close: () => client.close() };
  for (const m of methods) {
    const method = client[m]!.bind(client);
    api[m] = (req: unknown) => call(method as never, req);
  }
  return api as Api & { close(): void };
}

/** The gateway's view of tigw.tenancy.v1.TenancyService. */
export interface TenancyApi {
  createUnit: Rpc<tenancy.CreateUnitRequest, tenancy.CreateUnitResponse>;
  changeUnitState: Rpc<tenancy.ChangeUnitStateRequest, tenancy.ChangeUnitStateResponse>;
  getUnit: Rpc<tenancy.GetUnitRequest, tenancy.GetUnitResponse>;
  listUnits: Rpc<tenancy.ListUnitsRequest, tenancy.ListUnitsResponse>;
  addMandant: Rpc<tenancy.AddMandantRequest, tenancy.AddMandantResponse>;
  listMandanten: Rpc<tenancy.ListMandantenRequest, tenancy.ListMandantenResponse>;
  importLicence: Rpc<tenancy.ImportLicenceRequest, tenancy.ImportLicenceResponse>;
  listProfiles: Rpc<tenancy.ListProfilesRequest, tenancy.ListProfilesResponse>;
  close(): void;
}

/** The gateway's view of tigw.hsm.v1.HsmService. */
export interface HsmApi {
  getSecurityModule: Rpc<hsm.GetSecurityModuleRequest, hsm.GetSecurityModuleResponse>;
  listExpiries: Rpc<hsm.ListExpiriesRequest, hsm.ListExpiriesResponse>;
  attemptLzv: Rpc<hsm.AttemptLzvRequest, hsm.AttemptLzvResponse>;
  revokeUnit: Rpc<hsm.RevokeUnitRequest, hsm.RevokeUnitResponse>;
  getCertificate: Rpc<hsm.GetCertificateRequest, hsm.GetCertificateResponse>;
  getTrustAnchors: Rpc<hsm.GetTrustAnchorsRequest, hsm.GetTrustAnchorsResponse>;
  getOcspStatus: Rpc<hsm.GetOcspStatusRequest, hsm.GetOcspStatusResponse>;
  getClock: Rpc<hsm.GetClockRequest, hsm.GetClockResponse>;
  advanceClock: Rpc<hsm.AdvanceClockRequest, hsm.AdvanceClockResponse>;
  issueCard: Rpc<hsm.IssueCardRequest, hsm.IssueCardResponse>;
  getCardCertificates: Rpc<hsm.GetCardCertificatesRequest, hsm.GetCardCertificatesResponse>;
  sign: Rpc<hsm.SignRequest, hsm.SignResponse>;
  proveTerminalKey: Rpc<hsm.ProveTerminalKeyRequest, hsm.ProveTerminalKeyResponse>;
  issueTlsServerCertificate: Rpc<hsm.IssueTlsServerCertificateRequest, hsm.IssueTlsServerCertificateResponse>;
  close(): void;
}

/** The gateway's view of tigw.cardterminal.v1.CardTerminalService. */
export interface CardTerminalApi {
  addTerminal: Rpc<kt.AddTerminalRequest, kt.AddTerminalResponse>;
  pairTerminal: Rpc<kt.PairTerminalRequest, kt.PairTerminalResponse>;
  beginConnect: Rpc<kt.BeginConnectRequest, kt.BeginConnectResponse>;
  completeConnect: Rpc<kt.CompleteConnectRequest, kt.CompleteConnectResponse>;
  heartbeat: Rpc<kt.HeartbeatRequest, kt.HeartbeatResponse>;
  disconnect: Rpc<kt.DisconnectRequest, kt.DisconnectResponse>;
  unpairTerminal: Rpc<kt.UnpairTerminalRequest, kt.UnpairTerminalResponse>;
  getTerminal: Rpc<kt.GetTerminalRequest, kt.GetTerminalResponse>;
  listTerminals: Rpc<kt.ListTerminalsRequest, kt.ListTerminalsResponse>;
  insertCard: Rpc<kt.InsertCardRequest, kt.InsertCardResponse>;
  removeCard: Rpc<kt.RemoveCardRequest, kt.RemoveCardResponse>;
  listCards: Rpc<kt.ListCardsRequest, kt.ListCardsResponse>;
  configureInfomodell: Rpc<kt.ConfigureInfomodellRequest, kt.ConfigureInfomodellResponse>;
  getInfomodell: Rpc<kt.GetInfomodellRequest, kt.GetInfomodellResponse>;
  checkAccess: Rpc<kt.CheckAccessRequest, kt.CheckAccessResponse>;
  verifyPin: Rpc<kt.VerifyPinRequest, kt.VerifyPinResponse>;
  getPinStatus: Rpc<kt.GetPinStatusRequest, kt.GetPinStatusResponse>;
  enterPin: Rpc<kt.EnterPinRequest, kt.EnterPinResponse>;
  changePin: Rpc<kt.ChangePinRequest, kt.ChangePinResponse>;
  unblockPin: Rpc<kt.UnblockPinRequest, kt.UnblockPinResponse>;
  setClientAuth: Rpc<kt.SetClientAuthRequest, kt.SetClientAuthResponse>;
  setClientSystemCredential: Rpc<kt.SetClientSystemCredentialRequest, kt.SetClientSystemCredentialResponse>;
  authenticateClient: Rpc<kt.AuthenticateClientRequest, kt.AuthenticateClientResponse>;
  close(): void;
}

const TENANCY_METHODS = ["createUnit", "changeUnitState", "getUnit", "listUnits", "addMandant", "listMandanten", "importLicence", "listProfiles"] as const;
const HSM_METHODS = [
  "getSecurityModule",
  "listExpiries",
  "attemptLzv",
  "revokeUnit",
  "getCertificate",
  "getTrustAnchors",
  "getOcspStatus",
  "getClock",
  "advanceClock",
  "issueCard",
  "getCardCertificates",
  "sign",
  "proveTerminalKey",
  "issueTlsServerCertificate",
] as const;
const CARD_TERMINAL_METHODS = [
  "addTerminal",
  "pairTerminal",
  "beginConnect",
  "completeConnect",
  "heartbeat",
  "disconnect",
  "unpairTerminal",
  "getTerminal",
  "listTerminals",
  "insertCard",
  "removeCard",
  "listCards",
  "configureInfomodell",
  "getInfomodell",
  "checkAccess",
  "verifyPin",
  "getPinStatus",
  "enterPin",
  "changePin",
  "unblockPin",
  "setClientAuth",
  "setClientSystemCredential",
  "authenticateClient",
] as const;

export const tenancyApi = (address: string, deadlineMs = 10_000): TenancyApi =>
  promiseApi<TenancyApi>(TenancyServiceClient as unknown as ClientCtor, address, TENANCY_METHODS, deadlineMs);
export const hsmApi = (address: string, deadlineMs = 30_000): HsmApi =>
  promiseApi<HsmApi>(HsmServiceClient as unknown as ClientCtor, address, HSM_METHODS, deadlineMs);
export const cardTerminalApi = (address: string, deadlineMs = 30_000): CardTerminalApi =>
  promiseApi<CardTerminalApi>(CardTerminalServiceClient as unknown as ClientCtor, address, CARD_TERMINAL_METHODS, deadlineMs);

/** The gateway's view of tigw.vsdm.v1.VsdmService. */
export interface VsdmApi {
  readVsd: Rpc<vsdm.ReadVsdRequest, vsdm.ReadVsdResponse>;
  prepareEgk: Rpc<vsdm.PrepareEgkRequest, vsdm.PrepareEgkResponse>;
  listProtocol: Rpc<vsdm.ListProtocolRequest, vsdm.ListProtocolResponse>;
  setFachdienst: Rpc<vsdm.SetFachdienstRequest, vsdm.SetFachdienstResponse>;
  close(): void;
}

export const vsdmApi = (address: string, deadlineMs = 30_000): VsdmApi =>
  promiseApi<VsdmApi>(VsdmServiceClient as unknown as ClientCtor, address, ["readVsd", "prepareEgk", "listProtocol", "setFachdienst"], deadlineMs);

/** The gateway's view of tigw.events.v1.DeadLetterService (served by each consuming service). */
export interface DeadLetterApi {
  listDeadLetters: Rpc<events.ListDeadLettersRequest, events.ListDeadLettersResponse>;
  replayDeadLetter: Rpc<events.ReplayDeadLetterRequest, events.ReplayDeadLetterResponse>;
  close(): void;
}

export const deadLetterApi = (address: string, deadlineMs = 90_000): DeadLetterApi =>
  promiseApi<DeadLetterApi>(DeadLetterServiceClient as unknown as ClientCtor, address, ["listDeadLetters", "replayDeadLetter"], deadlineMs);
/** The gateway's view of tigw.vpn.v1.VpnService (registrations, TI access, Sperrung, the simulated VPN-ZugD). */
export interface VpnApi {
  register: Rpc<vpn.RegisterRequest, vpn.RegisterResponse>;
  deregister: Rpc<vpn.DeregisterRequest, vpn.DeregisterResponse>;
  getRegistration: Rpc<vpn.GetRegistrationRequest, vpn.GetRegistrationResponse>;
  listRegistrations: Rpc<vpn.ListRegistrationsRequest, vpn.ListRegistrationsResponse>;
  setMtu: Rpc<vpn.SetMtuRequest, vpn.SetMtuResponse>;
  getTiAccess: Rpc<vpn.GetTiAccessRequest, vpn.GetTiAccessResponse>;
  block: Rpc<vpn.BlockRequest, vpn.BlockResponse>;
  unblock: Rpc<vpn.UnblockRequest, vpn.UnblockResponse>;
  addContract: Rpc<vpn.AddContractRequest, vpn.AddContractResponse>;
  setFault: Rpc<vpn.SetFaultRequest, vpn.SetFaultResponse>;
  getSimulator: Rpc<vpn.GetSimulatorRequest, vpn.GetSimulatorResponse>;
  close(): void;
}

const VPN_METHODS = [
  "register",
  "deregister",
  "getRegistration",
  "listRegistrations",
  "setMtu",
  "getTiAccess",
  "block",
  "unblock",
  "addContract",
  "setFault",
  "getSimulator",
] as const;
export const vpnApi = (address: string, deadlineMs = 30_000): VpnApi =>
  promiseApi<VpnApi>(VpnServiceClient as unknown as ClientCtor, address, VPN_METHODS, deadlineMs);

/** The gateway's view of tigw.ksr.v1.KsrService (catalogue, releases, the units' firmware and updates). */
export interface KsrApi {
  listCatalogue: Rpc<ksr.ListCatalogueRequest, ksr.ListCatalogueResponse>;
  listReleases: Rpc<ksr.ListReleasesRequest, ksr.ListReleasesResponse>;
  publishRelease: Rpc<ksr.PublishReleaseRequest, ksr.PublishReleaseResponse>;
  getUnitFirmware: Rpc<ksr.GetUnitFirmwareRequest, ksr.GetUnitFirmwareResponse>;
  listUnitFirmware: Rpc<ksr.ListUnitFirmwareRequest, ksr.ListUnitFirmwareResponse>;
  changeUpdateSettings: Rpc<ksr.ChangeUpdateSettingsRequest, ksr.ChangeUpdateSettingsResponse>;
  updateUnit: Rpc<ksr.UpdateUnitRequest, ksr.UpdateUnitResponse>;
  runScheduler: Rpc<ksr.RunSchedulerRequest, ksr.RunSchedulerResponse>;
  exportOfflinePackage: Rpc<ksr.ExportOfflinePackageRequest, ksr.ExportOfflinePackageResponse>;
  installOfflinePackage: Rpc<ksr.InstallOfflinePackageRequest, ksr.InstallOfflinePackageResponse>;
  listTerminalFirmware: Rpc<ksr.ListTerminalFirmwareRequest, ksr.ListTerminalFirmwareResponse>;
  updateTerminal: Rpc<ksr.UpdateTerminalRequest, ksr.UpdateTerminalResponse>;
  close(): void;
}

const KSR_METHODS = [
  "listCatalogue",
  "listReleases",
  "publishRelease",
  "getUnitFirmware",
  "listUnitFirmware",
  "changeUpdateSettings",
  "updateUnit",
  "runScheduler",
  "exportOfflinePackage",
  "installOfflinePackage",
  "listTerminalFirmware",
  "updateTerminal",
] as const;
export const ksrApi = (address: string, deadlineMs = 60_000): KsrApi =>
  promiseApi<KsrApi>(KsrServiceClient as unknown as ClientCtor, address, KSR_METHODS, deadlineMs);

/** The gateway's view of tigw.vpn.v1.ZugangsmodulService (the practice accounts). */
export interface ZugangsmodulApi {
  registerPractice: Rpc<zm.RegisterPracticeRequest, zm.RegisterPracticeResponse>;
  authenticatePractice: Rpc<zm.AuthenticatePracticeRequest, zm.AuthenticatePracticeResponse>;
  beginTotpEnrolment: Rpc<zm.BeginTotpEnrolmentRequest, zm.BeginTotpEnrolmentResponse>;
  confirmTotpEnrolment: Rpc<zm.ConfirmTotpEnrolmentRequest, zm.ConfirmTotpEnrolmentResponse>;
  renewRecoveryCodes: Rpc<zm.RenewRecoveryCodesRequest, zm.RenewRecoveryCodesResponse>;
  getPractice: Rpc<zm.GetPracticeRequest, zm.GetPracticeResponse>;
  listPractices: Rpc<zm.ListPracticesRequest, zm.ListPracticesResponse>;
  bindPractice: Rpc<zm.BindPracticeRequest, zm.BindPracticeResponse>;
  unbindPractice: Rpc<zm.UnbindPracticeRequest, zm.UnbindPracticeResponse>;
  blockPractice: Rpc<zm.BlockPracticeRequest, zm.BlockPracticeResponse>;
  unblockPractice: Rpc<zm.UnblockPracticeRequest, zm.UnblockPracticeResponse>;
  resetPracticeTotp: Rpc<zm.ResetPracticeTotpRequest, zm.ResetPracticeTotpResponse>;
  grantDvoAccess: Rpc<zm.GrantDvoAccessRequest, zm.GrantDvoAccessResponse>;
  revokeDvoAccess: Rpc<zm.RevokeDvoAccessRequest, zm.RevokeDvoAccessResponse>;
  createBoxEnrolment: Rpc<zm.CreateBoxEnrolmentRequest, zm.CreateBoxEnrolmentResponse>;
  listBoxes: Rpc<zm.ListBoxesRequest, zm.ListBoxesResponse>;
  removeBox: Rpc<zm.RemoveBoxRequest, zm.RemoveBoxResponse>;
  getZugangsmodulEndpoint: Rpc<zm.GetZugangsmodulEndpointRequest, zm.GetZugangsmodulEndpointResponse>;
  announceKonnektorEndpoint: Rpc<zm.AnnounceKonnektorEndpointRequest, zm.AnnounceKonnektorEndpointResponse>;
  close(): void;
}

const ZUGANGSMODUL_METHODS = [
  "registerPractice",
  "authenticatePractice",
  "beginTotpEnrolment",
  "confirmTotpEnrolment",
  "renewRecoveryCodes",
  "getPractice",
  "listPractices",
  "bindPractice",
  "unbindPractice",
  "blockPractice",
  "unblockPractice",
  "resetPracticeTotp",
  "grantDvoAccess",
  "revokeDvoAccess",
  "createBoxEnrolment",
  "listBoxes",
  "removeBox",
  "getZugangsmodulEndpoint",
  "announceKonnektorEndpoint",
] as const;
export const zugangsmodulApi = (address: string, deadlineMs = 30_000): ZugangsmodulApi =>
  promiseApi<ZugangsmodulApi>(ZugangsmodulServiceClient as unknown as ClientCtor, address, ZUGANGSMODUL_METHODS, deadlineMs);
