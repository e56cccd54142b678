import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fold, spec } from "@tigw/platform";
import { vpnBoxDecider, type VpnBoxEvent } from "../src/index.js";

const at = "2026-03-01T10:00:00.000Z";
const later = (hours: number) => new Date(Date.parse(at) + hours * 3_600_000).toISOString();
const announced: VpnBoxEvent = { type: "BoxAnnounced", data: { boxId: "box-1", account: "praxis-ort", name: "Empfang", enrolmentExpiresAt: later(24), at } };
const enrolment = { type: "CompleteEnrolment", certSerial: "0A", certNotAfter: later(24 * 365), certFingerprint: "ab", at: later(1) } as const;
const enrolled: VpnBoxEvent = {
  type: "BoxEnrolled",
  data: { boxId: "box-1", account: "praxis-ort", certSerial: "0A", certNotAfter: later(24 * 365), certFingerprint: "ab", at: later(1) },
};
const connected: VpnBoxEvent = { type: "BoxSessionConnected", data: { boxId: "box-1", account: "praxis-ort", sessionId: "s1", peer: "p", at: later(2) } };

describe("VpnBox decider", () => {
  it("announces a box with a printable name, its enrolment open for 24 hours", () => {
    spec(vpnBoxDecider).given([]).when({ type: "AnnounceBox", boxId: "box-1", account: "praxis-ort", name: " Empfang ", at }).then([announced]);
    spec(vpnBoxDecider).given([]).when({ type: "AnnounceBox", boxId: "box-1", account: "praxis-ort", name: "a\u0007b", at }).thenThrows("INVALID_BOX_NAME");
  });

  it("enrols once, and not after the code's 24 hours", () => {
    spec(vpnBoxDecider).given([announced]).when(enrolment).then([enrolled]);
    spec(vpnBoxDecider).given([announced, enrolled]).when(enrolment).thenThrows("ENROLMENT_CODE_USED");
    spec(vpnBoxDecider)
      .given([announced])
      .when({ ...enrolment, at: later(25) })
      .thenThrows("ENROLMENT_CODE_EXPIRED");
  });

  it("opens a session only with the box's current certificate; a late close of an old session is no news", () => {
    spec(vpnBoxDecider)
      .given([announced, enrolled])
      .when({ type: "OpenSession", sessionId: "s1", certSerial: "0A", peer: "p", at: later(2) })
      .then([connected]);
    spec(vpnBoxDecider)
      .given([announced, enrolled])
      .when({ type: "OpenSession", sessionId: "s1", certSerial: "0B", peer: "p", at: later(2) })
      .thenThrows("CERTIFICATE_SUPERSEDED");
    spec(vpnBoxDecider)
      .given([announced])
      .when({ type: "OpenSession", sessionId: "s1", certSerial: "0A", peer: "p", at: later(2) })
      .thenThrows("BOX_REMOVED");
    spec(vpnBoxDecider)
      .given([announced, enrolled, connected])
      .when({ type: "CloseSession", sessionId: "s0", reason: "BOX_DISCONNECTED", at: later(3) })
      .then([]);
    const s = fold(vpnBoxDecider, [
      announced,
      enrolled,
      connected,
      { type: "BoxSessionDisconnected", data: { boxId: "box-1", account: "praxis-ort", sessionId: "s1", reason: "HEARTBEAT_TIMEOUT", at: later(3) } },
    ]);
    assert.equal(s.sessionId, "");
    assert.equal(s.lastSessionEnd, "HEARTBEAT_TIMEOUT");
  });

  it("a removed box stays removed and cannot enrol or connect again", () => {
    const removed: VpnBoxEvent = { type: "BoxRemoved", data: { boxId: "box-1", account: "praxis-ort", certSerial: "0A", by: "praxis-ort", at: later(4) } };
    spec(vpnBoxDecider)
      .given([announced, enrolled])
      .when({ type: "RemoveBox", by: "praxis-ort", at: later(4) })
      .then([removed]);
    spec(vpnBoxDecider)
      .given([announced, enrolled, removed])
      .when({ type: "RemoveBox", by: "praxis-ort", at: later(5) })
      .then([]);
    spec(vpnBoxDecider).given([announced, removed]).when(enrolment).thenThrows("BOX_REMOVED");
    assert.equal(fold(vpnBoxDecider, [announced, enrolled, connected, removed]).lastSessionEnd, "BOX_REMOVED");
  });
});
