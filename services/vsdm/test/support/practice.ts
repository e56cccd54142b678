import { createHmac, randomBytes } from "node:crypto";
import { callByName, createClient, EmbeddedBus, embeddedSql, type EventBus, type Sql } from "@tigw/platform";
import { CardTerminalServiceClient } from "@tigw/contracts/cardterminal/v1/card_terminal";
import { HsmServiceClient } from "@tigw/contracts/hsm/v1/hsm";
import { TenancyServiceClient } from "@tigw/contracts/tenancy/v1/tenancy";
import { VsdmServiceClient } from "@tigw/contracts/vsdm/v1/vsdm";
import { startCardTerminal, type RunningCardTerminal } from "@tigw/card-terminal";
import { ClockControl, startHsm, type RunningHsm } from "@tigw/hsm";
import { loadProfiles, startTenancy, type RunningTenancy } from "@tigw/tenancy";
import { startVsdm, type RunningVsdm, type VsdmServiceOptions } from "../../src/index.js";

export const UNIT = "RZK-VSD-0001";
export const KT = "KT-VSD-1";

export type Rpc = <Res>(client: object, method: string, req: object) => Promise<Res>;
export const rpc: Rpc = callByName;

export interface Practice {
  /** The bus and clock the services share (for a further service a test starts beside them). */
  bus: EventBus;
  clock: ClockControl;
  tenancy: RunningTenancy;
  hsm: RunningHsm;
  cardTerminal: RunningCardTerminal;
  vsdm: RunningVsdm;
  clients: { t: TenancyServiceClient; h: HsmServiceClient; c: CardTerminalServiceClient; v: VsdmServiceClient };
  /** The services' databases (vsdm's in the schema `vsdmContext`). */
  sql: { tenancy: Sql; hsm: Sql; cardTerminal: Sql; vsdm: Sql };
  vsdmContext: string;
  /** Handle of the Mandant M1's SMC-B (PIN 123456, not yet verified) in slot 2 of KT-VSD-1. */
  smcbHandle: string;
  insert(slot: number, cardType: string, iccsn: string, certSerial: string, pin?: string): Promise<string>;
  /** M1's SMC-B taken out of slot 2 and inserted again: its new handle, PIN not verified (the state a test starts from). */
  reinsertSmcb(): Promise<string>;
  /** Stops vsdm and starts it again on the same database (clients.v is replaced), with `extra` options from then on. */
  restartVsdm(extra?: Partial<VsdmServiceOptions>): Promise<VsdmServiceClient>;
  stop(): Promise<void>;
}

/**
 * A practice on one unit, every service real over gRPC on the embedded adapters: Mandanten M1
 * and M2, a paired and connected terminal (local to M1's workplace AP1, remote to M2's AP9),
 * M1's SMC-B inserted. Used by the ReadVSD tests and the ReadVSD benchmark.
 */
