import { createHmac, createPrivateKey } from "node:crypto";
import { readFileSync } from "node:fs";
import type { CardTerminals } from "@tigw/card-terminal";
import type { Hsm } from "@tigw/hsm";
import type { RunningVpn } from "@tigw/vpn";
import { DomainError } from "@tigw/platform";
import { issueLicence, type Tenancy } from "@tigw/tenancy";

interface DemoUnit {
  serial: string;
  profile: "rz" | "einbox";
  firmware: string;
  producedOn: string;
  state: "provisioned" | "active" | "blocked";
  mandanten: { id: string; name: string; bsnr: string; iccsn: string }[];
  kts: number;
  licenceKt?: number;
  /** Registered at the VPN-ZugD under this contract (with SIS when it says so). */
  vpn?: { contractId: string; sis: boolean };
}

const praxis = (n: number, name: string) => ({
  id: `btrs-${String(n).padStart(2, "0")}`,
  name,
  bsnr: String(100000000 + n * 7919).slice(0, 9),
  iccsn: `80276883110000${String(100000 + n).slice(-6)}`,
});

/**
 * A small, realistic fleet: two hosted RZ units (one full, licence raised to 75), both registered
 * at the VPN-ZugD (the second with SIS), an Einbox unit from 2020 whose gSMC-K expires in 2025
 * and whose licence carries LZV, a stolen (blocked) one, and a new one.
 */
const FLEET: DemoUnit[] = [
  {
    serial: "RZK-DEMO-0001",
    profile: "rz",
    firmware: "5.50.4:2.0.0",
    producedOn: "2024-05-14",
    state: "active",
    kts: 12,
    mandanten: [praxis(1, "Hausarztpraxis Dr. Ort"), praxis(2, "MVZ Friedrichstraße"), praxis(3, "Zahnarztpraxis Weiß"), praxis(4, "Physiotherapie am Park")],
    vpn: { contractId: "VTR-DEMO-0001", sis: false },
  },
  {
    serial: "RZK-DEMO-0002",
    profile: "rz",
    firmware: "5.50.4:2.0.0",
    producedOn: "2023-02-01",
    state: "active",
    kts: 30,
    licenceKt: 75,
    mandanten: Array.from({ length: 10 }, (_, i) => praxis(10 + i, `Praxisverbund Nord, Standort ${i + 1}`)),
    vpn: { contractId: "VTR-DEMO-0002", sis: true },
  },
  {
    serial: "EBK-DEMO-0003",
    profile: "einbox",
    firmware: "5.50.3:2.0.0",
    producedOn: "2020-11-03",
    state: "active",
    kts: 6,
    licenceKt: 50,
    mandanten: [praxis(30, "Kinderarztpraxis Sonnenschein")],
  },
  {
    serial: "EBK-DEMO-0004",
    profile: "einbox",
    firmware: "5.1.3",
    producedOn: "2021-06-10",
    state: "blocked",
    kts: 0,
    mandanten: [praxis(40, "Apotheke am Markt")],
  },
  { serial: "RZK-DEMO-0005", profile: "rz", firmware: "5.50.4:2.0.0", producedOn: "", state: "provisioned", kts: 0, mandanten: [] },
];

/**
 * What the demo does to the services: the calls an operator and the simulators make. In process
 * for `npm start` (inProcessDemo), over gRPC for `npm run start:cluster` (demo-grpc.ts).
 */
export interface DemoPorts {
  /** Refuses with DomainError SERIAL_EXISTS when the unit exists. */
  createUnit(u: { serial: string; profile: string; firmware: string; producedOn: string }): Promise<unknown>;
  addMandant(unit: string, m: { mandantId: string; name: string; bsnr: string; smcbIccsn: string }): Promise<unknown>;
  importLicence(unit: string, licenceFile: string): Promise<unknown>;
  changeState(unit: string, action: string, reason: string): Promise<unknown>;
  /** A card from the test PKI: its certificate serial. */
  issueCard(cardType: string, holder: string, iccsn: string): Promise<string>;
  /** The terminal's gSMC-KT proves its key on a connect challenge. */
  proveTerminalKey(certSerial: string, ctId: string, challenge: Buffer): Promise<Buffer>;
  addTerminal(t: { ctId: string; mac: string; address: string; vendor: string; model: string; firmware: string }): Promise<unknown>;
  /** Pairs and returns the pairing secret. */
  pair(ctId: string, unit: string, certSerial: string): Promise<Buffer>;
  beginConnect(ctId: string): Promise<Buffer>;
  completeConnect(ctId: string, challenge: Buffer, signature: Buffer, secretProof: Buffer): Promise<unknown>;
  configure(unit: string, r: InfomodellChange): Promise<unknown>;
  insertCard(ctId: string, c: { slot: number; cardType: string; iccsn: string; certSerial: string; pin: string }): Promise<unknown>;
  /** A contract at the simulated VPN-ZugD. */
  addVpnContract(contractId: string, customer: string, sis: boolean): Promise<unknown>;
  registerVpn(unit: string, contractId: string, sis: boolean): Promise<unknown>;
}

export type InfomodellChange = {
  action: string;
  mandantId: string;
  clientSystemId: string;
  workplaceId: string;
  clientSystemIds: string[];
  ctId: string;
  kind: string;
  iccsn: string;
};

