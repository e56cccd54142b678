import assert from "node:assert/strict";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import { postgresSql } from "@tigw/platform";
import { eventually, tempDir } from "@tigw/platform/testing";
import { freePort, pruefkarteCheck, root, startProcess, stopProcess, tigw } from "./support.js";
import { signalOf, signals } from "./support/observability.js";

interface ExportedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
}

/** An OTLP/HTTP (JSON) trace receiver, standing in for the collector: keeps every span it is sent. */
async function otlpReceiver(): Promise<{ server: Server; url: string; spans: ExportedSpan[] }> {
  type Body = {
    resourceSpans?: {
      resource?: { attributes?: { key: string; value: { stringValue?: string } }[] };
      scopeSpans?: { spans?: Omit<ExportedSpan, "service">[] }[];
    }[];
  };
  const spans: ExportedSpan[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req
      .on("data", (c: Buffer) => chunks.push(c))
      .on("end", () => {
        const body = JSON.parse(Buffer.concat(chunks).toString() || "{}") as Body;
        for (const rs of body.resourceSpans ?? []) {
          const service = rs.resource?.attributes?.find((a) => a.key === "service.name")?.value.stringValue ?? "";
          for (const ss of rs.scopeSpans ?? [])
            for (const sp of ss.spans ?? []) spans.push({ service, traceId: sp.traceId, spanId: sp.spanId, parentSpanId: sp.parentSpanId, name: sp.name });
        }
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, spans };
}

/** `npm run start:cluster`'s launcher: one process per service on real PostgreSQL and Kafka (CI). */
const enabled = Boolean(process.env["DATABASE_URL"] && process.env["KAFKA_BROKERS"]);

describe(
  "cluster mode: every service a process of its own on PostgreSQL and Kafka, traced over OTLP",
  { skip: !enabled && "needs DATABASE_URL and KAFKA_BROKERS" },
  () => {
    let stop: (() => Promise<void>) | undefined;
    // A database of its own, so the first-start admin and the fleet begin empty on every run.
    const admin = enabled ? postgresSql(process.env["DATABASE_URL"]!, { max: 1 }) : undefined;
    const db = `tigw_cluster_${randomBytes(4).toString("hex")}`;
    let otlp: Awaited<ReturnType<typeof otlpReceiver>> | undefined;
    after(async () => {
      await stop?.();
      otlp?.server.close();
      await admin?.exec(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
      await admin?.close();
    });

    it("starts; the CLI creates and lists a unit, and runs seed 004's Prüfkarte check in one trace across the services", async () => {
      const [http, grpc, hsmGrpc, ktGrpc, vsdmGrpc] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
      const metricsPorts: Record<string, number> = {};
      for (const service of ["tenancy", "gateway", "hsm", "card-terminal", "vsdm", "vpn", "ksr"]) metricsPorts[service] = await freePort();
      await admin!.exec(`CREATE DATABASE ${db}`);
      otlp = await otlpReceiver();
      const url = new URL(process.env["DATABASE_URL"]!);
      url.pathname = `/${db}`;
      const p = await startProcess(
        [join(root, "services/launcher/dist/src/cluster.js"), "--demo"],
        {
          DATABASE_URL: url.toString(),
          TIGW_DATA_DIR: tempDir("tigw-cluster-"),
          TIGW_HTTP_PORT: String(http),
          TIGW_TENANCY_GRPC_PORT: String(grpc),
          TIGW_HSM_GRPC_PORT: String(hsmGrpc),
          TIGW_HSM_METRICS_PORT: String(metricsPorts["hsm"]),
          TIGW_CARD_TERMINAL_GRPC_PORT: String(ktGrpc),
          TIGW_CARD_TERMINAL_METRICS_PORT: String(metricsPorts["card-terminal"]),
          TIGW_VSDM_GRPC_PORT: String(vsdmGrpc),
          TIGW_VSDM_METRICS_PORT: String(metricsPorts["vsdm"]),
          TIGW_VPN_GRPC_PORT: String(await freePort()),
          TIGW_KSR_GRPC_PORT: String(await freePort()),
          TIGW_KSR_METRICS_PORT: String(metricsPorts["ksr"]),
          TIGW_KSR_SOAP_PORT: "0",
          TIGW_SOAP_PORT_BASE: "0",
          TIGW_VPN_METRICS_PORT: String(metricsPorts["vpn"]),
          TIGW_VPNZUGD_PORT: "0",
          TIGW_ZUGANGSMODUL_PORT: "0",
          TIGW_OCSP_PORT: "0",
          TIGW_TENANCY_METRICS_PORT: String(metricsPorts["tenancy"]),
          TIGW_GATEWAY_METRICS_PORT: String(metricsPorts["gateway"]),
          TIGW_ADMIN_PASSWORD: "cluster-admin-password",
          OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
          OTEL_BSP_SCHEDULE_DELAY: "200",
        },
        /demo fleet/,
      );
      stop = () => stopProcess(p.child);
      const env = { TIGW_URL: `http://127.0.0.1:${http}`, TIGW_CONFIG_DIR: tempDir("tigw-cfg-") };
      const login = await tigw(env, "login", "--user", "admin", "--password", "cluster-admin-password");
      assert.equal(login.code, 0, login.stderr);
      // --demo seeded the fleet over gRPC, with real terminals.
      const demoKts = JSON.parse((await tigw(env, "kt", "list", "--unit", "RZK-DEMO-0001", "-o", "json")).stdout) as {
        terminals: { correlation: string; connected: boolean }[];
      };
      assert.equal(demoKts.terminals.filter((k) => k.correlation === "aktiv" && k.connected).length, 12);
      const serial = `CLU-${Date.now()}`;
      const created = await tigw(env, "unit", "create", "--serial", serial, "--profile", "rz");
      assert.equal(created.code, 0, created.stderr);
      const shown = JSON.parse((await tigw(env, "unit", "show", serial, "-o", "json")).stdout) as { serial: string; computeUnits: unknown[] };
      assert.equal(shown.serial, serial);
      assert.equal(shown.computeUnits.length, 2);

      // Seed 004's check across the processes; the successful read is one trace from the REST call
      // through vsdm, card-terminal and hsm to the Fachdienst.
      const vsdUnit = `CLU-VSD-${Date.now()}`;
      const { readOutput } = await pruefkarteCheck((...args) => tigw(env, ...args), vsdUnit);
      assert.match(readOutput, /Prüfungsnachweis: 3 \(update technically impossible\)/);
      const spans = otlp!.spans;
      const traceOfRead = () => {
        const reads = spans.filter((s) => s.service === "vsdm" && s.name === "VSDM online check Fachdienst");
        return reads.length ? spans.filter((s) => s.traceId === reads.at(-1)!.traceId) : [];
      };
      // Each process exports in its own batches, and the root (the gateway's HTTP request) ends last:
      // wait until every service's spans and the root have arrived.
      await eventually(
        () =>
          ["gateway", "vsdm", "card-terminal", "hsm"].every((svc) => traceOfRead().some((s) => s.service === svc)) &&
          traceOfRead().some((s) => !s.parentSpanId),
        30_000,
        "the read's spans from every service, and its root",
      );
      const trace = traceOfRead();
      const roots = trace.filter((s) => !s.parentSpanId);
      assert.deepEqual(
        roots.map((s) => s.service),
        ["gateway"],
        "one root: the gateway's HTTP request",
      );
      assert.ok(trace.some((s) => s.service === "vsdm" && /VsdmService\/ReadVsd/.test(s.name)));
      assert.ok(trace.some((s) => s.service === "card-terminal" && /CardTerminalService\/CheckAccess/.test(s.name)));
      assert.ok(trace.some((s) => s.service === "hsm" && /HsmService\/CardToCardAuthenticate/.test(s.name)));
      const ids = new Set(trace.map((s) => s.spanId));
      assert.ok(
        trace.every((s) => !s.parentSpanId || ids.has(s.parentSpanId)),
        "every span's parent is in the same trace",
      );

      // Issue 15's simulator across the processes: new practices on that unit (portal, TOTP, a box
      // each, a terminal paired through it, the SMC-B unlocked over SOAP through it) and their
      // patients read with ReadVSD through the boxes, with tunnel drops.
      const day = await tigw(env, "sim", "practices", "--count", "2", "--unit", vsdUnit, "--rate", "2", "--duration", "10s", "-o", "json");
      assert.equal(day.code, 0, `${day.stdout}\n${day.stderr}`);
      const summary = JSON.parse(day.stdout) as { ok: number; errors: Record<string, number> };
      assert.deepEqual(summary.errors, {});
      assert.ok(summary.ok >= 3, day.stdout);

      // Each process serves the metrics deploy/prometheus/signals.json promises it (those that need
      // no particular event first), so the dashboards and alert rules have data.
      for (const [service, list] of Object.entries(signals())) {
        const text = await (await fetch(`http://127.0.0.1:${metricsPorts[service]}/metrics`)).text();
        const served = new Set([...text.matchAll(/^([a-z_]+)[{ ]/gm)].map((m) => signalOf(m[1]!)));
        for (const s of list.filter((x) => !x.after)) assert.ok(served.has(s.name), `${service} serves ${s.name}`);
      }
    });
  },
);
