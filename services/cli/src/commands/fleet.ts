import type { Expiry } from "@tigw/contracts/hsm/v1/hsm";
import type { Unit } from "@tigw/contracts/tenancy/v1/tenancy";
import { table } from "../output.js";
import { type CommandGroup, day, unitPath } from "./command.js";
import { type FleetUnit, type UnitCheck, unitRows } from "./unit.js";
import { FLEET_FIRMWARE_USAGE, fleetFirmware } from "./ksr.js";

/** The whole fleet: overview, gSMC-K expiries, every unit's functional check. */
export const fleet: CommandGroup = {
  names: ["fleet"],
  usage: `  tigw fleet                              fleet overview with totals
  tigw fleet expiries [--within 90d]      units by days to gSMC-K expiry, most urgent first
  tigw fleet check                        every unit's functional check; the ones needing attention
                                          first, with what is not ok (exit 1 when a unit fails)
${FLEET_FIRMWARE_USAGE}`,
  async run({ unknown, verb, o, show, api }) {
    switch (verb) {
      case undefined: {
        const f = await api().get<{ totals: { units: number; byState: Record<string, number>; ktsUsed: number; ktsLimit: number }; units: FleetUnit[] }>(
          "/api/v1/fleet",
        );
        const states = Object.entries(f.totals.byState)
          .map(([s, n]) => `${n} ${s}`)
          .join(", ");
        show(f, () => `${f.totals.units} units (${states || "none"}); KT slots ${f.totals.ktsUsed}/${f.totals.ktsLimit}\n\n${unitRows(f.units)}`);
        return 0;
      }
      case "check": {
        const { units } = await api().get<{ units: Unit[] }>("/api/v1/units");
        const results = await Promise.all(units.map((u) => api().get<UnitCheck>(`${unitPath(u.serial)}/check`)));
        const rank: Record<string, number> = { error: 0, warning: 1, ok: 2 };
        results.sort((a, b) => (rank[a.status] ?? 3) - (rank[b.status] ?? 3) || a.unit.localeCompare(b.unit));
        const notOk = (c: UnitCheck) =>
          c.checks
            .filter((x) => x.status !== "ok")
            .map((x) => `${x.check}: ${x.detail}`)
            .join("; ");
        show({ units: results }, () =>
          table(
            ["UNIT", "STATUS", "NOT OK"],
            results.map((r) => [r.unit, r.status, notOk(r) || "-"]),
          ),
        );
        return results.some((r) => r.status === "error") ? 1 : 0;
      }
      case "firmware":
        return fleetFirmware(api(), show);
      case "expiries": {
        const r = await api().get<{ expiries: Expiry[]; now: string }>(`/api/v1/fleet/expiries${o.within ? `?within=${encodeURIComponent(o.within)}` : ""}`);
        show(r, () =>
          r.expiries.length
            ? `as of ${day(r.now)}\n\n` +
              table(
                ["SERIAL", "IDENTITY", "EXPIRES", "DAYS LEFT", "EXCHANGE DUE", "LZV", "TI ACCESS"],
                r.expiries.map((e) => [
                  e.serial,
                  e.identity,
                  day(e.notAfter),
                  e.expired ? `${e.daysToExpiry} (expired)` : e.daysToExpiry,
                  e.exchangeDue ? "YES" : "no",
                  e.lzvApplies ? "applies" : `no (${e.lzvReason})`,
                  e.tiAccess ? "yes" : "NO",
                ]),
              )
            : `no unit's gSMC-K expires${o.within ? ` within ${o.within}` : ""}`,
        );
        return 0;
      }
    }
    throw unknown();
  },
};
