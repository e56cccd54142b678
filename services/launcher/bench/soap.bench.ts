/**
 * npm run bench (SOAP): the Konnektor interface of a unit as practice software uses it, in one run
 * beside the gRPC it translates to: ReadVSD of the Prüfkarte over SOAP (HTTPS, keep-alive) and
 * over vsdm's gRPC (ratio of the medians: what TLS, XML and the gateway add), GetCards over SOAP
 * (p50/p99), and CETP delivery: from the insert of a card (card-terminal gRPC) to the
 * CARD/INSERTED frame read by a TLS listener (bounded below by the 250 ms read interval of the
 * event source). All services embedded, on one machine.
 */
import { randomBytes } from "node:crypto";
import { Agent, request } from "node:https";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:tls";
import { embeddedSql } from "@tigw/platform";
import { startGateway } from "@tigw/gateway";
import { KT, rpc, setUpPractice, UNIT } from "@tigw/vsdm/testing";

const N = Number(process.env["BENCH_SOAP_CALLS"] ?? 200);
const EVENTS = Number(process.env["BENCH_CETP_EVENTS"] ?? 30);

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;

async function latencies(n: number, op: () => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < 10; i++) await op();
  const lat: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    await op();
    lat.push(performance.now() - s);
  }
  return lat.sort((a, b) => a - b);
}
const fmt = (l: number[]) => `p50 ${pct(l, 50).toFixed(2)} ms  p99 ${pct(l, 99).toFixed(2)} ms`;

