import { randomBytes, randomUUID, scrypt } from "node:crypto";
import {
  base32Decode,
  call,
  checkPassword,
  Coalescer,
  CommandHandler,
  createClient,
  DocumentProjection,
  DomainError,
  hashPassword,
  KeyedSerializer,
  matchingStep,
  migrate,
  newTotpSecret,
  StoreProjectionRunner,
  ValidationError,
  verifyPassword,
  type Clock,
  type SecretVault,
  type SqlEventStore,
} from "@tigw/platform";
import { TenancyServiceClient } from "@tigw/contracts/tenancy/v1/tenancy";
import type * as tenancy from "@tigw/contracts/tenancy/v1/tenancy";
import {
  checkAccountName,
  grantStateAt,
  initialPracticeAccount,
  practiceAccountDecider,
  statusOf,
  type GrantState,
  type PracticeAccountCommand,
  type PracticeAccountEvent,
  type PracticeAccountState,
  type PracticeStatus,
} from "../domain/practice-account.js";
import {
  initialInstanceBindings,
  instanceBindingsDecider,
  type InstanceBindingsCommand,
  type InstanceBindingsEvent,
  type InstanceBindingsState,
} from "../domain/instance-bindings.js";

const accountStream = (account: string) => `practice-${account}`;
const bindingsStream = (unitId: string) => `zm-unit-${unitId}`;

export interface PracticeBindingView {
  unitId: string;
  serial: string;
  mandantId: string;
  boundAt: string;
}

export interface PracticeView {
  account: string;
  practiceName: string;
  status: PracticeStatus;
  totpEnrolled: boolean;
  totpGeneration: number;
  recoveryCodesLeft: number;
  blockedReason: string;
  bindings: PracticeBindingView[];
  grants: { grantId: string; unitId: string; serial: string; technician: string; grantedAt: string; until: string; revokedAt: string; state: GrantState }[];
  createdAt: string;
  updatedAt: string;
  version: number;
}

const migrations = (table: string) => [
  {
    // The password hash and the references of the TOTP secrets (the secrets themselves are in the
    // vault, encrypted): apart from the events, which never carry them.
    id: "zugangsmodul-001-credentials",
    sql: `CREATE TABLE IF NOT EXISTS {schema}.${table} (
            account text PRIMARY KEY,
            password_hash text NOT NULL,
            totp_ref text,
            totp_pending_ref text,
            totp_last_step bigint NOT NULL DEFAULT 0)`,
  },
  {
    // Recovery codes as scrypt hashes only (see codeHash).
    id: "zugangsmodul-002-recovery-codes",
    sql: `CREATE TABLE IF NOT EXISTS {schema}.practice_recovery_codes (
            account text NOT NULL,
            code_hash text NOT NULL,
            used_at timestamptz,
            PRIMARY KEY (account, code_hash))`,
  },
];

/**
 * Recovery codes: ten per enrolment, each 12 characters of an alphabet without look-alikes (no
 * 0/O, 1/I), written XXXX-XXXX-XXXX; a code replaces the TOTP code at one login, so a practice
 * that lost its phone gets in without waiting for the operator's reset.
 */
const RECOVERY_CODES = 10;
const CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
const newRecoveryCode = () =>
  [...randomBytes(12)]
    .map((b) => CODE_ALPHABET[b & 31])
    .join("")
    .replace(/(.{4})(?=.)/g, "$1-");
const normalCode = (code: string) => code.toUpperCase().replace(/[\s-]/g, "");
const isRecoveryCode = (code: string) => /^[A-HJ-NP-Z2-9]{12}$/.test(normalCode(code));
/**
 * A code's hash: scrypt (N=2^14, about 16 MiB) with the account as salt, so a copy of the table
 * does not give the codes back by brute force (60 bits each) and a code opens only its account;
 * deterministic, so a login finds the code by its hash.
 */
const codeHash = (account: string, code: string): Promise<string> =>
  new Promise((resolve, reject) =>
    scrypt(normalCode(code), `tigw-recovery-code\u0000${account}`, 32, { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 }, (e, key) =>
      e ? reject(e) : resolve(key.toString("hex")),
    ),
  );

interface Credentials {
  password_hash: string;
  totp_ref: string | null;
  totp_pending_ref: string | null;
}

const invalidCredentials = () => new DomainError("INVALID_CREDENTIALS", "account, password or TOTP code wrong (each code works once)");

/**
 * The Zugangsmodul's practice accounts: registration, TOTP enrolment and login, the operator's
 * bindings of accounts to Mandanten on units, blocking, and DVO grants. TOTP codes are checked
 * against the wall clock, not the simulated one: authenticator apps run on real time. Every
 * other decision takes its time from the service's clock.
 */
