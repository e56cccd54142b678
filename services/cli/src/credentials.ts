import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";

interface Stored {
  token: string;
  expiresAt: string;
  role: string;
}

interface CredentialsFile {
  servers: Record<string, { current?: string; users: Record<string, Stored> }>;
}

/** Where tokens live: $TIGW_CONFIG_DIR, else $XDG_CONFIG_HOME/tigw, else ~/.config/tigw. Mode 0600. */
export function credentialsPath(env = process.env): string {
  const dir = env["TIGW_CONFIG_DIR"] || join(env["XDG_CONFIG_HOME"] || join(homedir(), ".config"), "tigw");
  return join(dir, "credentials.json");
}

function read(path: string): CredentialsFile {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as CredentialsFile;
  } catch {
    return { servers: {} };
  }
}

function write(path: string, data: CredentialsFile): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, JSON.stringify(data, null, 2) + "\n", { mode: 0o600 });
  chmodSync(path, 0o600);
}

/** Tokens are kept per server and per user; the last one logged in is the current user. */
export class Credentials {
  constructor(private readonly path = credentialsPath()) {}

  save(url: string, user: string, s: Stored): void {
    const data = read(this.path);
    const server = (data.servers[url] ??= { users: {} });
    server.users[user] = s;
    server.current = user;
    write(this.path, data);
  }

  /** The token of `user` (or the current user) at `url`, if any. */
  get(url: string, user?: string): (Stored & { user: string }) | undefined {
    const server = read(this.path).servers[url];
    const name = user ?? server?.current;
    const s = name ? server?.users[name] : undefined;
    return s && name ? { ...s, user: name } : undefined;
  }

  forget(url: string, user?: string): string | undefined {
    const data = read(this.path);
    const server = data.servers[url];
    const name = user ?? server?.current;
    if (!server || !name || !server.users[name]) return undefined;
    delete server.users[name];
    if (server.current === name) delete server.current;
    write(this.path, data);
    return name;
  }
}
