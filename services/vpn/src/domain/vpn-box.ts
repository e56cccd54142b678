import { DomainError, ValidationError, type Decider } from "@tigw/platform";

/**
 * VpnBox: a practice's VPN box at the Zugangsmodul. The practice announces it (a one-time
 * enrolment code, whose hash the application keeps outside the events); the box proves the code
 * and its own key and gets a client certificate from the VPN-box sub-CA; removing it revokes the
 * certificate. A box belongs to the one account that announced it, for its whole life.
 * Its sessions are events too: connected, disconnected (with why), refused (with the reason), so
 * an operator can read a box's history and the metrics count from the same facts.
 */
export type BoxState = "awaiting-enrolment" | "enrolled" | "removed";

/** Why a session of a known box is refused at the handshake or ended later. */
export type SessionRefusal =
  "CERTIFICATE_REVOKED" | "CERTIFICATE_EXPIRED" | "CERTIFICATE_SUPERSEDED" | "BOX_REMOVED" | "ACCOUNT_BLOCKED" | "ACCOUNT_NOT_ACTIVE";

/** A practice keeps a handful of boxes (one per site, and a spare): more is a mistake or abuse. */
export const MAX_BOXES_PER_ACCOUNT = 10;
/** How long an enrolment code stays usable. */
export const ENROLMENT_HOURS = 24;

export interface VpnBoxState {
  exists: boolean;
  boxId: string;
  account: string;
  name: string;
  state: BoxState;
  enrolmentExpiresAt: string;
  certSerial: string;
  certNotAfter: string;
  certFingerprint: string;
  /** The session now, if any: its id and since when. */
  sessionId: string;
  connectedSince: string;
  lastSessionEnd: string;
  createdAt: string;
  removedAt: string;
  updatedAt: string;
}

export type VpnBoxCommand =
  | { type: "AnnounceBox"; boxId: string; account: string; name: string; at: string }
  | { type: "CompleteEnrolment"; certSerial: string; certNotAfter: string; certFingerprint: string; at: string }
  | { type: "RemoveBox"; by: string; at: string }
  | { type: "OpenSession"; sessionId: string; certSerial: string; peer: string; at: string }
  | { type: "CloseSession"; sessionId: string; reason: string; at: string }
  | { type: "RefuseSession"; reason: SessionRefusal; certSerial: string; peer: string; at: string };

export type VpnBoxEvent =
  | { type: "BoxAnnounced"; data: { boxId: string; account: string; name: string; enrolmentExpiresAt: string; at: string } }
  | { type: "BoxEnrolled"; data: { boxId: string; account: string; certSerial: string; certNotAfter: string; certFingerprint: string; at: string } }
  | { type: "BoxRemoved"; data: { boxId: string; account: string; certSerial: string; by: string; at: string } }
  | { type: "BoxSessionConnected"; data: { boxId: string; account: string; sessionId: string; peer: string; at: string } }
  | { type: "BoxSessionDisconnected"; data: { boxId: string; account: string; sessionId: string; reason: string; at: string } }
  | { type: "BoxSessionRefused"; data: { boxId: string; account: string; reason: SessionRefusal; certSerial: string; peer: string; at: string } };

export const initialVpnBox = (): VpnBoxState => ({
  exists: false,
  boxId: "",
  account: "",
  name: "",
  state: "awaiting-enrolment",
  enrolmentExpiresAt: "",
  certSerial: "",
  certNotAfter: "",
  certFingerprint: "",
  sessionId: "",
  connectedSince: "",
  lastSessionEnd: "",
  createdAt: "",
  removedAt: "",
  updatedAt: "",
});

/** A name the practice gives the box ("Empfang", "Praxis Nord"): printable, short. */
export function checkBoxName(name: string): string {
  const ok = typeof name === "string" && name.trim().length > 0 && name.length <= 60 && [...name].every((ch) => ch >= " " && ch !== "\u007f");
  if (!ok) throw new ValidationError("INVALID_BOX_NAME", "name", "name the box with 1-60 printable characters");
  return name.trim();
}

const notFound = () => new DomainError("BOX_NOT_FOUND", "no such VPN box of this practice", { field: "boxId" });

