import { createPrivateKey, type KeyObject } from "node:crypto";
import { SecretVault, type Sql } from "@tigw/platform";

export { loadMasterKey } from "@tigw/platform";

/**
 * Private keys of the gSMC-Ks, cards and CAs: PKCS#8 DER in the platform's SecretVault
 * (AES-256-GCM under the master key), apart from the events, which name keys by reference.
 */
export class KeyVault {
  private constructor(private readonly vault: SecretVault) {}

  static async open(sql: Sql, schema: string, masterKey: Buffer): Promise<KeyVault> {
    return new KeyVault(await SecretVault.open(sql, schema, masterKey, "vault_keys"));
  }

  async put(keyRef: string, privateKey: KeyObject, owner: string): Promise<void> {
    const der = privateKey.export({ type: "pkcs8", format: "der" });
    await this.vault.put(keyRef, der, owner);
    der.fill(0);
  }

  async get(keyRef: string): Promise<KeyObject> {
    const der = await this.vault.get(keyRef);
    const key = createPrivateKey({ key: der, format: "der", type: "pkcs8" });
    der.fill(0);
    return key;
  }
}
