import { table } from "../output.js";
import { type CommandGroup, need } from "./command.js";

/** The gateway's user accounts (admin only): list, add, remove, role, password and TOTP resets. */
export const user: CommandGroup = {
  names: ["user"],
  usage: `  tigw user list | add --user U --role viewer|operator|admin --password P | remove U
  tigw user role U --role R | reset-password U --password P | reset-totp U`,
  async run({ unknown, verb, args: [name], o, show, api }) {
    const userPath = () => `/api/v1/users/${encodeURIComponent(need(name, "USER"))}`;
    switch (verb) {
      case "list": {
        const r = await api().get<{ users: { username: string; role: string; createdAt: string; totpEnabled: boolean }[] }>("/api/v1/users");
        show(r, () =>
          table(
            ["USER", "ROLE", "TOTP", "CREATED"],
            r.users.map((u) => [u.username, u.role, u.totpEnabled ? "yes" : "no", u.createdAt]),
          ),
        );
        return 0;
      }
      case "add": {
        const u = await api().post<{ username: string; role: string }>("/api/v1/users", {
          username: need(o.user, "--user"),
          role: need(o.role, "--role"),
          password: need(o.password, "--password"),
        });
        show(u, () => `created user ${u.username} (${u.role})`);
        return 0;
      }
      case "remove": {
        const r = await api().request<{ username: string }>("DELETE", userPath());
        show(r, () => `removed user ${r.username}; its tokens no longer work`);
        return 0;
      }
      case "role": {
        const r = await api().post<{ username: string; role: string }>(`${userPath()}/role`, { role: need(o.role, "--role") });
        show(r, () => `${r.username} is now ${r.role}; it logs in again`);
        return 0;
      }
      case "reset-password": {
        const r = await api().post<{ username: string }>(`${userPath()}/password`, { password: need(o.password, "--password") });
        show(r, () => `password of ${r.username} reset; its tokens no longer work`);
        return 0;
      }
      case "reset-totp": {
        const r = await api().post<{ username: string }>(`${userPath()}/totp/reset`, {});
        show(r, () => `TOTP of ${r.username} turned off; it may enrol again`);
        return 0;
      }
    }
    throw unknown();
  },
};
