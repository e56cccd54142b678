import { callByName as rpc, createClient } from "@tigw/platform";
import { CardTerminalServiceClient } from "@tigw/contracts/cardterminal/v1/card_terminal";
import { HsmServiceClient } from "@tigw/contracts/hsm/v1/hsm";
import { TenancyServiceClient } from "@tigw/contracts/tenancy/v1/tenancy";
import { VpnServiceClient } from "@tigw/contracts/vpn/v1/vpn";
import type { DemoPorts } from "./demo.js";

/** The demo's ports over gRPC, for `npm run start:cluster -- --demo`. close() ends the clients. */
export function grpcDemo(a: { tenancy: string; hsm: string; cardTerminal: string; vpn: string }): DemoPorts & { close(): void } {
  const t = createClient(TenancyServiceClient, a.tenancy, { deadlineMs: 30_000 });
  const h = createClient(HsmServiceClient, a.hsm, { deadlineMs: 30_000 });
  const c = createClient(CardTerminalServiceClient, a.cardTerminal, { deadlineMs: 30_000 });
  const v = createClient(VpnServiceClient, a.vpn, { deadlineMs: 30_000 });
  return {
    createUnit: (u) => rpc(t, "createUnit", u),
    addMandant: (unit, m) => rpc(t, "addMandant", { unit, ...m }),
    importLicence: (unit, licenceFile) => rpc(t, "importLicence", { unit, licenceFile }),
    changeState: (unit, action, reason) => rpc(t, "changeUnitState", { unit, action, reason }),
    issueCard: async (cardType, holder, iccsn) =>
      (await rpc<{ certificate: { certSerial: string } }>(h, "issueCard", { cardType, keyType: "ecc", holder, iccsn, notBefore: "", validityYears: 5 }))
        .certificate.certSerial,
    proveTerminalKey: async (certSerial, ctId, challenge) =>
      Buffer.from((await rpc<{ signature: Uint8Array }>(h, "proveTerminalKey", { certSerial, ctId, challenge })).signature),
    addTerminal: (x) => rpc(c, "addTerminal", x),
    pair: async (ctId, unit, certSerial) =>
      Buffer.from((await rpc<{ pairingSecret: Uint8Array }>(c, "pairTerminal", { ctId, unit, certSerial })).pairingSecret),
    beginConnect: async (ctId) => Buffer.from((await rpc<{ challenge: Uint8Array }>(c, "beginConnect", { ctId })).challenge),
    completeConnect: (ctId, challenge, signature, secretProof) => rpc(c, "completeConnect", { ctId, challenge, signature, secretProof }),
    configure: (unit, r) => rpc(c, "configureInfomodell", { unit, ...r }),
    insertCard: (ctId, x) => rpc(c, "insertCard", { ctId, ...x }),
    addVpnContract: (contractId, customer, sis) => rpc(v, "addContract", { contractId, customer, sis }),
    registerVpn: (unit, contractId, sis) => rpc(v, "register", { unit, contractId, sis }),
    close: () => {
      for (const x of [t, h, c, v]) x.close();
    },
  };
}