export class Zugangsmodul {
  private readonly accounts: CommandHandler<PracticeAccountState, PracticeAccountCommand, PracticeAccountEvent>;
  private readonly units: CommandHandler<InstanceBindingsState, InstanceBindingsCommand, InstanceBindingsEvent>;
  readonly practices: DocumentProjection<PracticeAccountState>;
  readonly bindings: DocumentProjection<InstanceBindingsState>;
  private readonly runners: StoreProjectionRunner[];
  private readonly refresh: Coalescer;
  private readonly perAccount = new KeyedSerializer();
  private readonly tenancy: TenancyServiceClient;
  private readonly credentials: string;
  private readonly recovery: string;
  private dummyHash: Promise<string> | undefined;
  /** Ends the account's live box sessions (the Zugangsmodul's TLS endpoint, once it runs). */
  endSessions: ((account: string, reason: string) => void) | undefined;

  constructor(
    readonly store: SqlEventStore,
    readonly clock: Clock,
    private readonly vault: SecretVault,
    tenancyAddress: string,
  ) {
    this.accounts = new CommandHandler(store, practiceAccountDecider, 10, 10_000);
    this.units = new CommandHandler(store, instanceBindingsDecider, 10, 10_000);
    this.practices = new DocumentProjection<PracticeAccountState>({
      name: "practices",
      schema: store.schema,
      table: "rm_practices",
      streamPrefix: "practice",
      initial: initialPracticeAccount,
      evolve: (s, e) => practiceAccountDecider.evolve(s, e as PracticeAccountEvent),
    });
    this.bindings = new DocumentProjection<InstanceBindingsState>({
      name: "instance-bindings",
      schema: store.schema,
      table: "rm_instance_bindings",
      streamPrefix: "zm-unit",
      initial: initialInstanceBindings,
      evolve: (s, e) => instanceBindingsDecider.evolve(s, e as InstanceBindingsEvent),
    });
    this.runners = [new StoreProjectionRunner(store, this.practices), new StoreProjectionRunner(store, this.bindings)];
    this.refresh = new Coalescer(async () => {
      for (const r of this.runners) await r.catchUp();
    });
    this.tenancy = createClient(TenancyServiceClient, tenancyAddress, { deadlineMs: 30_000 });
    this.credentials = `${store.schema}.practice_credentials`;
    this.recovery = `${store.schema}.practice_recovery_codes`;
  }

  async open(): Promise<void> {
    await migrate(this.store.sql, this.store.schema, migrations("practice_credentials"));
    for (const r of this.runners) await r.setup();
    await this.refresh.trigger();
  }

  close(): void {
    this.tenancy.close();
  }

  private now(): string {
    return this.clock.now().toISOString();
  }

  private async record(account: string, command: PracticeAccountCommand): Promise<void> {
    await this.accounts.handle(accountStream(account), command, { occurredAt: new Date(this.now()) });
    await this.refresh.trigger();
  }

  private async row(account: string): Promise<Credentials | undefined> {
    const [r] = await this.store.sql.query<Credentials>(`SELECT password_hash, totp_ref, totp_pending_ref FROM ${this.credentials} WHERE account = $1`, [
      account,
    ]);
    return r;
  }

  private async existing(account: string): Promise<PracticeAccountState> {
    const { state } = await this.accounts.load(accountStream(account));
    if (!state.exists) throw new DomainError("PRACTICE_NOT_FOUND", `no practice account ${account}`, { field: "account" });
    return state;
  }

  /** A new account, still in TOTP enrolment. The account name is claimed by the credentials row first, so two registrations of one name cannot both win. */
  async register(account: string, password: string, practiceName: string): Promise<PracticeView> {
    const command: PracticeAccountCommand = { type: "RegisterPractice", account, practiceName, at: this.now() };
    practiceAccountDecider.decide(command, initialPracticeAccount()); // validation before anything is written
    const hash = await hashPassword(checkPassword(password));
    const claimed = await this.store.sql.query(
      `INSERT INTO ${this.credentials} (account, password_hash) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING account`,
      [account, hash],
    );
    if (claimed.length === 0) throw new DomainError("ACCOUNT_EXISTS", `account ${account} exists: choose another name or log in`, { field: "account" });
    try {
      await this.record(account, command);
    } catch (e) {
      await this.store.sql.query(`DELETE FROM ${this.credentials} WHERE account = $1`, [account]);
      throw e;
    }
    return this.view(account);
  }

