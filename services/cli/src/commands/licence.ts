import { createPrivateKey } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import type { Unit } from "@tigw/contracts/tenancy/v1/tenancy";
import { issueLicence } from "@tigw/tenancy";
import { ApiError } from "../client.js";
import { type CommandGroup, need, unitPath } from "./command.js";

/** Licence files: issue one (vendor side, offline, with the vendor key) and import one into a unit. */
export const licence: CommandGroup = {
  names: ["licence"],
  usage: `  tigw licence issue --serial S --kt-per-compute-unit N [--feature PTV5 --feature LZV] --key FILE --out FILE
  tigw licence import UNIT FILE`,
  async run({ unknown, verb, args: [unit, file], o, show, api }) {
    switch (verb) {
      case "issue": {
        const n = Number(need(o["kt-per-compute-unit"], "--kt-per-compute-unit"));
        const key = createPrivateKey(readFileSync(need(o.key, "--key")));
        const f = issueLicence(key, { serial: need(o.serial, "--serial"), ktPerComputeUnit: n, features: o.feature ?? [] });
        writeFileSync(need(o.out, "--out"), JSON.stringify(f, null, 2) + "\n");
        show(
          f,
          () =>
            `licence ${f.licence.licenceId} for ${f.licence.serial}: ${n} KTs per compute unit${f.licence.features.length ? `, ${f.licence.features.join(", ")}` : ""}; signed with key ${f.signature.keyId}; written to ${o.out}`,
        );
        return 0;
      }
      case "import": {
        const gateway = api();
        const text = readFileSync(need(file, "FILE"), "utf8");
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          throw new ApiError(0, "LICENCE_INVALID", `${file} is not a licence file (not JSON)`);
        }
        const u = await gateway.post<Unit>(`${unitPath(unit)}/licence`, body);
        const l = u.licence!;
        show(
          u,
          () =>
            `licence imported: ${u.serial} now has ${l.ktPerComputeUnit} KTs per compute unit (${u.computeUnits.length * l.ktPerComputeUnit} in total)${l.features.length ? `, features ${l.features.join(", ")}` : ""}`,
        );
        return 0;
      }
    }
    throw unknown();
  },
};