async function main(): Promise<void> {
  const practice = await setUpPractice({ populationSize: 100 });
  const { c, h, v } = practice.clients;
  const gw = await startGateway({
    sql: await embeddedSql(),
    tenancyAddress: practice.tenancy.address,
    hsmAddress: practice.hsm.address,
    cardTerminalAddress: practice.cardTerminal.address,
    vsdmAddress: practice.vsdm.address,
    vpnAddress: "127.0.0.1:9",
    port: 0,
    adminPassword: `bench-${randomBytes(8).toString("hex")}`,
    tokenSecret: randomBytes(24).toString("hex"),
  });
  const dir = mkdtempSync(join(tmpdir(), "tigw-soap-bench-"));
  try {
    const endpoint = await gw.soap.ensure(UNIT);
    const { rootPems } = await rpc<{ rootPems: string[] }>(h, "getTrustAnchors", {});
    const agent = new Agent({ keepAlive: true, ca: rootPems, maxSockets: 1 });
    const soap = (path: string, action: string, body: string) =>
      new Promise<string>((resolve, reject) => {
        const url = new URL(path, endpoint.baseUrl);
        const req = request(
          {
            host: url.hostname,
            port: url.port,
            path: url.pathname,
            method: "POST",
            agent,
            headers: { "content-type": "text/xml; charset=utf-8", soapaction: action },
          },
          (res) => {
            let text = "";
            res.on("data", (d: Buffer) => (text += d.toString()));
            res.on("end", () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`${res.statusCode}: ${text.slice(0, 500)}`))));
          },
        );
        req.on("error", reject);
        req.end(`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>${body}</s:Body></s:Envelope>`);
      });
    const ctx =
      `<c:Context xmlns:c="http://ws.gematik.de/conn/ConnectorContext/v2.0" xmlns:n="http://ws.gematik.de/conn/ConnectorCommon/v5.0">` +
      `<n:MandantId>M1</n:MandantId><n:ClientSystemId>PVS1</n:ClientSystemId><n:WorkplaceId>AP1</n:WorkplaceId></c:Context>`;

    await rpc(c, "verifyPin", { cardHandle: practice.smcbHandle, pin: "123456", fromPinPad: false });
    const egk = await rpc<{ iccsn: string; certSerial: string }>(v, "prepareEgk", { kvnr: "", pruefkarte: 1 });
    const ehc = await practice.insert(1, "PRUEFKARTE_EGK", egk.iccsn, egk.certSerial);

    const context = { mandantId: "M1", clientSystemId: "PVS1", workplaceId: "AP1", userId: "" };
    const grpc = await latencies(N, () =>
      rpc(v, "readVsd", { unit: UNIT, context, ehcHandle: ehc, hpcHandle: practice.smcbHandle, performOnlineCheck: true, readOnlineReceipt: true }),
    );
    const vsd = `<v:ReadVSD xmlns:v="http://ws.gematik.de/conn/vsds/VSDService/v5.2"><v:EhcHandle>${ehc}</v:EhcHandle><v:HpcHandle>${practice.smcbHandle}</v:HpcHandle><v:PerformOnlineCheck>true</v:PerformOnlineCheck><v:ReadOnlineReceipt>true</v:ReadOnlineReceipt>${ctx}</v:ReadVSD>`;
    const overSoap = await latencies(N, () => soap("/soap/VSDService/5.2.0", '"http://ws.gematik.de/conn/vsds/VSDService/v6.0#ReadVSD"', vsd));
    const getCards = await latencies(N, () =>
      soap(
        "/soap/EventService/7.2.0",
        '"http://ws.gematik.de/conn/EventService/v7.2#GetCards"',
        `<e:GetCards xmlns:e="http://ws.gematik.de/conn/EventService/v7.2">${ctx}</e:GetCards>`,
      ),
    );

    // CETP: a TLS listener, a subscription to CARD/INSERTED, then inserts of an HBA into slot 3.
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "k.pem", "-out", "c.pem", "-subj", "/CN=bench", "-days", "1"], {
      cwd: dir,
      stdio: "ignore",
    });
    let arrived: (() => void) | undefined;
    let pending = Buffer.alloc(0);
    const listener = createServer({ key: readFileSync(join(dir, "k.pem")), cert: readFileSync(join(dir, "c.pem")) }, (socket) =>
      socket.on("data", (d: Buffer) => {
        pending = Buffer.concat([pending, d]);
        while (pending.length >= 8 && pending.length >= 8 + pending.readUInt32BE(4)) {
          pending = pending.subarray(8 + pending.readUInt32BE(4));
          arrived?.();
        }
      }),
    );
    await new Promise<void>((r) => listener.listen(0, "127.0.0.1", r));
    const port = (listener.address() as { port: number }).port;
    await soap(
      "/soap/EventService/7.2.0",
      '"http://ws.gematik.de/conn/EventService/v7.2#Subscribe"',
      `<e:Subscribe xmlns:e="http://ws.gematik.de/conn/EventService/v7.2">${ctx}<e:Subscription><e:EventTo>cetp://127.0.0.1:${port}</e:EventTo><e:Topic>CARD/INSERTED</e:Topic></e:Subscription></e:Subscribe>`,
    );
    const { certificate } = await rpc<{ certificate: { certSerial: string; iccsn: string } }>(h, "issueCard", {
      cardType: "HBA",
      keyType: "ecc",
      holder: "Bench HBA",
      iccsn: "",
      notBefore: "",
      validityYears: 5,
    });
    const cetp: number[] = [];
    for (let i = 0; i < EVENTS; i++) {
      const got = new Promise<void>((r) => (arrived = r));
      const s = performance.now();
      await rpc(c, "insertCard", { ctId: KT, slot: 3, cardType: "HBA", iccsn: certificate.iccsn, certSerial: certificate.certSerial, pin: "" });
      await got;
      cetp.push(performance.now() - s);
      await rpc(c, "removeCard", { ctId: KT, slot: 3 });
      await new Promise((r) => setTimeout(r, 300)); // the removal is seen before the next insert
    }
    cetp.sort((a, b) => a - b);
    listener.close();
    agent.destroy();

    const ratio = pct(overSoap, 50) / pct(grpc, 50);
    console.log(`SOAP interface of a unit (${N} calls each, ${EVENTS} CETP events)`);
    console.log(`  ReadVSD over vsdm gRPC      ${fmt(grpc)}`);
    console.log(`  ReadVSD over SOAP (HTTPS)   ${fmt(overSoap)}   SOAP/gRPC p50 ratio ${ratio.toFixed(2)}`);
    console.log(`  GetCards over SOAP          ${fmt(getCards)}`);
    console.log(`  CETP insert -> frame        ${fmt(cetp)}   (event source read every 250 ms)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await gw.close();
    await practice.stop();
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