/** The demo's ports on the application objects of the embedded start. */
export function inProcessDemo(s: { tenancy: Tenancy; cardTerminals: CardTerminals; hsm: Hsm; vpn: RunningVpn }): DemoPorts {
  return {
    createUnit: (u) => s.tenancy.createUnit(u),
    addMandant: (unit, m) => s.tenancy.addMandant(unit, m),
    importLicence: (unit, file) => s.tenancy.importLicence(unit, file),
    changeState: (unit, action, reason) => s.tenancy.changeState(unit, action, reason),
    issueCard: async (cardType, holder, iccsn) => (await s.hsm.issueCard({ cardType, keyType: "ecc", holder, iccsn })).serialHex,
    proveTerminalKey: (certSerial, ctId, challenge) => s.hsm.proveTerminalKey(certSerial, ctId, challenge),
    addTerminal: (t) => s.cardTerminals.add(t),
    pair: async (ctId, unit, certSerial) => (await s.cardTerminals.pair(ctId, unit, certSerial)).secret,
    beginConnect: (ctId) => s.cardTerminals.beginConnect(ctId),
    completeConnect: (ctId, challenge, signature, proof) => s.cardTerminals.completeConnect(ctId, challenge, signature, proof),
    configure: (unit, r) => s.cardTerminals.configure(unit, r),
    insertCard: (ctId, c) => s.cardTerminals.insertCard(ctId, c),
    addVpnContract: (contractId, customer, sis) => s.vpn.vpnzugd.addContract({ contractId, customer, sis }),
    registerVpn: (unit, contractId, sis) => s.vpn.vpn.register(unit, contractId, sis),
  };
}

/**
 * Seeds the demo fleet; units that exist already are left as they are. Terminals are real: a
 * gSMC-KT from the test PKI, paired (which reserves the KT slot in tenancy), connected with the
 * signature and pairing-secret proof, and assigned round-robin to the unit's Mandanten, each of
 * which also gets its SMC-B inserted (PIN 123456, not yet verified). Returns the serials created.
 */
export async function seedDemoFleet(p: DemoPorts, vendorPrivateKeyFile: string): Promise<string[]> {
  const key = createPrivateKey(readFileSync(vendorPrivateKeyFile));
  const created: string[] = [];
  for (const u of FLEET) {
    try {
      await p.createUnit({ serial: u.serial, profile: u.profile, firmware: u.firmware, producedOn: u.producedOn });
    } catch (e) {
      if (e instanceof DomainError && e.code === "SERIAL_EXISTS") continue;
      throw e;
    }
    created.push(u.serial);
    for (const m of u.mandanten) await p.addMandant(u.serial, { mandantId: m.id, name: m.name, bsnr: m.bsnr, smcbIccsn: m.iccsn });
    if (u.licenceKt)
      await p.importLicence(u.serial, JSON.stringify(issueLicence(key, { serial: u.serial, ktPerComputeUnit: u.licenceKt, features: ["PTV5", "LZV"] })));
    const ctIds = Array.from({ length: u.kts }, (_, i) => `${u.serial}-KT${String(i + 1).padStart(3, "0")}`);
    for (const [i, ctId] of ctIds.entries()) await connectTerminal(p, u.serial, ctId, i);
    await arrangePractices(p, u, ctIds);
    // The VPN-ZugD registration is signed with an inserted SM-B of a Mandant: after the practices.
    if (u.vpn) {
      await p.addVpnContract(u.vpn.contractId, u.mandanten[0]!.name, u.vpn.sis);
      await p.registerVpn(u.serial, u.vpn.contractId, u.vpn.sis);
    }
    if (u.state === "active") await p.changeState(u.serial, "activate", "");
    if (u.state === "blocked") await p.changeState(u.serial, "block", "Diebstahl gemeldet");
  }
  return created;
}

async function connectTerminal(p: DemoPorts, unit: string, ctId: string, i: number): Promise<void> {
  const gsmckt = await p.issueCard("GSMC_KT", ctId, "");
  const mac = `02:4B:36:${[i >> 16, i >> 8, i].map((b) => (b & 0xff).toString(16).padStart(2, "0")).join(":")}`.toUpperCase();
  await p.addTerminal({ ctId, mac, address: "", vendor: "ORGA", model: "6141 online", firmware: "3.9.0" });
  const secret = await p.pair(ctId, unit, gsmckt);
  const challenge = await p.beginConnect(ctId);
  await p.completeConnect(ctId, challenge, await p.proveTerminalKey(gsmckt, ctId, challenge), createHmac("sha256", secret).update(challenge).digest());
}

/** Each Mandant: in the Infomodell with a client system, a workplace, its terminals and its SMC-B. */
async function arrangePractices(p: DemoPorts, u: DemoUnit, ctIds: string[]): Promise<void> {
  const conf = (r: Partial<InfomodellChange>) =>
    p.configure(u.serial, { action: "", mandantId: "", clientSystemId: "", workplaceId: "", clientSystemIds: [], ctId: "", kind: "", iccsn: "", ...r });
  if (ctIds.length === 0) return;
  for (const [n, m] of u.mandanten.entries()) {
    const own = ctIds.filter((_, i) => i % u.mandanten.length === n);
    if (own.length === 0) continue;
    await conf({ action: "mandant", mandantId: m.id });
    await conf({ action: "client-system", mandantId: m.id, clientSystemId: `PVS-${m.id}` });
    await conf({ action: "workplace", mandantId: m.id, workplaceId: `AP1-${m.id}`, clientSystemIds: [`PVS-${m.id}`] });
    for (const ctId of own) await conf({ action: "terminal", mandantId: m.id, ctId });
    await conf({ action: "workplace-terminal", workplaceId: `AP1-${m.id}`, ctId: own[0]!, kind: "local" });
    const smcb = await p.issueCard("SMCB", m.name, m.iccsn);
    await conf({ action: "smb", mandantId: m.id, iccsn: m.iccsn });
    await p.insertCard(own[0]!, { slot: 2, cardType: "SMC-B", iccsn: m.iccsn, certSerial: smcb, pin: "123456" });
  }
}
