import { randomBytes } from "node:crypto";
import { DomainError, migrate, ValidationError, type Sql } from "@tigw/platform";
import { checkPassword, hashPassword, verifyPassword } from "./passwords.js";
import { ROLES, type Role } from "./tokens.js";

const migrations = [
  {
    id: "001-operators",
    sql: `CREATE TABLE {schema}.operators (
            username text PRIMARY KEY,
            password_hash text NOT NULL,
            role text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now());
          CREATE TABLE {schema}.settings (key text PRIMARY KEY, value text NOT NULL);`,
  },
];

export interface Operator {
  username: string;
  role: Role;
  createdAt: string;
}

const USERNAME = /^[a-z][a-z0-9._-]{1,31}$/;

/** Operator accounts of the gateway (its only state): scrypt hashes, never the password. */
export class OperatorStore {
  private constructor(private readonly sql: Sql) {}

  static async open(sql: Sql): Promise<OperatorStore> {
    await migrate(sql, "gateway", migrations);
    return new OperatorStore(sql);
  }

  /**
   * On first start creates `admin` with the given password, or a generated one which is
   * returned (to be shown once); later starts change nothing and return undefined.
   */
  async ensureAdmin(password?: string): Promise<string | undefined> {
    const [row] = await this.sql.query<{ n: string }>("SELECT count(*) AS n FROM gateway.operators");
    if (Number(row?.n ?? 0) > 0) return undefined;
    // Letters and digits only: a password starting with "-" would read as an option on a command line.
    const generated = password ? undefined : randomBytes(32).toString("base64").replace(/[^A-Za-z0-9]/g, "").slice(0, 24);
    await this.create("admin", password ?? generated!, "admin");
    return generated;
  }

  async create(username: string, password: string, role: Role): Promise<Operator> {
    if (typeof username !== "string" || !USERNAME.test(username)) throw new ValidationError("INVALID_USERNAME", "username", "user names are 2-32 lower-case letters, digits, '.', '_' or '-'");
    if (!ROLES.includes(role)) throw new ValidationError("INVALID_ROLE", "role", `role must be one of ${ROLES.join(", ")}`);
    const hash = await hashPassword(checkPassword(password));
    const rows = await this.sql.query<{ created_at: string | Date }>(
      "INSERT INTO gateway.operators (username, password_hash, role) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING created_at",
      [username, hash, role],
    );
    if (rows.length === 0) throw new DomainError("USER_EXISTS", `user ${username} exists`, { field: "username" });
    return { username, role, createdAt: new Date(rows[0]!.created_at).toISOString() };
  }

  async list(): Promise<Operator[]> {
    const rows = await this.sql.query<{ username: string; role: Role; created_at: string | Date }>("SELECT username, role, created_at FROM gateway.operators ORDER BY username");
    return rows.map((r) => ({ username: r.username, role: r.role, createdAt: new Date(r.created_at).toISOString() }));
  }

  /** The operator if the password matches; undefined otherwise (same work either way). */
  async authenticate(username: string, password: string): Promise<Operator | undefined> {
    const [row] = await this.sql.query<{ username: string; role: Role; password_hash: string; created_at: string | Date }>(
      "SELECT username, role, password_hash, created_at FROM gateway.operators WHERE username = $1",
      [username],
    );
    // Hash even for unknown users, so the answer time does not tell which names exist.
    const ok = await verifyPassword(password, row?.password_hash ?? (await DUMMY_HASH));
    return row && ok ? { username: row.username, role: row.role, createdAt: new Date(row.created_at).toISOString() } : undefined;
  }

  /** The token signing secret: configured, or generated once and kept with the accounts. */
  async tokenSecret(configured?: string): Promise<Buffer> {
    if (configured) return Buffer.from(configured, "utf8");
    await this.sql.query("INSERT INTO gateway.settings (key, value) VALUES ('token_secret', $1) ON CONFLICT DO NOTHING", [randomBytes(32).toString("base64")]);
    const [row] = await this.sql.query<{ value: string }>("SELECT value FROM gateway.settings WHERE key = 'token_secret'");
    return Buffer.from(row!.value, "base64");
  }
}

const DUMMY_HASH = hashPassword(randomBytes(16).toString("hex"));