  /**
   * Password, then (once enrolled) the TOTP code. The same refusal whether the account exists or
   * the password is wrong, and a password is hashed either way, so answers tell nothing about
   * which accounts exist. Blocked is told only to whoever knows the password.
   */
  async authenticate(account: string, password: string, totp: string): Promise<PracticeView> {
    const known = typeof account === "string" && /^[a-z][a-z0-9._-]{2,31}$/.test(account) ? await this.row(account) : undefined;
    this.dummyHash ??= hashPassword(randomBytes(16).toString("hex"));
    const ok = await verifyPassword(String(password ?? ""), known?.password_hash ?? (await this.dummyHash));
    if (!known || !ok) throw invalidCredentials();
    const state = await this.existing(account);
    if (state.blocked) throw new DomainError("ACCOUNT_BLOCKED", "this practice account is blocked: ask your TI-Gateway operator", { account });
    if (!state.totpEnrolled) return this.view(account);
    if (!totp) throw new DomainError("TOTP_REQUIRED", "this account needs the code of its authenticator app (totp)", { field: "totp" });
    const passed = isRecoveryCode(totp) ? await this.useRecoveryCode(account, totp) : await this.checkTotp(account, known.totp_ref, totp);
    if (!passed) throw invalidCredentials();
    return this.view(account);
  }

  /**
   * A recovery code in place of the TOTP code: each works once (marked used in the same
   * statement). The phone is lost, so this is a reset by the practice itself: the old secret and
   * the remaining codes go, the account is back in enrolment (box sessions end until it has
   * enrolled the new phone, which brings new codes and ends every session of the old one).
   */
  private async useRecoveryCode(account: string, code: string): Promise<boolean> {
    const used = await this.store.sql.query(
      `UPDATE ${this.recovery} SET used_at = now() WHERE account = $1 AND code_hash = $2 AND used_at IS NULL RETURNING account`,
      [account, await codeHash(account, code)],
    );
    if (used.length !== 1) return false;
    await this.perAccount.run(account, async () => {
      await this.record(account, { type: "UseRecoveryCode", at: this.now() });
      await this.dropSecondFactor(account);
    });
    return true;
  }

  /** After a reset (the operator's or by a recovery code): the TOTP secrets and recovery codes are deleted, the box sessions end. */
  private async dropSecondFactor(account: string): Promise<void> {
    const [old] = await this.store.sql.query<{ totp_ref: string | null; totp_pending_ref: string | null }>(
      `SELECT totp_ref, totp_pending_ref FROM ${this.credentials} WHERE account = $1`,
      [account],
    );
    await this.store.sql.query(`UPDATE ${this.credentials} SET totp_ref = NULL, totp_pending_ref = NULL WHERE account = $1`, [account]);
    for (const ref of [old?.totp_ref, old?.totp_pending_ref]) if (ref) await this.vault.delete(ref);
    // The new phone's enrolment brings new codes; the old ones must not open the account meanwhile.
    await this.store.sql.query(`DELETE FROM ${this.recovery} WHERE account = $1`, [account]);
    this.endSessions?.(account, "ACCOUNT_NOT_ACTIVE");
  }

  private async codesLeft(account: string): Promise<number> {
    const [r] = await this.store.sql.query<{ n: string }>(`SELECT count(*) AS n FROM ${this.recovery} WHERE account = $1 AND used_at IS NULL`, [account]);
    return Number(r?.n ?? 0);
  }

  /** A new set of recovery codes (the previous set stops working): answered once, kept as hashes. */
  private async issueRecoveryCodes(account: string): Promise<string[]> {
    const codes = Array.from({ length: RECOVERY_CODES }, newRecoveryCode);
    const hashes = await Promise.all(codes.map((c) => codeHash(account, c)));
    await this.store.sql.transaction(async (tx) => {
      await tx.query(`DELETE FROM ${this.recovery} WHERE account = $1`, [account]);
      for (const h of hashes) await tx.query(`INSERT INTO ${this.recovery} (account, code_hash) VALUES ($1, $2)`, [account, h]);
    });
    return codes;
  }

  /**
   * The practice's own renewal (the account active, not blocked), with its password again: a
   * stolen session alone cannot read a new set and void the practice's own.
   */
  async renewRecoveryCodes(account: string, password: string): Promise<{ practice: PracticeView; recoveryCodes: string[] }> {
    const known = await this.row(account);
    if (!known || !(await verifyPassword(String(password ?? ""), known.password_hash))) throw invalidCredentials();
    return this.perAccount.run(account, async () => {
      await this.record(account, { type: "RenewRecoveryCodes", at: this.now() });
      const recoveryCodes = await this.issueRecoveryCodes(account);
      return { practice: await this.view(account), recoveryCodes };
    });
  }