function decide(c: VpnBoxCommand, s: VpnBoxState): VpnBoxEvent[] {
  switch (c.type) {
    case "AnnounceBox": {
      if (s.exists) throw new DomainError("BOX_EXISTS", `box ${c.boxId} exists`);
      const enrolmentExpiresAt = new Date(Date.parse(c.at) + ENROLMENT_HOURS * 3_600_000).toISOString();
      return [{ type: "BoxAnnounced", data: { boxId: c.boxId, account: c.account, name: checkBoxName(c.name), enrolmentExpiresAt, at: c.at } }];
    }
    case "CompleteEnrolment":
      if (!s.exists) throw notFound();
      if (s.state === "removed") throw new DomainError("BOX_REMOVED", "this box was removed: announce a new one in the portal");
      if (s.state === "enrolled") throw new DomainError("ENROLMENT_CODE_USED", "this box is enrolled already: an enrolment code works once");
      if (Date.parse(s.enrolmentExpiresAt) <= Date.parse(c.at))
        throw new DomainError("ENROLMENT_CODE_EXPIRED", "the enrolment code has expired: announce the box again in the portal");
      return [
        {
          type: "BoxEnrolled",
          data: { boxId: s.boxId, account: s.account, certSerial: c.certSerial, certNotAfter: c.certNotAfter, certFingerprint: c.certFingerprint, at: c.at },
        },
      ];
    case "RemoveBox":
      if (!s.exists) throw notFound();
      if (s.state === "removed") return [];
      return [{ type: "BoxRemoved", data: { boxId: s.boxId, account: s.account, certSerial: s.certSerial, by: c.by, at: c.at } }];
    case "OpenSession":
      // The endpoint checked the certificate and the account; the box decides what only it knows.
      if (!s.exists || s.state !== "enrolled") throw new DomainError("BOX_REMOVED", "this box is not enrolled (removed or never enrolled)");
      if (c.certSerial !== s.certSerial) throw new DomainError("CERTIFICATE_SUPERSEDED", "this certificate is not the box's current one");
      return [{ type: "BoxSessionConnected", data: { boxId: s.boxId, account: s.account, sessionId: c.sessionId, peer: c.peer, at: c.at } }];
    case "CloseSession":
      // Only the session now open can be closed; an old one's late close is no news.
      if (!s.exists || s.sessionId !== c.sessionId) return [];
      return [{ type: "BoxSessionDisconnected", data: { boxId: s.boxId, account: s.account, sessionId: c.sessionId, reason: c.reason, at: c.at } }];
    case "RefuseSession":
      if (!s.exists) throw notFound();
      return [{ type: "BoxSessionRefused", data: { boxId: s.boxId, account: s.account, reason: c.reason, certSerial: c.certSerial, peer: c.peer, at: c.at } }];
  }
}

function evolve(s: VpnBoxState, e: VpnBoxEvent): VpnBoxState {
  const base = { ...s, updatedAt: e.data.at };
  switch (e.type) {
    case "BoxAnnounced":
      return {
        ...base,
        exists: true,
        boxId: e.data.boxId,
        account: e.data.account,
        name: e.data.name,
        state: "awaiting-enrolment",
        enrolmentExpiresAt: e.data.enrolmentExpiresAt,
        createdAt: e.data.at,
      };
    case "BoxEnrolled":
      return { ...base, state: "enrolled", certSerial: e.data.certSerial, certNotAfter: e.data.certNotAfter, certFingerprint: e.data.certFingerprint };
    case "BoxRemoved":
      return {
        ...base,
        state: "removed",
        removedAt: e.data.at,
        sessionId: "",
        connectedSince: "",
        lastSessionEnd: s.sessionId ? "BOX_REMOVED" : s.lastSessionEnd,
      };
    case "BoxSessionConnected":
      return { ...base, sessionId: e.data.sessionId, connectedSince: e.data.at };
    case "BoxSessionDisconnected":
      return { ...base, sessionId: "", connectedSince: "", lastSessionEnd: e.data.reason };
    case "BoxSessionRefused":
      return { ...base, lastSessionEnd: e.data.reason };
  }
}

export const vpnBoxDecider: Decider<VpnBoxState, VpnBoxCommand, VpnBoxEvent> = {
  initialState: initialVpnBox,
  decide,
  evolve,
};
