import { writeFileSync } from "node:fs";
import { type CommandGroup, need } from "./command.js";

/** The test TI PKI: its roots, which practice software trusts to reach a unit's SOAP endpoint. */
export const pki: CommandGroup = {
  names: ["pki"],
  usage: `  tigw pki roots --out FILE               write the test TI root certificates (PEM) a client needs
                                          to trust a unit's HTTPS endpoint`,
  async run({ unknown, verb, o, show, api }) {
    if (verb !== "roots") throw unknown();
    const out = need(o.out, "--out");
    const r = await api().get<{ rootPems: string[] }>("/api/v1/pki/trust-anchors");
    writeFileSync(out, r.rootPems.map((p) => p.trim()).join("\n") + "\n");
    show({ file: out, roots: r.rootPems.length }, () => `wrote ${r.rootPems.length} root certificates of the test TI PKI to ${out}`);
    return 0;
  },
};
