import { table, fields } from "../output.js";
import { type CommandGroup, need } from "./command.js";

interface Practice {
  account: string;
  practiceName: string;
  status: string;
  blockedReason: string;
  bindings: { serial: string; mandantId: string; boundAt: string }[];
  grants: { grantId: string; serial: string; technician: string; until: string; state: string }[];
  createdAt: string;
}

const mandanten = (p: Practice) => p.bindings.map((b) => `${b.serial}/${b.mandantId}`).join(", ") || "-";

function practiceText(p: Practice): string {
  return [
    fields([
      ["Account", p.account],
      ["Practice", p.practiceName],
      ["Status", p.status === "blocked" ? `blocked: ${p.blockedReason}` : p.status],
      ["Mandanten", mandanten(p)],
      ["Registered", p.createdAt],
    ]),
    p.grants.length
      ? table(
          ["GRANT", "INSTANCE", "TECHNICIAN", "UNTIL", "STATE"],
          p.grants.map((g) => [g.grantId, g.serial, g.technician, g.until, g.state]),
        )
      : "no DVO grants",
  ].join("\n\n");
}

/** The practice accounts (TI-Gateway users) seen by operators: list, show, bind to Mandanten, block. */
export const practice: CommandGroup = {
  names: ["practice"],
  usage: `  tigw practice list | show ACCOUNT        practice accounts: status (totp-enrolment, active, blocked), Mandanten, DVO grants
  tigw practice bind ACCOUNT --unit U --mandant M | unbind ACCOUNT --unit U --mandant M
  tigw practice block ACCOUNT [--reason R] | unblock ACCOUNT   a block ends the practice's portal sessions at once
  tigw practice reset-totp ACCOUNT          a lost phone: the practice enrols TOTP again at its next login`,
  async run({ unknown, verb, args: [name], o, show, api }) {
    const path = () => `/api/v1/practices/${encodeURIComponent(need(name, "ACCOUNT"))}`;
    const one = (p: Practice, done: string) => show(p, () => `${done}\n\n${practiceText(p)}`);
    switch (verb) {
      case "list": {
        const r = await api().get<{ practices: Practice[] }>("/api/v1/practices");
        show(r, () =>
          r.practices.length
            ? table(
                ["ACCOUNT", "PRACTICE", "STATUS", "MANDANTEN", "ACTIVE GRANTS"],
                r.practices.map((p) => [p.account, p.practiceName, p.status, mandanten(p), p.grants.filter((g) => g.state === "active").length]),
              )
            : "no practice accounts yet (practices register at /portal/)",
        );
        return 0;
      }
      case "show": {
        const p = await api().get<Practice>(path());
        show(p, () => practiceText(p));
        return 0;
      }
      case "bind":
      case "unbind": {
        const p = await api().post<Practice>(`${path()}/${verb}`, { unit: need(o.unit, "--unit"), mandantId: need(o.mandant, "--mandant") });
        one(p, `${verb === "bind" ? "bound" : "unbound"} ${o.unit}/${o.mandant} ${verb === "bind" ? "to" : "from"} ${p.account}`);
        return 0;
      }
      case "block": {
        const p = await api().post<Practice>(`${path()}/block`, o.reason ? { reason: o.reason } : {});
        one(p, `blocked ${p.account}: its logins are refused and its sessions have ended`);
        return 0;
      }
      case "reset-totp": {
        const p = await api().post<Practice>(`${path()}/totp/reset`, {});
        one(p, `TOTP of ${p.account} reset: it enrols a new authenticator app at its next login`);
        return 0;
      }
      case "unblock": {
        const p = await api().post<Practice>(`${path()}/unblock`, {});
        one(p, `unblocked ${p.account}`);
        return 0;
      }
    }
    throw unknown();
  },
};
