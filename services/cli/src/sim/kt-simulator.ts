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
  private mac = "";
  certSerial = "";

  /**
   * `box`: the practice network's side of a VPN box (`tigw sim vpnbox --listen`): the terminal
   * then pairs, connects and beats through the box's tunnel for `mandant`, as a terminal in the
   * practice does; its gSMC-KT (the card in the terminal) is still the test PKI's, through `api`.
   */
  constructor(
    private readonly api: Api,
    readonly ctId: string,
    private readonly box?: { api: Api; mandant: string },
  ) {}

  /** Where the terminal's own calls go: the operators' API, or the box's tunnel. */
  private get side(): { api: Api; path: string } {
    const id = encodeURIComponent(this.ctId);
    return this.box ? { api: this.box.api, path: `/v1/terminals/${id}` } : { api: this.api, path: `/api/v1/terminals/${id}` };
  }

  async create(): Promise<void> {
    const cert = await this.api.post<{ certSerial: string }>("/api/v1/sim/cards", { cardType: "GSMC_KT", keyType: "ecc", holder: `gSMC-KT ${this.ctId}` });
    this.certSerial = cert.certSerial;
    this.mac = `02:00:${randomBytes(4).toString("hex").match(/../g)!.join(":")}`.toUpperCase();
    // Through a box the pairing registers the terminal itself.
    if (!this.box)
      await this.api.post("/api/v1/terminals", {
        ctId: this.ctId,
        mac: this.mac,
        address: "127.0.0.1",
        vendor: "tigw-sim",
        model: "eHealth-KT-Sim",
        firmware: "1.0.0",
      });
  }

  async pair(unit: string): Promise<void> {
    const r = this.box
      ? await this.box.api.post<{ pairingSecret: string }>("/v1/terminals", {
          ctId: this.ctId,
          mac: this.mac,
          certSerial: this.certSerial,
          mandantId: this.box.mandant,
        })
      : await this.api.post<{ pairingSecret: string }>(`/api/v1/terminals/${encodeURIComponent(this.ctId)}/pair`, { unit, certSerial: this.certSerial });
    this.secret = Buffer.from(r.pairingSecret, "base64");
  }

  async connect(): Promise<void> {
    const { api, path } = this.side;
    const { challenge } = await api.post<{ challenge: string }>(`${path}/connect/begin`, {});
    const { signature } = await this.api.post<{ signature: string }>(`/api/v1/sim/cards/${this.certSerial}/connect-proof`, { ctId: this.ctId, challenge });
    const secretProof = createHmac("sha256", this.secret ?? randomBytes(32))
      .update(Buffer.from(challenge, "base64"))
      .digest("base64");
    await api.post(`${path}/connect/complete`, { challenge, signature, secretProof });
  }

  heartbeat(): Promise<unknown> {
    const { api, path } = this.side;
    return api.post(`${path}/heartbeat`, {});
  }
}

export interface SimulationResult {
  admitted: string[];
  refused: { ctId: string; code: string }[];
  pairingMs: number[];
}

/** Creates, pairs and connects `count` terminals on a unit (and assigns them to a Mandant), or through a practice's VPN box (`via`). */
export async function simulateTerminals(
  api: Api,
  o: { unit: string; mandant?: string; count: number; prefix: string; concurrency?: number; via?: Api },
): Promise<{ result: SimulationResult; terminals: SimulatedTerminal[] }> {
  const result: SimulationResult = { admitted: [], refused: [], pairingMs: [] };
  const terminals: SimulatedTerminal[] = [];
  const box = o.via && o.mandant ? { api: o.via, mandant: o.mandant } : undefined;
  if (o.mandant && !box) await api.post(`/api/v1/units/${encodeURIComponent(o.unit)}/infomodell`, { action: "mandant", mandantId: o.mandant });
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < o.count; i = next++) {
      const t = new SimulatedTerminal(api, `${o.prefix}${String(i + 1).padStart(3, "0")}`, box);
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
      if (o.mandant && !box)
        await api.post(`/api/v1/units/${encodeURIComponent(o.unit)}/infomodell`, { action: "terminal", mandantId: o.mandant, ctId: t.ctId });
      result.admitted.push(t.ctId);
      terminals.push(t);
    }
  };
  await Promise.all(Array.from({ length: o.concurrency ?? 4 }, worker));
  return { result, terminals };
}
