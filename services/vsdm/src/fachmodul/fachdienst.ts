import { ValidationError } from "@tigw/platform";
import type { InsuredPerson } from "../population/insured.js";

/**
 * The simulated Fachdienst (Intermediär + UFS/VSDD of the insurer) that ReadVSD's online check
 * calls. Each insurer (by IK) has a behaviour operators can switch at runtime to rehearse an
 * outage; the Prüfkarte's IK belongs to no real insurer.
 */
export type FachdienstBehaviour = "no-update" | "update-pending" | "not-responsible" | "unreachable" | "slow";
export const BEHAVIOURS: readonly FachdienstBehaviour[] = ["no-update", "update-pending", "not-responsible", "unreachable", "slow"];

/** The Test-IK of the Prüfkarte eGK: its data belongs to no insurer, so no online update is possible. */
export const PRUEFKARTE_IK = "109500969";

export type FachdienstAnswer =
  | { kind: "no-update"; pruefziffer: Buffer }
  | { kind: "update"; pruefziffer: Buffer; changes: Partial<Pick<InsuredPerson, "street" | "houseNumber" | "postalCode" | "city">> }
  /** The UFS answered with an error code, e.g. 11101: not responsible for this card. */
  | { kind: "error"; code: number }
  | { kind: "unreachable" };

export class FachdienstSimulator {
  private readonly behaviour = new Map<string, FachdienstBehaviour>();

  /** `latencyMs` is added to every answer; `slowMs` is what "slow" means (beyond the caller's timeout). */
  constructor(private readonly opts: { latencyMs?: number; slowMs?: number } = {}) {}

  set(ik: string, behaviour: FachdienstBehaviour): void {
    if (!BEHAVIOURS.includes(behaviour))
      throw new ValidationError("INVALID_BEHAVIOUR", "behaviour", `unknown behaviour ${JSON.stringify(behaviour)} (${BEHAVIOURS.join(", ")})`);
    this.behaviour.set(ik, behaviour);
  }

  reset(ik?: string): void {
    if (ik) this.behaviour.delete(ik);
    else this.behaviour.clear();
  }

  behaviourOf(ik: string): FachdienstBehaviour {
    return this.behaviour.get(ik) ?? (ik === PRUEFKARTE_IK ? "not-responsible" : "no-update");
  }

  /** The online check of one card; resolves after the configured latency (or never within `timeoutMs` when slow). */
  async check(person: InsuredPerson, timeoutMs: number): Promise<FachdienstAnswer> {
    const b = this.behaviourOf(person.insurer.ik);
    const wait = b === "slow" ? (this.opts.slowMs ?? timeoutMs + 1000) : (this.opts.latencyMs ?? 0);
    if (wait >= timeoutMs) {
      await sleep(timeoutMs);
      return { kind: "unreachable" };
    }
    if (wait > 0) await sleep(wait);
    const pruefziffer = Buffer.from(`${person.kvnr}${Date.now()}`).subarray(0, 47);
    switch (b) {
      case "no-update":
      case "slow":
        return { kind: "no-update", pruefziffer };
      case "update-pending":
        return { kind: "update", pruefziffer, changes: { street: "Neue Straße", houseNumber: "1" } };
      case "not-responsible":
        return { kind: "error", code: 11101 };
      case "unreachable":
        return { kind: "unreachable" };
    }
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
