import { Api } from "../client.js";
import { type CommandGroup, need, UsageError } from "./command.js";

interface Session {
  token: string;
  expiresAt: string;
  role: string;
}

/** The operator's own account: log in and out, who am I, password, second factor. */
export const account: CommandGroup = {
  names: ["login", "logout", "whoami", "passwd", "totp"],
  usage: `  tigw login --user U --password P [--totp CODE]   (or TIGW_PASSWORD, TIGW_TOTP); the token is stored per user
  tigw logout | whoami                    logout ends the token at the gateway too
  tigw passwd --password OLD --new-password NEW   change your password (other sessions end)
  tigw totp enroll | confirm CODE | disable CODE   a second factor (authenticator app, RFC 6238)`,
  async run({ verb, args: [code], o, url, creds, out, show, api }, group) {
    switch (group) {
      case "login": {
        const user = need(o.user, "--user");
        const password = o.password ?? process.env["TIGW_PASSWORD"];
        if (!password) throw new UsageError("missing --password (or TIGW_PASSWORD)");
        const totp = o.totp ?? process.env["TIGW_TOTP"];
        const r = await new Api(url).post<Session>("/api/v1/auth/login", { username: user, password, ...(totp ? { totp } : {}) });
        creds.save(url, user, { token: r.token, expiresAt: r.expiresAt, role: r.role });
        show({ username: user, role: r.role, expiresAt: r.expiresAt }, () => `logged in to ${url} as ${user} (${r.role}); token valid until ${r.expiresAt}`);
        return 0;
      }
      case "logout": {
        const token = creds.get(url, o.as)?.token;
        // Ends the token at the gateway as well; an expired token or an unreachable gateway only forgets it here.
        if (token) await new Api(url, token).post("/api/v1/auth/logout", {}).catch(() => undefined);
        const who = creds.forget(url, o.as);
        out(who ? `logged out ${who}` : "not logged in");
        return 0;
      }
      case "whoami": {
        const me = await api().get<{ username: string; role: string; expiresAt: string }>("/api/v1/auth/me");
        show(me, () => `${me.username} (${me.role}) at ${url}; token valid until ${me.expiresAt}`);
        return 0;
      }
      case "passwd": {
        const r = await api().post<Session>("/api/v1/auth/password", {
          currentPassword: need(o.password, "--password"),
          newPassword: need(o["new-password"], "--new-password"),
        });
        const user = creds.get(url, o.as)!.user;
        creds.save(url, user, { token: r.token, expiresAt: r.expiresAt, role: r.role });
        show({ username: user }, () => `password of ${user} changed; other sessions have ended`);
        return 0;
      }
    }
    // totp
    if (verb === "enroll") {
      const r = await api().post<{ secret: string; otpauthUri: string }>("/api/v1/auth/totp", {});
      show(r, () => `add this to an authenticator app, then run tigw totp confirm CODE:\n  secret ${r.secret}\n  ${r.otpauthUri}`);
      return 0;
    }
    if (verb === "confirm" || verb === "disable") {
      const r = await api().post<{ totpEnabled: boolean }>(`/api/v1/auth/totp/${verb}`, { code: need(code, "CODE") });
      show(r, () => (r.totpEnabled ? "TOTP on: tigw login now needs --totp CODE" : "TOTP off"));
      return 0;
    }
    throw new UsageError("tigw totp enroll | confirm CODE | disable CODE");
  },
};
