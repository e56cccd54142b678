import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { randomBytes } from "node:crypto";
import { postgresSql } from "@tigw/platform";
import { freePort, root, startProcess, stopProcess, tigw } from "./support.js";

/** `npm run start:cluster`'s launcher: one process per service on real PostgreSQL and Kafka (CI). */
const enabled = Boolean(process.env["DATABASE_URL"] && process.env["KAFKA_BROKERS"]);

describe("cluster mode: tenancy and gateway as separate processes on PostgreSQL and Kafka", { skip: !enabled && "needs DATABASE_URL and KAFKA_BROKERS" }, () => {
  let stop: (() => Promise<void>) | undefined;
  // A database of its own, so the first-start admin and the fleet begin empty on every run.
  const admin = enabled ? postgresSql(process.env["DATABASE_URL"]!, { max: 1 }) : undefined;
  const db = `tigw_cluster_${randomBytes(4).toString("hex")}`;
  after(async () => {
    await stop?.();
    await admin?.exec(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    await admin?.close();
  });

  it("starts, and the CLI creates and lists a unit through it", async () => {
    const [http, grpc, hsmGrpc, ktGrpc, vsdmGrpc] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
    await admin!.exec(`CREATE DATABASE ${db}`);
    const url = new URL(process.env["DATABASE_URL"]!);
    url.pathname = `/${db}`;
    const p = await startProcess(
      [join(root, "services/launcher/dist/src/cluster.js")],
      {
        DATABASE_URL: url.toString(),
        TIGW_DATA_DIR: mkdtempSync(join(tmpdir(), "tigw-cluster-")),
        TIGW_HTTP_PORT: String(http),
        TIGW_TENANCY_GRPC_PORT: String(grpc),
        TIGW_HSM_GRPC_PORT: String(hsmGrpc),
        TIGW_HSM_METRICS_PORT: "0",
        TIGW_CARD_TERMINAL_GRPC_PORT: String(ktGrpc),
        TIGW_CARD_TERMINAL_METRICS_PORT: "0",
        TIGW_VSDM_GRPC_PORT: String(vsdmGrpc),
        TIGW_VSDM_METRICS_PORT: "0",
        TIGW_OCSP_PORT: "0",
        TIGW_TENANCY_METRICS_PORT: "0",
        TIGW_GATEWAY_METRICS_PORT: "0",
        TIGW_ADMIN_PASSWORD: "cluster-admin-password",
      },
      /gateway serving/,
    );
    stop = () => stopProcess(p.child);
    const env = { TIGW_URL: `http://127.0.0.1:${http}`, TIGW_CONFIG_DIR: mkdtempSync(join(tmpdir(), "tigw-cfg-")) };
    const login = await tigw(env, "login", "--user", "admin", "--password", "cluster-admin-password");
    assert.equal(login.code, 0, login.stderr);
    const serial = `CLU-${Date.now()}`;
    const created = await tigw(env, "unit", "create", "--serial", serial, "--profile", "rz");
    assert.equal(created.code, 0, created.stderr);
    const shown = JSON.parse((await tigw(env, "unit", "show", serial, "-o", "json")).stdout) as { serial: string; computeUnits: unknown[] };
    assert.equal(shown.serial, serial);
    assert.equal(shown.computeUnits.length, 2);
  });
});
