import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { totpNow } from "../src/sim/practices.js";
import { type FakeGateway, fakeGateway, loggedIn, tigw } from "./support.js";
import { tempDir } from "@tigw/platform/testing";

const boxes = [
  {
    boxId: "box-1a2b3c4d",
    account: "praxis-ort",
    name: "Empfang",
    state: "enrolled",
    connected: true,
    connectedSince: "2026-03-02T08:00:00.000Z",
    lastHeartbeat: "2026-03-02T08:05:00.000Z",
    lastSessionEnd: "",
    certNotAfter: "2027-03-02T08:00:00.000Z",
  },
  {
    boxId: "box-9f8e7d6c",
    account: "praxis-ort",
    name: "Filiale",
    state: "removed",
    connected: false,
    connectedSince: "",
    lastHeartbeat: "",
    lastSessionEnd: "BOX_REMOVED",
    certNotAfter: "2027-03-02T08:00:00.000Z",
  },
];

describe("tigw box and the VPN-box simulators", () => {
  let gw: FakeGateway;
  before(async () => {
    gw = await fakeGateway({
      "GET /api/v1/boxes": () => ({ boxes }),
      "GET /api/v1/boxes?account=praxis-ort": () => ({ boxes }),
      "GET /api/v1/portal/boxes/zugangsmodul": () => ({ address: "127.0.0.1:1", trustPems: [], serverName: "zugangsmodul.tigw.test" }),
    });
    loggedIn(gw.url);
  });
  after(() => gw.close());

  it("box list: state, session, last heartbeat, why the last session ended", async () => {
    const r = await tigw(gw.url, "box", "list", "--account", "praxis-ort");
    assert.equal(gw.last.path, "/api/v1/boxes?account=praxis-ort");
    assert.match(r.out, /^BOX\s+ACCOUNT\s+NAME\s+STATE\s+SESSION\s+LAST HEARTBEAT\s+LAST END\s+CERT UNTIL/);
    assert.match(
      r.out,
      /box-1a2b3c4d\s+praxis-ort\s+Empfang\s+enrolled\s+connected since 2026-03-02T08:00:00.000Z\s+2026-03-02T08:05:00.000Z\s+-\s+2027-03-02/,
    );
    assert.match(r.out, /box-9f8e7d6c\s+praxis-ort\s+Filiale\s+removed\s+-\s+-\s+BOX_REMOVED/);
  });

  it("sim vpnbox: names what is missing; no state and no code is a usage error; an unreachable Zugangsmodul is named", async () => {
    const missing = await tigw(gw.url, "sim", "vpnbox");
    assert.equal(missing.code, 2);
    assert.match(missing.err, /missing --account/);
    const badListen = await tigw(gw.url, "sim", "vpnbox", "--account", "praxis-ort", "--listen", "nowhere");
    assert.equal(badListen.code, 2);
    assert.match(badListen.err, /--listen is HOST:PORT/);
    const dir = tempDir("tigw-box-");
    const noCode = await tigw(gw.url, "sim", "vpnbox", "--account", "praxis-ort", "--state-dir", dir);
    assert.equal(noCode.code, 2);
    assert.match(noCode.err, /no enrolled box for praxis-ort .*give --enrol CODE/);
    const down = await tigw(gw.url, "sim", "vpnbox", "--account", "praxis-ort", "--state-dir", dir, "--enrol", "ABCD-EFGH-JKLM-NPQR");
    assert.equal(down.code, 1);
    assert.match(down.err, /error ZUGANGSMODUL_UNREACHABLE: cannot reach the Zugangsmodul at 127\.0\.0\.1:1/);
  });

  it("sim practices: --count and --rate are checked before anything is created", async () => {
    for (const [args, text] of [
      [["--count", "0"], /--count must be 1-500/],
      [["--count", "3", "--rate", "fast"], /--rate must be a number/],
      [["--count", "3", "--duration", "soon"], /not a duration: soon/],
    ] as const) {
      const r = await tigw(gw.url, "sim", "practices", ...args);
      assert.equal(r.code, 2, r.err);
      assert.match(r.err, text);
    }
  });

  it("the simulated practices' authenticator app computes RFC 6238 codes (SHA-1, 30 s)", () => {
    // RFC 6238 appendix B: secret "12345678901234567890" (base32 below), T = 59 s -> 94287082 (8 digits); 6 digits: 287082.
    assert.equal(totpNow("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", 59_000), "287082");
    assert.equal(totpNow("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", 1_111_111_109_000), "081804");
  });
});