  /** Each code works once: its step must be later than the last one accepted, recorded in the same statement. */
  private async checkTotp(account: string, ref: string | null, code: string): Promise<boolean> {
    if (!ref) return false;
    const step = matchingStep(base32Decode((await this.vault.get(ref)).toString("utf8")), code, Date.now());
    if (step === undefined) return false;
    const used = await this.store.sql.query(`UPDATE ${this.credentials} SET totp_last_step = $2 WHERE account = $1 AND totp_last_step < $2 RETURNING account`, [
      account,
      step,
    ]);
    return used.length === 1;
  }

  /** A new secret for an account still in enrolment (an earlier unconfirmed one is dropped). */
  async beginTotp(account: string): Promise<{ secret: string; otpauthUri: string }> {
    return this.perAccount.run(account, async () => {
      const state = await this.existing(account);
      if (state.blocked) throw new DomainError("ACCOUNT_BLOCKED", "this practice account is blocked: ask your TI-Gateway operator", { account });
      if (state.totpEnrolled) throw new DomainError("TOTP_ALREADY_ENROLLED", "TOTP is enrolled already; the operator resets it for a lost phone");
      const t = newTotpSecret();
      const ref = `totp:${account}:${randomUUID()}`;
      await this.vault.put(ref, Buffer.from(t.secret, "utf8"), `practice:${account}`);
      const [old] = await this.store.sql.query<{ totp_pending_ref: string | null }>(
        `UPDATE ${this.credentials} c SET totp_pending_ref = $2 FROM (SELECT totp_pending_ref FROM ${this.credentials} WHERE account = $1) o WHERE c.account = $1 RETURNING o.totp_pending_ref`,
        [account, ref],
      );
      if (old?.totp_pending_ref) await this.vault.delete(old.totp_pending_ref);
      return { secret: t.secret, otpauthUri: t.uri(account) };
    });
  }

  /** The first code of the new secret: from now on the account is active and logins need a code; its recovery codes come with it. */
  async confirmTotp(account: string, code: string): Promise<{ practice: PracticeView; recoveryCodes: string[] }> {
    return this.perAccount.run(account, async () => {
      await this.existing(account);
      const row = await this.row(account);
      if (!row?.totp_pending_ref) throw new DomainError("TOTP_NOT_ENROLLING", "start the enrolment first: a new secret for the authenticator app");
      const step = matchingStep(base32Decode((await this.vault.get(row.totp_pending_ref)).toString("utf8")), String(code ?? ""), Date.now());
      if (step === undefined)
        throw new ValidationError("INVALID_TOTP", "code", "the code does not match the new secret (check the authenticator app and the clock)");
      await this.record(account, { type: "EnrolTotp", at: this.now() });
      await this.store.sql.query(
        `UPDATE ${this.credentials} SET totp_ref = totp_pending_ref, totp_pending_ref = NULL, totp_last_step = $2 WHERE account = $1`,
        [account, step],
      );
      const recoveryCodes = await this.issueRecoveryCodes(account);
      return { practice: await this.view(account), recoveryCodes };
    });
  }

  /**
   * A lost phone: the operator resets TOTP; the old secret is deleted and the account is back in
   * enrolment (its sessions can do nothing else until a new secret is confirmed).
   */
  async resetTotp(account: string, by: string): Promise<PracticeView> {
    return this.perAccount.run(account, async () => {
      await this.record(account, { type: "ResetTotp", by, at: this.now() });
      await this.dropSecondFactor(account);
      return this.view(account);
    });
  }

  async block(account: string, reason: string, by: string): Promise<PracticeView> {
    await this.record(account, { type: "BlockPractice", reason, by, at: this.now() });
    this.endSessions?.(account, "ACCOUNT_BLOCKED");
    return this.view(account);
  }

  async unblock(account: string, by: string): Promise<PracticeView> {
    await this.record(account, { type: "UnblockPractice", by, at: this.now() });
    return this.view(account);
  }

  /** Operator: the account gets Mandant `mandantId` of the unit (by id or serial). */
  async bind(account: string, unit: string, mandantId: string, by: string): Promise<PracticeView> {
    await this.existing(checkAccountName(account));
    const u = (await call<tenancy.GetUnitRequest, tenancy.GetUnitResponse>(this.tenancy.getUnit.bind(this.tenancy), { unit })).unit!;
    const { mandanten } = await call<tenancy.ListMandantenRequest, tenancy.ListMandantenResponse>(this.tenancy.listMandanten.bind(this.tenancy), {
      unit: u.unitId,
    });
    await this.units.handle(
      bindingsStream(u.unitId),
      {
        type: "BindPractice",
        unitId: u.unitId,
        serial: u.serial,
        mandantId,
        mandantKnown: mandanten.some((m) => m.mandantId === mandantId),
        account,
        by,
        at: this.now(),
      },
      { unitId: u.unitId, mandantId, occurredAt: new Date(this.now()) },
    );
    await this.refresh.trigger();
    return this.view(account);
  }