export async function setUpPractice(o: { populationSize?: number; producedOn?: string; vsdm?: { sql: Sql; context: string } } = {}): Promise<Practice> {
  const bus = await EmbeddedBus.open(await embeddedSql());
  // A simulated clock (starting now), so a test can let the maximum offline period pass.
  const clock = await ClockControl.simulated(await embeddedSql(), "clock", new Date());
  const sql = { tenancy: await embeddedSql(), hsm: await embeddedSql(), cardTerminal: await embeddedSql(), vsdm: o.vsdm?.sql ?? (await embeddedSql()) };
  const vsdmContext = o.vsdm?.context ?? "vsdm";
  const tenancy = await startTenancy({ sql: sql.tenancy, bus, clock, profiles: loadProfiles(), vendorKeys: [] });
  const hsm = await startHsm({ sql: sql.hsm, bus, clock, masterKey: randomBytes(32) });
  const cardTerminal = await startCardTerminal({
    sql: sql.cardTerminal,
    bus,
    clock,
    masterKey: randomBytes(32),
    tenancyAddress: tenancy.address,
    hsmAddress: hsm.address,
  });
  let extraOptions: Partial<VsdmServiceOptions> = {};
  const startVsdmHere = () =>
    startVsdm({
      sql: sql.vsdm,
      context: vsdmContext,
      bus,
      clock,
      tenancyAddress: tenancy.address,
      hsmAddress: hsm.address,
      cardTerminalAddress: cardTerminal.address,
      population: { size: o.populationSize ?? 2000, seed: 1 },
      ...extraOptions,
    });
  let vsdm = await startVsdmHere();
  const t = createClient(TenancyServiceClient, tenancy.address, { deadlineMs: 60_000 });
  const h = createClient(HsmServiceClient, hsm.address, { deadlineMs: 60_000 });
  const c = createClient(CardTerminalServiceClient, cardTerminal.address, { deadlineMs: 60_000 });
  let v = createClient(VsdmServiceClient, vsdm.address, { deadlineMs: 60_000 });
  const conf = (action: string, over: object) =>
    rpc(c, "configureInfomodell", {
      unit: UNIT,
      action,
      mandantId: "",
      clientSystemId: "",
      workplaceId: "",
      clientSystemIds: [],
      ctId: "",
      kind: "",
      iccsn: "",
      ...over,
    });
  const insert = async (slot: number, cardType: string, iccsn: string, certSerial: string, pin = "") =>
    (await rpc<{ card: { cardHandle: string } }>(c, "insertCard", { ctId: KT, slot, cardType, iccsn, certSerial, pin })).card.cardHandle;

  await rpc(t, "createUnit", { serial: UNIT, profile: "rz", firmware: "", producedOn: o.producedOn ?? "" });
  for (const m of ["M1", "M2"]) await rpc(t, "addMandant", { unit: UNIT, mandantId: m, name: `Praxis ${m}`, bsnr: "", smcbIccsn: "" });
  const gsmckt = (
    await rpc<{ certificate: { certSerial: string } }>(h, "issueCard", {
      cardType: "GSMC_KT",
      keyType: "ecc",
      holder: KT,
      iccsn: "",
      notBefore: "",
      validityYears: 5,
    })
  ).certificate.certSerial;
  await rpc(c, "addTerminal", { ctId: KT, mac: "00:0D:F8:00:00:01", address: "", vendor: "ORGA", model: "6141", firmware: "3.9.0" });
  const { pairingSecret } = await rpc<{ pairingSecret: Buffer }>(c, "pairTerminal", { ctId: KT, unit: UNIT, certSerial: gsmckt });
  const { challenge } = await rpc<{ challenge: Buffer }>(c, "beginConnect", { ctId: KT });
  const { signature } = await rpc<{ signature: Buffer }>(h, "proveTerminalKey", { certSerial: gsmckt, ctId: KT, challenge });
  await rpc(c, "completeConnect", { ctId: KT, challenge, signature, secretProof: createHmac("sha256", pairingSecret).update(challenge).digest() });
  await conf("mandant", { mandantId: "M1" });
  await conf("mandant", { mandantId: "M2" });
  await conf("client-system", { mandantId: "M1", clientSystemId: "PVS1" });
  await conf("client-system", { mandantId: "M2", clientSystemId: "PVS2" });
  await conf("workplace", { mandantId: "M1", workplaceId: "AP1", clientSystemIds: ["PVS1"] });
  await conf("workplace", { mandantId: "M2", workplaceId: "AP9", clientSystemIds: ["PVS2"] });
  await conf("terminal", { mandantId: "M1", ctId: KT });
  await conf("workplace-terminal", { workplaceId: "AP1", ctId: KT, kind: "local" });
  await conf("workplace-terminal", { workplaceId: "AP9", ctId: KT, kind: "remote" });
  const smcb = (
    await rpc<{ certificate: { certSerial: string; iccsn: string } }>(h, "issueCard", {
      cardType: "SMCB",
      keyType: "ecc",
      holder: "Praxis M1",
      iccsn: "",
      notBefore: "",
      validityYears: 5,
    })
  ).certificate;
  await conf("smb", { mandantId: "M1", iccsn: smcb.iccsn });
  const smcbHandle = await insert(2, "SMC-B", smcb.iccsn, smcb.certSerial, "123456");
  const practice: Practice = {
    bus,
    clock,
    tenancy,
    hsm,
    cardTerminal,
    vsdm,
    clients: { t, h, c, v },
    sql,
    vsdmContext,
    smcbHandle,
    insert,
    reinsertSmcb: async () => {
      await rpc(c, "removeCard", { ctId: KT, slot: 2 });
      return (practice.smcbHandle = await insert(2, "SMC-B", smcb.iccsn, smcb.certSerial, "123456"));
    },
    restartVsdm: async (extra) => {
      if (extra) extraOptions = { ...extraOptions, ...extra };
      v.close();
      await vsdm.stop();
      practice.vsdm = vsdm = await startVsdmHere();
      practice.clients.v = v = createClient(VsdmServiceClient, vsdm.address, { deadlineMs: 60_000 });
      return v;
    },
    stop: async () => {
      for (const x of [t, h, c, v]) x.close();
      await vsdm.stop();
      await cardTerminal.stop();
      await hsm.stop();
      await tenancy.stop();
      await bus.close();
    },
  };
  return practice;
}
