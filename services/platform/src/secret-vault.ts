import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { migrate } from "./sql/migrate.js";
import { identifier, type Sql } from "./sql/sql.js";

/**
 * A master key (32 bytes) from a configured value (base64 or 64 hex digits), or, in embedded
 * mode, from a file created once with mode 0600. It goes nowhere else.
 */
export function loadMasterKey(opts: { value?: string; file?: string; variable?: string }): Buffer {
  const variable = opts.variable ?? "the master key";
  if (opts.value) {
    const v = opts.value.trim();
    const key = /^[0-9a-f]{64}$/i.test(v) ? Buffer.from(v, "hex") : Buffer.from(v, "base64");
    if (key.length !== 32) throw new Error(`${variable} must be 32 bytes (64 hex digits or base64)`);
    return key;
  }
  if (!opts.file) throw new Error(`${variable} is not set`);
  if (!existsSync(opts.file)) {
    mkdirSync(dirname(opts.file), { recursive: true, mode: 0o700 });
    writeFileSync(opts.file, randomBytes(32).toString("base64") + "\n", { mode: 0o600 });
  }
  chmodSync(opts.file, 0o600);
  return loadMasterKey({ value: readFileSync(opts.file, "utf8"), variable: opts.file });
}

/**
 * Secrets (private keys, pairing secrets, PIN verifiers) encrypted with AES-256-GCM under a
 * master key, in a table of their own apart from the events; events and APIs name them by
 * reference only. The reference is the GCM additional data, so a ciphertext copied to another
 * reference does not decrypt.
 */
export class SecretVault {
  private readonly cache = new Map<string, Buffer>();

  private constructor(
    private readonly sql: Sql,
    private readonly table: string,
    private readonly masterKey: Buffer,
  ) {}

  static async open(sql: Sql, schema: string, masterKey: Buffer, table = "vault_keys"): Promise<SecretVault> {
    await migrate(sql, schema, [
      {
        id: `vault-001-${table}`,
        sql: `CREATE TABLE IF NOT EXISTS {schema}.${identifier(table)} (
                key_ref text PRIMARY KEY,
                owner text NOT NULL,
                iv text NOT NULL,
                tag text NOT NULL,
                ciphertext text NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now())`,
      },
    ]);
    return new SecretVault(sql, `${identifier(schema)}.${identifier(table)}`, masterKey);
  }

  async put(ref: string, secret: Buffer, owner: string): Promise<void> {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.masterKey, iv);
    cipher.setAAD(Buffer.from(ref));
    const ciphertext = Buffer.concat([cipher.update(secret), cipher.final()]);
    await this.sql.query(`INSERT INTO ${this.table} (key_ref, owner, iv, tag, ciphertext) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (key_ref) DO NOTHING`, [
      ref,
      owner,
      iv.toString("base64"),
      cipher.getAuthTag().toString("base64"),
      ciphertext.toString("base64"),
    ]);
    this.remember(ref, Buffer.from(secret));
  }

  async get(ref: string): Promise<Buffer> {
    const hit = this.cache.get(ref);
    if (hit) return Buffer.from(hit);
    const [row] = await this.sql.query<{ iv: string; tag: string; ciphertext: string }>(`SELECT iv, tag, ciphertext FROM ${this.table} WHERE key_ref = $1`, [
      ref,
    ]);
    if (!row) throw new Error(`no secret ${ref} in the vault`);
    const decipher = createDecipheriv("aes-256-gcm", this.masterKey, Buffer.from(row.iv, "base64"));
    decipher.setAAD(Buffer.from(ref));
    decipher.setAuthTag(Buffer.from(row.tag, "base64"));
    const plain = Buffer.concat([decipher.update(Buffer.from(row.ciphertext, "base64")), decipher.final()]);
    this.remember(ref, plain);
    return Buffer.from(plain);
  }

  async delete(ref: string): Promise<void> {
    this.cache.delete(ref);
    await this.sql.query(`DELETE FROM ${this.table} WHERE key_ref = $1`, [ref]);
  }

  private remember(ref: string, secret: Buffer): void {
    if (this.cache.size > 5000) this.cache.clear();
    this.cache.set(ref, secret);
  }
}
