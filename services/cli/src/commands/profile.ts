import type { Profile } from "@tigw/contracts/tenancy/v1/tenancy";
import { table } from "../output.js";
import type { CommandGroup } from "./command.js";

/** The product profiles units are created with. */
export const profile: CommandGroup = {
  names: ["profile"],
  usage: `  tigw profile list`,
  async run({ unknown, verb, show, api }) {
    if (verb !== "list") throw unknown();
    const r = await api().get<{ profiles: Profile[] }>("/api/v1/profiles");
    show(r, () =>
      table(
        ["NAME", "COMPUTE UNITS", "KTS PER CU", "RECOMMENDED", "MANDANTEN", "DESCRIPTION"],
        r.profiles.map((p) => [p.name, p.computeUnits, p.ktPerComputeUnit, p.recommendedKts, p.maxMandanten, p.description]),
      ),
    );
    return 0;
  },
};