  async unbind(account: string, unit: string, mandantId: string, by: string): Promise<PracticeView> {
    await this.existing(checkAccountName(account));
    const u = (await call<tenancy.GetUnitRequest, tenancy.GetUnitResponse>(this.tenancy.getUnit.bind(this.tenancy), { unit })).unit!;
    await this.units.handle(
      bindingsStream(u.unitId),
      { type: "UnbindPractice", mandantId, account, by, at: this.now() },
      { unitId: u.unitId, mandantId, occurredAt: new Date(this.now()) },
    );
    await this.refresh.trigger();
    return this.view(account);
  }

  /**
   * The practice grants a technician access to one of its own instances (by serial or unit id,
   * looked up among its own bindings only: another practice's instance is refused like an
   * unknown one).
   */
  async grantDvo(account: string, unit: string, technician: string, hours: number): Promise<PracticeView & { grantId: string }> {
    const own = (await this.bindingsOf(account)).find((b) => b.serial === unit || b.unitId === unit);
    const grantId = `dvo-${randomUUID().slice(0, 8)}`;
    await this.record(account, {
      type: "GrantDvoAccess",
      grantId,
      unitId: own?.unitId ?? "",
      serial: own?.serial ?? "",
      unitBound: Boolean(own),
      technician,
      hours,
      at: this.now(),
    });
    return { ...(await this.view(account)), grantId };
  }

  async revokeDvo(account: string, grantId: string): Promise<PracticeView> {
    await this.record(account, { type: "RevokeDvoAccess", grantId, at: this.now() });
    return this.view(account);
  }

  /** The account's Mandanten on units, from the bindings read model (brought up to date first). */
  async bindingsOf(account: string): Promise<PracticeBindingView[]> {
    await this.refresh.trigger();
    const all = await this.bindings.list(this.store.sql);
    return all.flatMap((u) =>
      u.bindings.filter((b) => b.account === account).map((b) => ({ unitId: u.unitId, serial: u.serial, mandantId: b.mandantId, boundAt: b.boundAt })),
    );
  }

  private viewOf(s: PracticeAccountState, version: number, unsorted: PracticeBindingView[], recoveryCodesLeft: number): PracticeView {
    const now = this.now();
    // By unit serial and Mandant: the order people read them in, not the unit ids'.
    const bindings = [...unsorted].sort((a, b) => a.serial.localeCompare(b.serial) || a.mandantId.localeCompare(b.mandantId));
    return {
      account: s.account,
      practiceName: s.practiceName,
      status: statusOf(s),
      totpEnrolled: s.totpEnrolled,
      // list() reads the read model, whose documents from before the field lack it (the operators'
      // list shows 0 then); view(), which the portal's sessions use, folds the events.
      totpGeneration: s.totpGeneration ?? 0,
      recoveryCodesLeft,
      blockedReason: s.blockedReason,
      bindings,
      grants: s.grants.map((g) => ({ ...g, state: grantStateAt(g, now) })),
      createdAt: s.createdAt,
      updatedAt: s.updatedAt,
      version,
    };
  }

  async view(account: string): Promise<PracticeView> {
    const { state, version } = await this.accounts.load(accountStream(account));
    if (!state.exists) throw new DomainError("PRACTICE_NOT_FOUND", `no practice account ${account}`, { field: "account" });
    return this.viewOf(state, version, await this.bindingsOf(account), await this.codesLeft(account));
  }

  async list(): Promise<PracticeView[]> {
    await this.refresh.trigger();
    const [all, units, codes] = await Promise.all([
      this.practices.list(this.store.sql),
      this.bindings.list(this.store.sql),
      this.store.sql.query<{ account: string; n: string }>(`SELECT account, count(*) AS n FROM ${this.recovery} WHERE used_at IS NULL GROUP BY account`),
    ]);
    const left = new Map(codes.map((c) => [c.account, Number(c.n)]));
    return all.map((s) =>
      this.viewOf(
        s,
        s.version,
        units.flatMap((u) =>
          u.bindings.filter((b) => b.account === s.account).map((b) => ({ unitId: u.unitId, serial: u.serial, mandantId: b.mandantId, boundAt: b.boundAt })),
        ),
        left.get(s.account) ?? 0,
      ),
    );
  }
}
