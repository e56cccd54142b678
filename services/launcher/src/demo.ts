import { createPrivateKey } from "node:crypto";
import { readFileSync } from "node:fs";
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
}

const praxis = (n: number, name: string) => ({ id: `btrs-${String(n).padStart(2, "0")}`, name, bsnr: String(100000000 + n * 7919).slice(0, 9), iccsn: `80276883110000${String(100000 + n).slice(-6)}` });

/**
 * A small, realistic fleet: two hosted RZ units (one full, licence raised to 75), an Einbox unit
 * from 2020 whose gSMC-K expires in 2025 and whose licence carries LZV, a stolen (blocked) one,
 * and a new one.
 */
const FLEET: DemoUnit[] = [
  { serial: "RZK-DEMO-0001", profile: "rz", firmware: "5.50.4:2.0.0", producedOn: "2024-05-14", state: "active", kts: 37, mandanten: [praxis(1, "Hausarztpraxis Dr. Ort"), praxis(2, "MVZ Friedrichstraße"), praxis(3, "Zahnarztpraxis Weiß"), praxis(4, "Physiotherapie am Park")] },
  { serial: "RZK-DEMO-0002", profile: "rz", firmware: "5.50.4:2.0.0", producedOn: "2023-02-01", state: "active", kts: 120, licenceKt: 75, mandanten: Array.from({ length: 10 }, (_, i) => praxis(10 + i, `Praxisverbund Nord, Standort ${i + 1}`)) },
  { serial: "EBK-DEMO-0003", profile: "einbox", firmware: "5.50.3:2.0.0", producedOn: "2020-11-03", state: "active", kts: 18, licenceKt: 50, mandanten: [praxis(30, "Kinderarztpraxis Sonnenschein")] },
  { serial: "EBK-DEMO-0004", profile: "einbox", firmware: "5.1.3", producedOn: "2021-06-10", state: "blocked", kts: 0, mandanten: [praxis(40, "Apotheke am Markt")] },
  { serial: "RZK-DEMO-0005", profile: "rz", firmware: "5.50.4:2.0.0", producedOn: "", state: "provisioned", kts: 0, mandanten: [] },
];

/** Seeds the demo fleet; units that exist already are left as they are. Returns the serials created. */
export async function seedDemoFleet(t: Tenancy, vendorPrivateKeyFile: string): Promise<string[]> {
  const key = createPrivateKey(readFileSync(vendorPrivateKeyFile));
  const created: string[] = [];
  for (const u of FLEET) {
    try {
      await t.createUnit({ serial: u.serial, profile: u.profile, firmware: u.firmware, producedOn: u.producedOn });
    } catch (e) {
      if (e instanceof DomainError && e.code === "SERIAL_EXISTS") continue;
      throw e;
    }
    created.push(u.serial);
    for (const m of u.mandanten) await t.addMandant(u.serial, { mandantId: m.id, name: m.name, bsnr: m.bsnr, smcbIccsn: m.iccsn });
    if (u.licenceKt) await t.importLicence(u.serial, JSON.stringify(issueLicence(key, { serial: u.serial, ktPerComputeUnit: u.licenceKt, features: ["PTV5", "LZV"] })));
    for (let i = 1; i <= u.kts; i++) await t.reserveKtSlot(u.serial, `${u.serial}-KT${String(i).padStart(3, "0")}`);
    if (u.state === "active") await t.changeState(u.serial, "activate");
    if (u.state === "blocked") await t.changeState(u.serial, "block", "Diebstahl gemeldet");
  }
  return created;
}
