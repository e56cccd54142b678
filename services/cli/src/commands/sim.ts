import type { Card } from "@tigw/contracts/cardterminal/v1/card_terminal";
import { simulateTerminals } from "../sim/kt-simulator.js";
import { type CommandGroup, need, parseDurationMs, UsageError } from "./command.js";
import { runVpn } from "./vpn.js";
import { BoxError } from "@tigw/vpn/box";
import { Api, ApiError } from "../client.js";
import { runVpnBox } from "../sim/vpn-box.js";
import { runPractices } from "../sim/practices.js";

const cardsPath = (kt: string) => `/api/v1/terminals/${encodeURIComponent(kt)}/cards`;

/** The simulators: card terminals, cards, eGKs of insured persons, the Fachdienste' behaviour. */
export const sim: CommandGroup = {
  names: ["sim"],
  usage: `  tigw sim kt --unit U [--mandant M] --count N [--prefix P] [--hold 30s]
  tigw sim kt --via http://BOX:PORT --mandant M --count N [--prefix P] [--hold 30s]
                                            terminals in a practice: paired and connected through its VPN box's tunnel
  tigw sim card insert KT --type EGK|HBA|SMC-B|PRUEFKARTE_EGK [--slot N] [--iccsn I] [--pin P] | remove KT --slot N
  tigw sim egk insert KT --slot N (--kvnr K | --pruefkarte N)   an insured person's eGK or a Prüfkarte
  tigw sim fachdienst IK no-update|update-pending|not-responsible|unreachable|slow
  tigw sim vpnbox --account A [--enrol CODE] [--listen HOST:PORT] [--instance SERIAL] [--duration 10m] [--zugangsmodul HOST:PORT --ca FILE] [--state-dir DIR]
                                            a practice's VPN box: enrols once with the portal's code, keeps its session to the
                                            Zugangsmodul (reconnecting by itself); --listen: the practice network's view through it,
                                            and the practice's Konnektor for its software (http://HOST:PORT/connector.sds)
  tigw sim practices --count N [--unit U] [--rate R] [--duration 30s] [--zugangsmodul HOST:PORT]
                                            N new practices (portal, TOTP, a Mandant each, a VPN box each) and their day:
                                            R requests/s through the boxes, random tunnel drops; exit 1 on any unexpected error`,
  async run(ctx, group) {
    const {
      unknown,
      verb,
      args: [arg1, arg2],
      o,
      show,
      api,
    } = ctx;
    switch (verb) {
      case "vpnzugd":
        return runVpn(ctx, group);
      case "practices":
        return runPractices(ctx).catch((e: unknown) => {
          if (e instanceof BoxError) throw new ApiError(e.status, e.code, e.message);
          throw e;
        });
      case "vpnbox":
        return runVpnBox(ctx).catch((e: unknown) => {
          // The box's refusals carry the Zugangsmodul's code: shown like the API's.
          if (e instanceof BoxError) throw new ApiError(e.status, e.code, e.message);
          throw e;
        });
      case "kt": {
        const gateway = api();
        const count = Number(need(o.count, "--count"));
        if (!Number.isInteger(count) || count < 1 || count > 2000) throw new UsageError("--count must be 1-2000");
        // --via: the practice network's side of a VPN box; the terminals go through its tunnel to the practice's own instance.
        if (o.via && !o.mandant) throw new UsageError("--via needs --mandant (one of the practice's Mandanten)");
        const { result, terminals } = await simulateTerminals(gateway, {
          unit: o.via ? (o.unit ?? "") : need(o.unit, "--unit"),
          via: o.via ? new Api(o.via.replace(/\/+$/, "")) : undefined,
          mandant: o.mandant,
          count,
          prefix: o.prefix ?? `SIM-${Date.now().toString(36).toUpperCase()}-`,
        });
        const sorted = [...result.pairingMs].sort((a, b) => a - b);
        const pct = (p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!.toFixed(0) : "-");
        show(
          result,
          () =>
            `${result.admitted.length} terminals paired and connected, ${result.refused.length} refused${result.refused.length ? ` (${[...new Set(result.refused.map((r) => r.code))].join(", ")})` : ""}; pairing p50 ${pct(50)} ms, p95 ${pct(95)} ms`,
        );
        if (o.hold) {
          const until = Date.now() + parseDurationMs(o.hold);
          while (Date.now() < until) {
            await Promise.all(terminals.map((t) => t.heartbeat()));
            await new Promise((r) => setTimeout(r, 5_000));
          }
        }
        return 0;
      }
      case "card": {
        const gateway = api();
        const kt = need(arg2, "KT");
        if (arg1 === "insert") {
          const type = need(o.type, "--type");
          // SMC-B and HBA come from the test PKI (key and certificate in hsm), so card-to-card works.
          const pki =
            type === "SMC-B" || type === "HBA"
              ? await gateway.post<{ iccsn: string; certSerial: string }>("/api/v1/sim/cards", {
                  cardType: type === "SMC-B" ? "SMCB" : "HBA",
                  keyType: "ecc",
                  iccsn: o.iccsn,
                })
              : undefined;
          const iccsn = pki?.iccsn ?? o.iccsn ?? `80276${String(Date.now()).slice(-15).padStart(15, "0")}`;
          const c = await gateway.post<Card>(cardsPath(kt), { slot: Number(o.slot ?? 1), cardType: type, iccsn, certSerial: pki?.certSerial, pin: o.pin });
          show(c, () => `inserted ${c.cardType} ${c.iccsn} into ${kt} slot ${c.slot}; card handle ${c.cardHandle}`);
          return 0;
        }
        if (arg1 === "remove") {
          const r = await gateway.post<{ removed: boolean }>(`${cardsPath(kt)}/${Number(need(o.slot, "--slot"))}/remove`, {});
          show(r, () => (r.removed ? `removed the card from ${kt} slot ${o.slot}` : `slot ${o.slot} of ${kt} was empty`));
          return 0;
        }
        throw new UsageError("tigw sim card insert|remove KT ...");
      }
      case "egk": {
        const gateway = api();
        if (arg1 !== "insert") throw new UsageError("tigw sim egk insert KT --slot N (--kvnr K | --pruefkarte N)");
        const kt = need(arg2, "KT");
        const e = await gateway.post<{ iccsn: string; certSerial: string; kvnr: string; name: string }>("/api/v1/sim/egk", {
          kvnr: o.kvnr,
          pruefkarte: o.pruefkarte ? Number(o.pruefkarte) : 0,
        });
        const c = await gateway.post<Card>(cardsPath(kt), {
          slot: Number(o.slot ?? 1),
          cardType: o.pruefkarte ? "PRUEFKARTE_EGK" : "EGK",
          iccsn: e.iccsn,
          certSerial: e.certSerial,
        });
        show(
          { ...c, kvnr: e.kvnr },
          () => `inserted the ${o.pruefkarte ? "Prüfkarte eGK" : "eGK"} of ${e.name} (KVNR ${e.kvnr}) into ${kt} slot ${c.slot}; card handle ${c.cardHandle}`,
        );
        return 0;
      }
      case "fachdienst": {
        await api().post("/api/v1/sim/fachdienst", { ik: need(arg1, "IK"), behaviour: need(arg2, "BEHAVIOUR") });
        show({ ik: arg1, behaviour: arg2 }, () => `Fachdienst of IK ${arg1}: ${arg2}`);
        return 0;
      }
    }
    throw unknown();
  },
};
