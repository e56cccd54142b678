import { generateKeyPairSync } from "node:crypto";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * The demo vendor key pair of the embedded mode (Ed25519), created once in the data dir: the
 * private half signs licences with `tigw licence issue --key`, the public half is trusted by
 * tenancy. A real fleet trusts its vendors' public keys only (TIGW_VENDOR_PUBLIC_KEY_FILE).
 */
export function ensureDemoVendorKey(dataDir: string): { privateKeyFile: string; publicKeyFile: string } {
  const dir = join(dataDir, "vendor");
  const privateKeyFile = join(dir, "demo-vendor.key.pem");
  const publicKeyFile = join(dir, "demo-vendor.pub.pem");
  if (!existsSync(privateKeyFile) || !existsSync(publicKeyFile)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    writeFileSync(privateKeyFile, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
    writeFileSync(publicKeyFile, publicKey.export({ type: "spki", format: "pem" }), { mode: 0o644 });
  }
  return { privateKeyFile, publicKeyFile };
}
