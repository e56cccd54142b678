import { createCipheriv, createDecipheriv, createPrivateKey, randomBytes, type KeyObject } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { migrate, type Sql } from "@tigw/platform";

/**
 * The master key (32 bytes) from TIGW_HSM_MASTER_KEY (base64 or hex), or, in embedded mode, from a
 * file in the data dir created once with mode 0600. It never goes anywhere else.
 */
export function loadMasterKey(opts: { value?: string; file?: string }): Buffer {
  if (opts.value) {
    const v = opts.value.trim();
    const key = /^[0-9a-f]{64}$/i.test(v) ? Buffer.from(v, "hex") : Buffer.from(v, "base64");
    if (key.length !== 32) throw new Error("TIGW_HSM_MASTER_KEY must be 32 bytes (64 hex digits or base64)");
    return key;
  }
  if (!opts.file) throw new Error("no master key: set TIGW_HSM_MASTER_KEY");
  if (!existsSync(opts.file)) {
    mkdirSync(dirname(opts.file), { recursive: true, mode: 0o700 });
    writeFileSync(opts.file, randomBytes(32).toString("base64") + "\n", { mode: 0o600 });
  }
  chmodSync(opts.file, 0o600);
  return loadMasterKey({ value: readFileSync(opts.file, "utf8") });
}

/**
 * Private keys, encrypted with AES-256-GCM under the master key, in a table apart from the
 * events (events and APIs carry only the key reference). The key reference is the GCM
 * additional data, so a ciphertext moved to another reference does not decrypt.
 */
export class KeyVault {
  private readonly cache = new Map<string, KeyObject>();

  private constructor(
    private readonly sql: Sql,
    private readonly schema: string,
    private readonly masterKey: Buffer,
  ) {}

  static async open(sql: Sql, schema: string, masterKey: Buffer): Promise<KeyVault> {
    await migrate(sql, schema, [
      {
        id: "vault-001-keys",
        sql: `CREATE TABLE {schema}.vault_keys (
                key_ref text PRIMARY KEY,
                owner text NOT NULL,
                iv text NOT NULL,
                tag text NOT NULL,
                ciphertext text NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now())`,
      },
    ]);
    return new KeyVault(sql, schema, masterKey);
  }

  async put(keyRef: string, privateKey: KeyObject, owner: string): Promise<void> {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.masterKey, iv);
    cipher.setAAD(Buffer.from(keyRef));
    const plain = privateKey.export({ type: "pkcs8", format: "der" });
    const ciphertext = Buffer.concat([cipher.update(plain), cipher.final()]);
    plain.fill(0);
    await this.sql.query(`INSERT INTO ${this.schema}.vault_keys (key_ref, owner, iv, tag, ciphertext) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (key_ref) DO NOTHING`, [
      keyRef,
      owner,
      iv.toString("base64"),
      cipher.getAuthTag().toString("base64"),
      ciphertext.toString("base64"),
    ]);
    this.cache.set(keyRef, privateKey);
  }

  async get(keyRef: string): Promise<KeyObject> {
    const hit = this.cache.get(keyRef);
    if (hit) return hit;
    const [row] = await this.sql.query<{ iv: string; tag: string; ciphertext: string }>(`SELECT iv, tag, ciphertext FROM ${this.schema}.vault_keys WHERE key_ref = $1`, [keyRef]);
    if (!row) throw new Error(`no key ${keyRef} in the vault`);
    const decipher = createDecipheriv("aes-256-gcm", this.masterKey, Buffer.from(row.iv, "base64"));
    decipher.setAAD(Buffer.from(keyRef));
    decipher.setAuthTag(Buffer.from(row.tag, "base64"));
    const plain = Buffer.concat([decipher.update(Buffer.from(row.ciphertext, "base64")), decipher.final()]);
    const key = createPrivateKey({ key: plain, format: "der", type: "pkcs8" });
    plain.fill(0);
    if (this.cache.size > 5000) this.cache.clear();
    this.cache.set(keyRef, key);
    return key;
  }
}
