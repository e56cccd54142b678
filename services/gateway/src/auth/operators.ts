import { randomBytes } from "node:crypto";
import { DomainError, migrate, ValidationError, type Sql } from "@tigw/platform";
import { checkPassword, hashPassword, verifyPassword } from "./passwords.js";
import { ROLES, type Role } from "./tokens.js";
import { base32Decode, matchingStep, newTotpSecret } from "./totp.js";

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
  {
    // token_generation: tokens carry it; raising it (password, role, removal) ends every older token.
    id: "002-account-security",
    sql: `ALTER TABLE {schema}.operators
            ADD COLUMN token_generation integer NOT NULL DEFAULT 0,
            ADD COLUMN totp_secret text,
            ADD COLUMN totp_pending text,
            ADD COLUMN totp_last_step bigint NOT NULL DEFAULT 0;
          CREATE TABLE {schema}.revoked_tokens (jti text PRIMARY KEY, expires_at timestamptz NOT NULL);`,
  },
];

export interface Operator {
  username: string;
  role: Role;
  createdAt: string;
  totpEnabled: boolean;
}

/** What a login needs to know after the password matched. */
export interface Authenticated extends Operator {
  generation: number;
}

type Row = { username: string; role: Role; created_at: string | Date; totp_secret: string | null; token_generation: number };
const operatorOf = (r: Row): Operator => ({
  username: r.username,
  role: r.role,
  createdAt: new Date(r.created_at).toISOString(),
  totpEnabled: Boolean(r.totp_secret),
});
const notFound = (username: string) => new DomainError("USER_NOT_FOUND", `no user ${username}`, { field: "username" });

const USERNAME = /^[a-z][a-z0-9._-]{1,31}$/;

