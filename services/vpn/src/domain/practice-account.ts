import { DomainError, ValidationError, type Decider } from "@tigw/platform";

/**
 * PracticeAccount: a TI-Gateway user of the Zugangsmodul (a practice). It registers at the
 * portal and can do nothing else until it has enrolled TOTP; an operator may block it. The
 * practice grants an on-site technician (DVO) time-limited access to one of its instances; the
 * grant ends when revoked or when its time is up (on the clock the command brings).
 * The password hash and the TOTP secret are not here: they live in the service's credentials
 * table and vault; events carry no secret.
 */
export type PracticeStatus = "totp-enrolment" | "active" | "blocked";
export type GrantState = "active" | "expired" | "revoked";

/** The longest DVO grant: a technician's visit, not a standing access. */
export const MAX_GRANT_HOURS = 14 * 24;

export interface DvoGrant {
  grantId: string;
  unitId: string;
  serial: string;
  technician: string;
  grantedAt: string;
  until: string;
  revokedAt: string;
}

export interface PracticeAccountState {
  exists: boolean;
  account: string;
  practiceName: string;
  totpEnrolled: boolean;
  /** How many times TOTP was enrolled: a portal session is valid only under the one it was issued in. */
  totpGeneration: number;
  blocked: boolean;
  blockedReason: string;
  grants: DvoGrant[];
  createdAt: string;
  updatedAt: string;
}

export type PracticeAccountCommand =
  | { type: "RegisterPractice"; account: string; practiceName: string; at: string }
  | { type: "EnrolTotp"; at: string }
  /** The operator's reset for a lost phone: the practice must enrol again before anything else. */
  | { type: "ResetTotp"; by: string; at: string }
  /**
   * A recovery code replaced the TOTP code at a login: the phone is lost, so its secret goes and
   * the account is back in enrolment (as after the operator's reset, without waiting for one).
   */
  | { type: "UseRecoveryCode"; at: string }
  /** The practice had a new set of recovery codes made (the previous set stops working). */
  | { type: "RenewRecoveryCodes"; at: string }
  | { type: "BlockPractice"; reason: string; by: string; at: string }
  | { type: "UnblockPractice"; by: string; at: string }
  /** unitBound: whether the account is bound to a Mandant on the unit (the bindings aggregate's fact, read by the application). */
  | { type: "GrantDvoAccess"; grantId: string; unitId: string; serial: string; unitBound: boolean; technician: string; hours: number; at: string }
  | { type: "RevokeDvoAccess"; grantId: string; at: string };

export type PracticeAccountEvent =
  | { type: "PracticeRegistered"; data: { account: string; practiceName: string; at: string } }
  | { type: "PracticeTotpEnrolled"; data: { account: string; at: string } }
  | { type: "PracticeTotpReset"; data: { account: string; by: string; at: string } }
  | { type: "PracticeRecoveryCodeUsed"; data: { account: string; at: string } }
  | { type: "PracticeRecoveryCodesRenewed"; data: { account: string; at: string } }
  | { type: "PracticeBlocked"; data: { account: string; reason: string; by: string; at: string } }
  | { type: "PracticeUnblocked"; data: { account: string; by: string; at: string } }
  | { type: "DvoAccessGranted"; data: { account: string; grantId: string; unitId: string; serial: string; technician: string; until: string; at: string } }
  | { type: "DvoAccessRevoked"; data: { account: string; grantId: string; at: string } };

export const initialPracticeAccount = (): PracticeAccountState => ({
  exists: false,
  account: "",
  practiceName: "",
  totpEnrolled: false,
  totpGeneration: 0,
  blocked: false,
  blockedReason: "",
  grants: [],
  createdAt: "",
  updatedAt: "",
});

/** Account names are login names: 3-32 lower-case letters, digits, '.', '_' or '-', starting with a letter. */
const ACCOUNT = /^[a-z][a-z0-9._-]{2,31}$/;

export function checkAccountName(account: string): string {
  if (typeof account !== "string" || !ACCOUNT.test(account))
    throw new ValidationError("INVALID_ACCOUNT", "account", "an account name has 3-32 lower-case letters, digits, '.', '_' or '-' and starts with a letter");
  return account;
}

/** Text a person typed: not blank, not too long, no control characters (they would reach logs and pages). */
const printable = (s: string, max: number) =>
  typeof s === "string" && s.trim().length > 0 && s.length <= max && [...s].every((ch) => ch >= " " && ch !== "\u007f");

export function statusOf(s: PracticeAccountState): PracticeStatus {
  if (s.blocked) return "blocked";
  return s.totpEnrolled ? "active" : "totp-enrolment";
}

/** A grant's state at a moment: revoked, expired once `until` has passed, else active. */
export function grantStateAt(g: DvoGrant, now: string): GrantState {
  if (g.revokedAt) return "revoked";
  return Date.parse(g.until) <= Date.parse(now) ? "expired" : "active";
}

const notFound = () => new DomainError("PRACTICE_NOT_FOUND", "no such practice account", { field: "account" });

/** What a practice may do itself: only once TOTP is enrolled, never while blocked. */
function mustAct(s: PracticeAccountState): void {
  if (!s.exists) throw notFound();
  if (s.blocked) throw new DomainError("ACCOUNT_BLOCKED", `practice account ${s.account} is blocked by the operator`, { account: s.account });
  if (!s.totpEnrolled) throw new DomainError("TOTP_ENROLMENT_REQUIRED", "enrol TOTP (an authenticator app) before anything else", { account: s.account });
}

