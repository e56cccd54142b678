/** Nest injection tokens of the services' gRPC clients. */
export const TENANCY = Symbol("TenancyApi");
export const HSM = Symbol("HsmApi");
export const CARD_TERMINAL = Symbol("CardTerminalApi");
export const VSDM = Symbol("VsdmApi");
/** The DeadLetterService clients of the services that consume other services' events. */
export const DEAD_LETTERS = Symbol("DeadLetterApi[]");
export const VPN = Symbol("VpnApi");
export const KSR = Symbol("KsrApi");
export const ZUGANGSMODUL = Symbol("ZugangsmodulApi");
export const LOGGER = Symbol("Logger | null");
export const SOAP = Symbol("SoapEndpoints");
