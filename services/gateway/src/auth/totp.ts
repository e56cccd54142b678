// TOTP (RFC 6238) is shared by operators (here) and practices (vpn): one implementation in the platform.
export { base32Decode, base32Encode, hotp, matchingStep, newTotpSecret, stepOf, totpAt } from "@tigw/platform";