/** Operator accounts of the gateway (its only state): scrypt hashes, never the password. */
export class OperatorStore {
  /** Passwords evaluated so far (scrypt runs of authenticate): the work login throttling bounds. */
  passwordsEvaluated = 0;

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
    const generated = password
      ? undefined
      : randomBytes(32)
          .toString("base64")
          .replace(/[^A-Za-z0-9]/g, "")
          .slice(0, 24);
    await this.create("admin", password ?? generated!, "admin");
    return generated;
  }

  async create(username: string, password: string, role: Role): Promise<Operator> {
    if (typeof username !== "string" || !USERNAME.test(username))
      throw new ValidationError("INVALID_USERNAME", "username", "user names are 2-32 lower-case letters, digits, '.', '_' or '-'");
    if (!ROLES.includes(role)) throw new ValidationError("INVALID_ROLE", "role", `role must be one of ${ROLES.join(", ")}`);
    const hash = await hashPassword(checkPassword(password));
    const rows = await this.sql.query<{ created_at: string | Date }>(
      "INSERT INTO gateway.operators (username, password_hash, role) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING created_at",
      [username, hash, role],
    );
    if (rows.length === 0) throw new DomainError("USER_EXISTS", `user ${username} exists`, { field: "username" });
    return { username, role, createdAt: new Date(rows[0]!.created_at).toISOString(), totpEnabled: false };
  }

  async list(): Promise<Operator[]> {
    const rows = await this.sql.query<Row>("SELECT username, role, created_at, totp_secret, token_generation FROM gateway.operators ORDER BY username");
    return rows.map(operatorOf);
  }

  /** The operator if the password matches; undefined otherwise (same work either way). */
  async authenticate(username: string, password: string): Promise<Authenticated | undefined> {
    const [row] = await this.sql.query<Row & { password_hash: string }>(
      "SELECT username, role, password_hash, created_at, totp_secret, token_generation FROM gateway.operators WHERE username = $1",
      [username],
    );
    // Hash even for unknown users, so the answer time does not tell which names exist.
    this.passwordsEvaluated++;
    const ok = await verifyPassword(password, row?.password_hash ?? (await DUMMY_HASH));
    return row && ok ? { ...operatorOf(row), generation: row.token_generation } : undefined;
  }

  /** Whether a token of this user is still good: its generation is current and it was not logged out. */
  async tokenValid(username: string, generation: number, jti: string): Promise<boolean> {
    const [row] = await this.sql.query<{ token_generation: number; revoked: boolean }>(
      "SELECT o.token_generation, EXISTS (SELECT 1 FROM gateway.revoked_tokens r WHERE r.jti = $2) AS revoked FROM gateway.operators o WHERE o.username = $1",
      [username, jti],
    );
    return Boolean(row) && row!.token_generation === generation && !row!.revoked;
  }

  /** Whether a token (an operator's or a practice's portal session) was logged out. */
  async isRevoked(jti: string): Promise<boolean> {
    const rows = await this.sql.query("SELECT 1 FROM gateway.revoked_tokens WHERE jti = $1", [jti]);
    return rows.length > 0;
  }

  /** Logs one token out: it is refused until it would have expired anyway. */
  async revokeToken(jti: string, expiresAt: Date): Promise<void> {
    await this.sql.query("DELETE FROM gateway.revoked_tokens WHERE expires_at < now()");
    await this.sql.query("INSERT INTO gateway.revoked_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT DO NOTHING", [jti, expiresAt.toISOString()]);
  }

  /** Sets a new password (the operator's own change, or an admin's reset); every older token ends. Returns the new generation. */
  async setPassword(username: string, password: string): Promise<number> {
    const hash = await hashPassword(checkPassword(password));
    const [row] = await this.sql.query<{ token_generation: number }>(
      "UPDATE gateway.operators SET password_hash = $2, token_generation = token_generation + 1 WHERE username = $1 RETURNING token_generation",
      [username, hash],
    );
    if (!row) throw notFound(username);
    return row.token_generation;
  }

  /** Changes a role or removes an account, never the last admin; the account's tokens end. */
  async setRole(username: string, role: Role): Promise<Operator> {
    if (!ROLES.includes(role)) throw new ValidationError("INVALID_ROLE", "role", `role must be one of ${ROLES.join(", ")}`);
    return this.guardLastAdmin(username, role === "admin", async (tx) => {
      const [row] = await tx.query<Row>(
        "UPDATE gateway.operators SET role = $2, token_generation = token_generation + 1 WHERE username = $1 RETURNING username, role, created_at, totp_secret, token_generation",
        [username, role],
      );
      return operatorOf(row!);
    });
  }

  async remove(username: string): Promise<void> {
    await this.guardLastAdmin(username, false, (tx) => tx.query("DELETE FROM gateway.operators WHERE username = $1", [username]));
  }

  private guardLastAdmin<T>(username: string, staysAdmin: boolean, change: (tx: Sql) => Promise<T>): Promise<T> {
    return this.sql.transaction(async (tx) => {
      // Serialises account changes, so two admins cannot demote each other at once.
      await tx.query("SELECT pg_advisory_xact_lock(hashtext('tigw-gateway-operators'))");
      const [target] = await tx.query<{ role: Role }>("SELECT role FROM gateway.operators WHERE username = $1", [username]);
      if (!target) throw notFound(username);
      const [admins] = await tx.query<{ n: string }>("SELECT count(*) AS n FROM gateway.operators WHERE role = 'admin'");
      if (target.role === "admin" && !staysAdmin && Number(admins!.n) <= 1)
        throw new DomainError("LAST_ADMIN", `${username} is the last admin: make another admin first`, { field: "username" });
      return change(tx);
    });
  }

  /** Starts TOTP enrolment: a new secret, active only once confirm() saw a code from it. */
  async beginTotp(username: string): Promise<{ secret: string; otpauthUri: string }> {
    const t = newTotpSecret();
    const rows = await this.sql.query("UPDATE gateway.operators SET totp_pending = $2 WHERE username = $1 RETURNING username", [username, t.secret]);
    if (rows.length === 0) throw notFound(username);
    return { secret: t.secret, otpauthUri: t.uri(username) };
  }

  async confirmTotp(username: string, code: string, nowMs: number): Promise<void> {
    const [row] = await this.sql.query<{ totp_pending: string | null }>("SELECT totp_pending FROM gateway.operators WHERE username = $1", [username]);
    if (!row?.totp_pending) throw new DomainError("TOTP_NOT_ENROLLING", "start the enrolment first (POST /api/v1/auth/totp)");
    const step = matchingStep(base32Decode(row.totp_pending), code, nowMs);
    if (step === undefined)
      throw new ValidationError("INVALID_TOTP", "code", "the code does not match the new secret (check the authenticator app and the clock)");
    await this.sql.query("UPDATE gateway.operators SET totp_secret = totp_pending, totp_pending = NULL, totp_last_step = $2 WHERE username = $1", [
      username,
      step,
    ]);
  }

  /**
   * Whether the code is the user's current TOTP code. Each code works once: the step it belongs
   * to must be later than the last one accepted, which is recorded in the same statement.
   */
  async checkTotp(username: string, code: string, nowMs: number): Promise<boolean> {
    const [row] = await this.sql.query<{ totp_secret: string | null }>("SELECT totp_secret FROM gateway.operators WHERE username = $1", [username]);
    if (!row?.totp_secret) return false;
    const step = matchingStep(base32Decode(row.totp_secret), code, nowMs);
    if (step === undefined) return false;
    const used = await this.sql.query("UPDATE gateway.operators SET totp_last_step = $2 WHERE username = $1 AND totp_last_step < $2 RETURNING username", [
      username,
      step,
    ]);
    return used.length === 1;
  }

  /** Turns TOTP off (the user with a current code, or an admin's reset for a lost phone). */
  async disableTotp(username: string): Promise<void> {
    const rows = await this.sql.query("UPDATE gateway.operators SET totp_secret = NULL, totp_pending = NULL WHERE username = $1 RETURNING username", [
      username,
    ]);
    if (rows.length === 0) throw notFound(username);
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
