import { randomBytes } from "node:crypto";
import { EmbeddedBus, embeddedSql, topicOf, type EventBus } from "@tigw/platform";
import { freshContext } from "@tigw/platform/testing";
import { ClockControl, startHsm, type RunningHsm } from "@tigw/hsm";
import { loadProfiles, startTenancy, type RunningTenancy } from "@tigw/tenancy";
import { startCardTerminal, type RunningCardTerminal } from "@tigw/card-terminal";
import { startKsr, type RunningKsr } from "../src/index.js";

export interface Fleet {
  clock: ClockControl;
  bus: EventBus;
  tenancy: RunningTenancy;
  hsm: RunningHsm;
  ksr: RunningKsr;
  /** Only with `{ cardTerminals: true }`. */
  cardTerminal?: RunningCardTerminal;
  /** Where card-terminal publishes (ksr consumes it). */
  cardTerminalTopic: string;
  /** Moves the simulated clock and lets the KSR scheduler walk up to the new now. */
  advance(duration: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * tenancy, hsm and ksr as real services on the embedded adapters, one simulated clock. hsm does
 * not listen to tenancy here (no gSMC-K per unit: a rollout of 100 units needs none), ksr enrols
 * the units from tenancy's UnitCreated and tenancy takes the new firmware from ksr's events.
 * The scheduler ticks only when a test advances the clock.
 */
export async function startFleet(start: string, o: { cardTerminals?: boolean } = {}): Promise<Fleet> {
  const bus = await EmbeddedBus.open(await embeddedSql(), { pollMs: 20 });
  const clock = await ClockControl.simulated(await embeddedSql(), "clock", new Date(start));
  const tenancyContext = freshContext("tenancy");
  const ksrContext = freshContext("ksr");
  const tenancy = await startTenancy({
    sql: await embeddedSql(),
    bus,
    clock,
    profiles: loadProfiles(),
    vendorKeys: [],
    context: tenancyContext,
    ksrTopic: topicOf(ksrContext),
  });
  const hsm = await startHsm({ sql: await embeddedSql(), bus, clock, masterKey: randomBytes(32), tenancyTopic: topicOf(freshContext("nobody")) });
  const ktContext = freshContext("kt");
  const cardTerminal = o.cardTerminals
    ? await startCardTerminal({
        sql: await embeddedSql(),
        bus,
        clock,
        masterKey: randomBytes(32),
        tenancyAddress: tenancy.address,
        hsmAddress: hsm.address,
        context: ktContext,
        ocspTimeoutMs: 120_000,
      })
    : undefined;
  const ksr = await startKsr({
    sql: await embeddedSql(),
    bus,
    clock,
    tenancyAddress: tenancy.address,
    hsmAddress: hsm.address,
    context: ksrContext,
    tenancyTopic: topicOf(tenancyContext),
    cardTerminalTopic: topicOf(ktContext),
    ...(cardTerminal ? { cardTerminalAddress: cardTerminal.address } : {}),
    tickMs: 3_600_000,
  });
  return {
    clock,
    bus,
    tenancy,
    hsm,
    ksr,
    ...(cardTerminal ? { cardTerminal } : {}),
    cardTerminalTopic: topicOf(ktContext),
    advance: async (duration) => {
      await clock.advance(duration);
      await ksr.ksr.tick();
    },
    stop: async () => {
      await ksr.stop();
      await cardTerminal?.stop();
      await hsm.stop();
      await tenancy.stop();
      await bus.close();
    },
  };
}