function decide(c: PracticeAccountCommand, s: PracticeAccountState): PracticeAccountEvent[] {
  switch (c.type) {
    case "RegisterPractice":
      checkAccountName(c.account);
      if (!printable(c.practiceName, 120))
        throw new ValidationError("INVALID_PRACTICE_NAME", "practiceName", "the practice name has 1-120 printable characters");
      if (s.exists) throw new DomainError("ACCOUNT_EXISTS", `account ${c.account} exists: choose another name or log in`, { field: "account" });
      return [{ type: "PracticeRegistered", data: { account: c.account, practiceName: c.practiceName.trim(), at: c.at } }];
    case "EnrolTotp":
      if (!s.exists) throw notFound();
      if (s.blocked) throw new DomainError("ACCOUNT_BLOCKED", `practice account ${s.account} is blocked by the operator`, { account: s.account });
      if (s.totpEnrolled) throw new DomainError("TOTP_ALREADY_ENROLLED", "TOTP is enrolled already; the operator resets it for a lost phone");
      return [{ type: "PracticeTotpEnrolled", data: { account: s.account, at: c.at } }];
    case "ResetTotp":
      if (!s.exists) throw notFound();
      if (!s.totpEnrolled) return [];
      return [{ type: "PracticeTotpReset", data: { account: s.account, by: c.by, at: c.at } }];
    case "UseRecoveryCode":
      mustAct(s);
      return [
        { type: "PracticeRecoveryCodeUsed", data: { account: s.account, at: c.at } },
        { type: "PracticeTotpReset", data: { account: s.account, by: "recovery code", at: c.at } },
      ];
    case "RenewRecoveryCodes":
      mustAct(s);
      return [{ type: "PracticeRecoveryCodesRenewed", data: { account: s.account, at: c.at } }];
    case "BlockPractice":
      if (!s.exists) throw notFound();
      if (s.blocked) return [];
      return [{ type: "PracticeBlocked", data: { account: s.account, reason: c.reason || "blocked by the operator", by: c.by, at: c.at } }];
    case "UnblockPractice":
      if (!s.exists) throw notFound();
      if (!s.blocked) return [];
      return [{ type: "PracticeUnblocked", data: { account: s.account, by: c.by, at: c.at } }];
    case "GrantDvoAccess": {
      mustAct(s);
      if (!c.unitBound) throw new DomainError("PERMISSION_DENIED", "a DVO grant is for an instance of your own practice", { field: "unit" });
      if (!printable(c.technician, 120)) throw new ValidationError("INVALID_TECHNICIAN", "technician", "name the technician (1-120 printable characters)");
      if (!Number.isInteger(c.hours) || c.hours < 1 || c.hours > MAX_GRANT_HOURS)
        throw new ValidationError("INVALID_GRANT_DURATION", "hours", `a DVO grant lasts 1 to ${MAX_GRANT_HOURS} whole hours`);
      if (s.grants.some((g) => g.grantId === c.grantId)) throw new DomainError("GRANT_EXISTS", `grant ${c.grantId} exists`);
      const until = new Date(Date.parse(c.at) + c.hours * 3_600_000).toISOString();
      return [
        {
          type: "DvoAccessGranted",
          data: { account: s.account, grantId: c.grantId, unitId: c.unitId, serial: c.serial, technician: c.technician.trim(), until, at: c.at },
        },
      ];
    }
    case "RevokeDvoAccess": {
      if (!s.exists) throw notFound();
      const g = s.grants.find((x) => x.grantId === c.grantId);
      if (!g) throw new DomainError("GRANT_NOT_FOUND", `no grant ${c.grantId} of this practice`, { field: "grantId" });
      // Revoked or run out already: nothing left to end.
      if (grantStateAt(g, c.at) !== "active") return [];
      return [{ type: "DvoAccessRevoked", data: { account: s.account, grantId: g.grantId, at: c.at } }];
    }
  }
}

function evolve(s: PracticeAccountState, e: PracticeAccountEvent): PracticeAccountState {
  const base = { ...s, updatedAt: e.data.at };
  switch (e.type) {
    case "PracticeRegistered":
      return { ...base, exists: true, account: e.data.account, practiceName: e.data.practiceName, createdAt: e.data.at };
    case "PracticeTotpEnrolled":
      return { ...base, totpEnrolled: true, totpGeneration: (s.totpGeneration ?? 0) + 1 };
    case "PracticeTotpReset":
      return { ...base, totpEnrolled: false };
    case "PracticeRecoveryCodeUsed":
    case "PracticeRecoveryCodesRenewed":
      return base;
    case "PracticeBlocked":
      return { ...base, blocked: true, blockedReason: e.data.reason };
    case "PracticeUnblocked":
      return { ...base, blocked: false, blockedReason: "" };
    case "DvoAccessGranted": {
      const { grantId, unitId, serial, technician, until, at } = e.data;
      return { ...base, grants: [...s.grants, { grantId, unitId, serial, technician, grantedAt: at, until, revokedAt: "" }] };
    }
    case "DvoAccessRevoked":
      return { ...base, grants: s.grants.map((g) => (g.grantId === e.data.grantId ? { ...g, revokedAt: e.data.at } : g)) };
  }
}

export const practiceAccountDecider: Decider<PracticeAccountState, PracticeAccountCommand, PracticeAccountEvent> = {
  initialState: initialPracticeAccount,
  decide,
  evolve,
};
