import { createHmac, randomBytes } from "node:crypto";
import { ApiError, type Api } from "../client.js";

/**
 * A simulated eHealth card terminal, driven through the admin API as a technician's tool would:
 * it gets a real gSMC-KT (key and certificate in the test PKI; the key stays in hsm, which answers
 * the connect challenge for the card and signs nothing else), is registered and paired, and connects
 * by proving its gSMC-KT key and the pairing secret on the Konnektor's challenge. Reused by the VPN-box simulator later.
 */
export class SimulatedTerminal {
  private secret?: Buffer;
  certSerial = "";

  constructor(
    private readonly api: Api,
    readonly ctId: string,
  ) {}

  async create(): Promise<void> {
    const cert = await this.api.post<{ certSerial: string }>("/api/v1/sim/cards", { cardType: "GSMC_KT", keyType: "ecc", holder: `gSMC-KT ${this.ctId}` });
    this.certSerial = cert.certSerial;
    const mac = `02:00:${randomBytes(4).toString("hex").match(/../g)!.join(":")}`.toUpperCase();
    await this.api.post("/api/v1/terminals", { ctId: this.ctId, mac, address: "127.0.0.1", vendor: "tigw-sim", model: "eHealth-KT-Sim", firmware: "1.0.0" });
  }

  async pair(unit: string): Promise<void> {
    const r = await this.api.post<{ pairingSecret: string }>(`/api/v1/terminals/${encodeURIComponent(this.ctId)}/pair`, { unit, certSerial: this.certSerial });
    this.secret = Buffer.from(r.pairingSecret, "base64");
  }

  async connect(): Promise<void> {
    const path = `/api/v1/terminals/${encodeURIComponent(this.ctId)}`;
    const { challenge } = await this.api.post<{ challenge: string }>(`${path}/connect/begin`, {});
    const { signature } = await this.api.post<{ signature: string }>(`/api/v1/sim/cards/${this.certSerial}/connect-proof`, { ctId: this.ctId, challenge });
    const secretProof = createHmac("sha256", this.secret ?? randomBytes(32))
      .update(Buffer.from(challenge, "base64"))
      .digest("base64");
    await this.api.post(`${path}/connect/complete`, { challenge, signature, secretProof });
  }

  heartbeat(): Promise<unknown> {
    return this.api.post(`/api/v1/terminals/${encodeURIComponent(this.ctId)}/heartbeat`, {});
  }
}

export interface SimulationResult {
  admitted: string[];
  refused: { ctId: string; code: string }[];
  pairingMs: number[];
}

/** Creates, pairs and connects `count` terminals on a unit (and assigns them to a Mandant). */
export async function simulateTerminals(
  api: Api,
  o: { unit: string; mandant?: string; count: number; prefix: string; concurrency?: number },
): Promise<{ result: SimulationResult; terminals: SimulatedTerminal[] }> {
  const result: SimulationResult = { admitted: [], refused: [], pairingMs: [] };
  const terminals: SimulatedTerminal[] = [];
  if (o.mandant) await api.post(`/api/v1/units/${encodeURIComponent(o.unit)}/infomodell`, { action: "mandant", mandantId: o.mandant });
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < o.count; i = next++) {
      const t = new SimulatedTerminal(api, `${o.prefix}${String(i + 1).padStart(3, "0")}`);
      await t.create();
      const t0 = performance.now();
      try {
        await t.pair(o.unit);
      } catch (e) {
        if (e instanceof ApiError) {
          result.refused.push({ ctId: t.ctId, code: e.code });
          continue;
        }
        throw e;
      }
      result.pairingMs.push(performance.now() - t0);
      await t.connect();
      if (o.mandant) await api.post(`/api/v1/units/${encodeURIComponent(o.unit)}/infomodell`, { action: "terminal", mandantId: o.mandant, ctId: t.ctId });
      result.admitted.push(t.ctId);
      terminals.push(t);
    }
  };
  await Promise.all(Array.from({ length: o.concurrency ?? 4 }, worker));
  return { result, terminals };
}
