/** Nest injection tokens of the services' gRPC clients. */
export const TENANCY = Symbol("TenancyApi");
export const HSM = Symbol("HsmApi");
export const CARD_TERMINAL = Symbol("CardTerminalApi");
export const VSDM = Symbol("VsdmApi");
export const VPN = Symbol("VpnApi");
