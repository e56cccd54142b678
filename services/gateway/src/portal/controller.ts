import { Body, Controller, Get, HttpCode, Inject, Param, Post, Query, Req } from "@nestjs/common";
import { DomainError, ValidationError, type Logger } from "@tigw/platform";
import type { Practice, VpnBox } from "@tigw/contracts/vpn/v1/zugangsmodul";
import type { Terminal } from "@tigw/contracts/cardterminal/v1/card_terminal";
import { LoginLimiter } from "../auth/login-limiter.js";
import { OperatorStore } from "../auth/operators.js";
import type { CardTerminalApi, TenancyApi, VpnApi, VsdmApi, ZugangsmodulApi } from "../grpc-clients.js";
import { Access } from "../http/access.js";
import { field, stringsBody } from "../http/body.js";
import type { AuthedRequest } from "../http/guard.js";
import { TenantRefusal } from "../http/problem.js";
import { CARD_TERMINAL, LOGGER, SOAP, TENANCY, VPN, VSDM, ZUGANGSMODUL } from "../tokens.js";
import type { SoapEndpoints } from "../soap/endpoints.js";
import { PortalSessions } from "./sessions.js";

type PracticeRequest = AuthedRequest & { ip?: string };

/** A terminal of the practice: one of its Mandanten has it in the Infomodell. */
interface OwnTerminal {
  serial: string;
  mandantId: string;
  terminal: Terminal;
}

const session = (req: PracticeRequest) => req.practice!;

/**
 * Enrolment takes a session from the password (registration, or a login while in enrolment):
 * after an operator's TOTP reset, a session from before it cannot put another phone in.
 */
function enrolling(req: PracticeRequest): void {
  if (session(req).claims.stage !== "enrolment")
    throw new DomainError("TOTP_ENROLMENT_REQUIRED", "log in with your password to enrol TOTP", { stage: session(req).claims.stage });
}

/** The account as the practice sees it: no secrets (there are none in it), its own bindings and grants. */
const me = (p: Practice) => ({
  account: p.account,
  practiceName: p.practiceName,
  status: p.status,
  totpEnrolled: p.totpEnrolled,
  recoveryCodesLeft: p.recoveryCodesLeft,
  mandanten: p.status === "active" ? p.bindings.map((b) => ({ unit: b.serial, mandantId: b.mandantId })) : [],
});

const terminalView = (o: OwnTerminal) => ({
  ctId: o.terminal.ctId,
  unit: o.serial,
  mandantId: o.mandantId,
  correlation: o.terminal.correlation,
  connected: o.terminal.connected,
  vendor: o.terminal.vendor,
  model: o.terminal.model,
  cards: o.terminal.cards.map((c) => ({ slot: c.slot, cardType: c.cardType, cardHandle: c.cardHandle, iccsn: c.iccsn, insertedAt: c.insertedAt })),
});

/**
 * The practice portal's API (/api/v1/portal, the pages at /portal/). The tenant is the session's
 * account and nothing else: every answer is built from that account's bindings (its Mandanten
 * on units), read from the Zugangsmodul on each request; an id in the request only selects
 * among the practice's own things. Anything else is refused with TenantRefusal, the same
 * whether it exists or not: 4012 for a terminal, 4012/4013 for a card (the SM-B code for an
 * SMC-B handle is not known without looking, so a foreign handle is 4012 like its terminal),
 * otherwise 403 PERMISSION_DENIED.
 */
@Controller("api/v1/portal")
export class PortalController {
  constructor(
    @Inject(ZUGANGSMODUL) private readonly zm: ZugangsmodulApi,
    @Inject(PortalSessions) private readonly sessions: PortalSessions,
    @Inject(LoginLimiter) private readonly limiter: LoginLimiter,
    @Inject(OperatorStore) private readonly operators: OperatorStore,
    @Inject(TENANCY) private readonly tenancy: TenancyApi,
    @Inject(CARD_TERMINAL) private readonly kt: CardTerminalApi,
    @Inject(VSDM) private readonly vsdm: VsdmApi,
    @Inject(VPN) private readonly vpn: VpnApi,
    @Inject(LOGGER) private readonly log: Logger | null,
  ) {}

  @Post("register")
  @Access({
    role: "public",
    summary:
      "A practice registers (account, password of 12+ characters, practiceName); the answer's session can do nothing but enrol TOTP (POST /api/v1/portal/totp, then /totp/confirm)",
    body: stringsBody(["account", "password", "practiceName"]),
    status: 201,
  })
  async register(@Body() body: unknown) {
    const p = (
      await this.zm.registerPractice({ account: field(body, "account"), password: field(body, "password"), practiceName: field(body, "practiceName") })
    ).practice!;
    this.log?.info({ account: p.account }, "practice registered");
    return { ...this.sessions.issue(p.account, "enrolment", p.totpGeneration), practice: me(p) };
  }

  @Post("login")
  @HttpCode(200)
  @Access({
    role: "public",
    summary:
      "A practice logs in with password and TOTP code (totp), or for a lost phone one of its recovery codes (XXXX-XXXX-XXXX, each once), which puts the account back in enrolment for a new phone; before enrolment the session can only enrol. Throttled like operator logins (429 LOGIN_RATE_LIMITED, Retry-After)",
    body: stringsBody(["account", "password"], ["totp"]),
  })
  async login(@Body() body: unknown, @Req() req: PracticeRequest) {
    const account = field(body, "account");
    // The operators' throttle, on a key of its own: a practice and an operator of one name do not share a count.
    const attempt = this.limiter.begin(`practice:${account}`, req.ip ?? "?");
    try {
      const p = await this.zm
        .authenticatePractice({ account, password: field(body, "password"), totp: field(body, "totp", { optional: true }) })
        .then((r) => r.practice!)
        .catch((e: unknown) => {
          if (e instanceof DomainError && e.code === "TOTP_REQUIRED") attempt.secondFactorMissing();
          throw e;
        });
      attempt.succeeded();
      const stage = p.status === "active" ? "practice" : "enrolment";
      this.log?.info({ account: p.account, stage }, "practice logged in");
      return { ...this.sessions.issue(p.account, stage, p.totpGeneration), practice: me(p) };
    } finally {
      attempt.end();
    }
  }

  @Post("totp")
  @Access({
    role: "practice-enrolment",
    summary: "Start TOTP enrolment: the secret and otpauth URI for the authenticator app (shown this once); refused once enrolled",
    status: 201,
  })
  beginTotp(@Req() req: PracticeRequest) {
    enrolling(req);
    return this.zm.beginTotpEnrolment({ account: session(req).claims.sub });
  }

  @Post("totp/confirm")
  @HttpCode(200)
  @Access({
    role: "practice-enrolment",
    summary:
      "Confirm TOTP with the app's current code: the answer carries a full practice session and ten recovery codes (shown this once; each replaces the TOTP code at one login)",
    body: stringsBody(["code"]),
  })
  async confirmTotp(@Body() body: unknown, @Req() req: PracticeRequest) {
    enrolling(req);
    const account = session(req).claims.sub;
    const r = await this.zm.confirmTotpEnrolment({ account, code: field(body, "code") });
    const p = r.practice!;
    await this.operators.revokeToken(session(req).claims.jti, new Date(session(req).claims.exp * 1000));
    this.log?.info({ account }, "practice enrolled TOTP");
    return { ...this.sessions.issue(account, "practice", p.totpGeneration), practice: me(p), recoveryCodes: r.recoveryCodes };
  }

  @Post("recovery-codes")
  @HttpCode(200)
  @Access({
    role: "practice",
    summary:
      "Ten new recovery codes (shown this once) for the practice's password again; the previous ones stop working. Throttled like logins (401 INVALID_CREDENTIALS, 429 LOGIN_RATE_LIMITED)",
    body: stringsBody(["password"]),
  })
  async renewRecoveryCodes(@Body() body: unknown, @Req() req: PracticeRequest) {
    const account = session(req).claims.sub;
    // A stolen session must not try passwords here faster than at the login.
    const attempt = this.limiter.begin(`practice:${account}`, req.ip ?? "?");
    try {
      const r = await this.zm.renewRecoveryCodes({ account, password: field(body, "password") });
      attempt.succeeded();
      this.log?.info({ account }, "practice renewed its recovery codes");
      return { practice: me(r.practice!), recoveryCodes: r.recoveryCodes };
    } finally {
      attempt.end();
    }
  }

  @Get("me")
  @Access({ role: "practice-enrolment", summary: "The practice of this session: account, name, status, its Mandanten" })
  whoami(@Req() req: PracticeRequest) {
    return me(session(req).practice);
  }

  @Post("logout")
  @HttpCode(200)
  @Access({ role: "practice-enrolment", summary: "End this portal session" })
  async logout(@Req() req: PracticeRequest) {
    const { jti, exp } = session(req).claims;
    await this.operators.revokeToken(jti, new Date(exp * 1000));
    return { loggedOut: true };
  }

  @Get("instances")
  @Access({ role: "practice", summary: "The practice's Konnektor instances: serial, state, firmware, TI access, and its own Mandanten on each" })
  async instances(@Req() req: PracticeRequest) {
    const p = session(req).practice;
    const units = [...new Set(p.bindings.map((b) => b.unitId))];
    return {
      instances: await Promise.all(
        units.map(async (unitId) => {
          const mine = p.bindings.filter((b) => b.unitId === unitId).map((b) => b.mandantId);
          const [{ unit }, { mandanten }, ti] = await Promise.all([
            this.tenancy.getUnit({ unit: unitId }),
            this.tenancy.listMandanten({ unit: unitId }),
            this.vpn.getTiAccess({ unit: unitId }).catch(() => undefined),
          ]);
          return {
            unit: unit!.serial,
            state: unit!.state,
            firmware: unit!.firmware,
            tiAccess: ti ? ti.tiAccess : null,
            mandanten: mandanten.filter((m) => mine.includes(m.mandantId)).map((m) => ({ mandantId: m.mandantId, name: m.name, bsnr: m.bsnr })),
          };
        }),
      ),
    };
  }

  /** The practice's terminals: those its Mandanten have in their units' Infomodell. */
  private async ownTerminals(p: Practice): Promise<OwnTerminal[]> {
    const lists = await Promise.all(
      p.bindings.map(async (b) =>
        (await this.kt.listTerminals({ unit: b.unitId, mandantId: b.mandantId })).terminals.map((terminal) => ({
          serial: b.serial,
          mandantId: b.mandantId,
          terminal,
        })),
      ),
    );
    return lists.flat();
  }

  @Get("terminals")
  @Access({ role: "practice", summary: "The practice's card terminals (of its Mandanten) with the cards in them" })
  async terminals(@Req() req: PracticeRequest) {
    return { terminals: (await this.ownTerminals(session(req).practice)).map(terminalView) };
  }

  @Get("terminals/:ctId")
  @Access({ role: "practice", summary: "One of the practice's card terminals; another's: 403 with gematik code 4012" })
  async terminal(@Param("ctId") ctId: string, @Req() req: PracticeRequest) {
    const own = (await this.ownTerminals(session(req).practice)).find((o) => o.terminal.ctId === ctId);
    if (!own) throw new TenantRefusal("4012", "this terminal is not assigned to a Mandant of your practice", { field: "ctId" });
    return terminalView(own);
  }

  @Get("cards/:handle")
  @Access({ role: "practice", summary: "A card in one of the practice's terminals, by handle; any other handle: 403 with gematik code 4012" })
  async card(@Param("handle") handle: string, @Req() req: PracticeRequest) {
    for (const o of await this.ownTerminals(session(req).practice)) {
      const c = o.terminal.cards.find((x) => x.cardHandle === handle);
      if (c) return { ...terminalView(o).cards.find((x) => x.cardHandle === handle), ctId: o.terminal.ctId, mandantId: o.mandantId };
    }
    throw new TenantRefusal("4012", "this card is not in a terminal of your practice", { field: "handle" });
  }

  @Get("vsd-log")
  @Access({
    role: "practice",
    summary:
      "The VSDM protocol of the practice's own Mandanten (?unit=&mandant= to pick one of them; another practice's: 403 PERMISSION_DENIED; &outcome=ok|warning|error&limit=N)",
  })
  async vsdLog(
    @Req() req: PracticeRequest,
    @Query("unit") unit?: string,
    @Query("mandant") mandant?: string,
    @Query("outcome") outcome?: string,
    @Query("limit") limit?: string,
  ) {
    const p = session(req).practice;
    const n = limit === undefined ? 200 : Number(limit);
    if (!Number.isInteger(n) || n < 1 || n > 1000) throw new ValidationError("INVALID_ARGUMENT", "limit", "limit must be a whole number from 1 to 1000");
    const picked = p.bindings.filter((b) => (!unit || b.serial === unit || b.unitId === unit) && (!mandant || b.mandantId === mandant));
    if ((unit || mandant) && picked.length === 0)
      throw new TenantRefusal("PERMISSION_DENIED", "this Mandant is not one of your practice's", { field: "mandant" });
    const lists = await Promise.all(
      // Never an empty mandantId: that would be every Mandant of the unit.
      picked.map(async (b) =>
        (await this.vsdm.listProtocol({ unit: b.unitId, mandantId: b.mandantId, outcome: outcome ?? "", from: "", to: "", limit: n })).entries.map((e) => ({
          unit: b.serial,
          mandantId: e.mandantId,
          at: e.at,
          workplaceId: e.workplaceId,
          ctId: e.ctId,
          kvnr: e.kvnr,
          outcome: e.outcome,
          code: e.code,
          result: e.result,
        })),
      ),
    );
    return { entries: lists.flat().sort((a, b) => a.at.localeCompare(b.at)) };
  }

  @Get("grants")
  @Access({ role: "practice", summary: "The practice's DVO grants: technician, instance, until, state (active, expired, revoked)" })
  grants(@Req() req: PracticeRequest) {
    return { grants: session(req).practice.grants };
  }

  @Post("grants")
  @Access({
    role: "practice",
    summary: "Grant a technician (DVO) access to one of the practice's instances for 1-336 hours; logged; another practice's instance: 403",
    body: {
      type: "object",
      required: ["unit", "technician", "hours"],
      properties: { unit: { type: "string" }, technician: { type: "string" }, hours: { type: "integer" } },
    },
    status: 201,
  })
  async grant(@Body() body: unknown, @Req() req: PracticeRequest) {
    const p = session(req).practice;
    const unit = field(body, "unit");
    const hours = (body as { hours?: unknown } | undefined)?.hours;
    if (typeof hours !== "number" || !Number.isInteger(hours) || hours < 1)
      throw new ValidationError("INVALID_GRANT_DURATION", "hours", "hours must be a whole number of hours (1-336)");
    if (!p.bindings.some((b) => b.serial === unit || b.unitId === unit))
      throw new TenantRefusal("PERMISSION_DENIED", "this instance is not one of your practice's", { field: "unit" });
    const r = await this.zm.grantDvoAccess({ account: p.account, unit, technician: field(body, "technician"), hours });
    this.log?.info(
      { account: p.account, grantId: r.grant?.grantId, unit: r.grant?.serial, technician: r.grant?.technician, until: r.grant?.until },
      "DVO access granted",
    );
    return r.grant;
  }

  @Post("grants/:grantId/revoke")
  @HttpCode(200)
  @Access({ role: "practice", summary: "Revoke a DVO grant of the practice (logged); another practice's: 403" })
  async revoke(@Param("grantId") grantId: string, @Req() req: PracticeRequest) {
    const p = session(req).practice;
    if (!p.grants.some((g) => g.grantId === grantId))
      throw new TenantRefusal("PERMISSION_DENIED", "this grant is not one of your practice's", { field: "grantId" });
    const r = await this.zm.revokeDvoAccess({ account: p.account, grantId });
    this.log?.info({ account: p.account, grantId }, "DVO access revoked");
    return r.practice!.grants.find((g) => g.grantId === grantId);
  }
}

/** A box as its practice sees it: state, certificate, session; never another practice's. */
const boxView = (b: VpnBox) => ({
  boxId: b.boxId,
  name: b.name,
  state: b.state,
  connected: b.connected,
  connectedSince: b.connectedSince,
  lastHeartbeat: b.lastHeartbeat,
  lastSessionEnd: b.lastSessionEnd,
  certSerial: b.certSerial,
  certNotAfter: b.certNotAfter,
  certFingerprint: b.certFingerprint,
  enrolmentExpiresAt: b.enrolmentExpiresAt,
  createdAt: b.createdAt,
  removedAt: b.removedAt,
});

/**
 * The practice's VPN boxes (/api/v1/portal/boxes): announce one (a one-time enrolment code),
 * list its own, remove one (its certificate revoked, its session ended). The account is the
 * session's; a box id only selects among the practice's own boxes.
 */
@Controller("api/v1/portal/boxes")
export class PortalBoxesController {
  constructor(
    @Inject(ZUGANGSMODUL) private readonly zm: ZugangsmodulApi,
    @Inject(LOGGER) private readonly log: Logger | null,
  ) {}

  @Get("zugangsmodul")
  @Access({
    role: "public",
    summary:
      "Where VPN boxes reach the Zugangsmodul (host:port, TLS server name) and the CA certificates (PEM) they trust it by: a box needs them before it enrols",
  })
  endpoint() {
    return this.zm.getZugangsmodulEndpoint({});
  }

  @Get()
  @Access({ role: "practice", summary: "The practice's VPN boxes: state, certificate, session (connected, last heartbeat, why the last one ended)" })
  async list(@Req() req: PracticeRequest) {
    return { boxes: (await this.zm.listBoxes({ account: session(req).practice.account })).boxes.map(boxView) };
  }

  @Post()
  @Access({
    role: "practice",
    summary:
      "Announce a VPN box (name): the answer carries its one-time enrolment code (valid 24 h, shown this once), the Zugangsmodul's address and the CA certificates the box trusts it by",
    body: stringsBody(["name"]),
    status: 201,
  })
  async announce(@Body() body: unknown, @Req() req: PracticeRequest) {
    const account = session(req).practice.account;
    const r = await this.zm.createBoxEnrolment({ account, name: field(body, "name") });
    this.log?.info({ account, boxId: r.box?.boxId }, "VPN box announced");
    return { box: boxView(r.box!), enrolmentCode: r.enrolmentCode, zugangsmodul: { address: r.zugangsmodulAddress, trustPems: r.trustPems } };
  }

  @Post(":boxId/remove")
  @HttpCode(200)
  @Access({ role: "practice", summary: "Remove a VPN box of the practice: its certificate is revoked and its session ends; another practice's: 403" })
  async remove(@Param("boxId") boxId: string, @Req() req: PracticeRequest) {
    const account = session(req).practice.account;
    const own = (await this.zm.listBoxes({ account })).boxes.some((b) => b.boxId === boxId);
    if (!own) throw new TenantRefusal("PERMISSION_DENIED", "this box is not one of your practice's", { field: "boxId" });
    const r = await this.zm.removeBox({ account, boxId });
    this.log?.info({ account, boxId }, "VPN box removed");
    return boxView(r.box!);
  }
}

/** The operators' side of the VPN boxes: the fleet's boxes and their sessions. */
@Controller("api/v1/boxes")
export class BoxesController {
  constructor(@Inject(ZUGANGSMODUL) private readonly zm: ZugangsmodulApi) {}

  @Get()
  @Access({ role: "viewer", summary: "VPN boxes of all practices (?account= for one): state, certificate, session, why the last session ended" })
  async list(@Query("account") account?: string) {
    return this.zm.listBoxes({ account: account ?? "" });
  }
}

/** The operators' side of the practice accounts: list, bind to Mandanten, block. */
@Controller("api/v1/practices")
export class PracticesController {
  constructor(
    @Inject(ZUGANGSMODUL) private readonly zm: ZugangsmodulApi,
    @Inject(SOAP) private readonly soap: SoapEndpoints,
    @Inject(LOGGER) private readonly logger: Logger | null,
  ) {}

  @Get()
  @Access({ role: "viewer", summary: "Practice accounts (TI-Gateway users): status, Mandanten on units, DVO grants" })
  list() {
    return this.zm.listPractices({});
  }

  @Get(":account")
  @Access({ role: "viewer", summary: "One practice account" })
  async get(@Param("account") account: string) {
    return (await this.zm.getPractice({ account })).practice;
  }

  @Post(":account/bind")
  @HttpCode(200)
  @Access({
    role: "operator",
    summary: "Bind the account to a Mandant of a unit (the fixed Mandant-to-instance mapping); a Mandant of another account: 409 MANDANT_ALREADY_BOUND",
    body: stringsBody(["unit", "mandantId"]),
  })
  async bind(@Param("account") account: string, @Body() body: unknown, @Req() req: AuthedRequest) {
    const unit = field(body, "unit");
    const { practice } = await this.zm.bindPractice({ account, unit, mandantId: field(body, "mandantId"), by: req.operator!.sub });
    // The practice reaches this unit's Konnektor through its boxes from now on: its endpoint opens
    // (and is announced to the Zugangsmodul) now, not at some operator's first `tigw unit soap`.
    await this.soap.ensure(unit).catch((err: unknown) => this.logger?.warn({ err, unit }, "the unit's SOAP endpoint did not open"));
    return practice;
  }

  @Post(":account/unbind")
  @HttpCode(200)
  @Access({ role: "operator", summary: "Take a Mandant of a unit away from the account", body: stringsBody(["unit", "mandantId"]) })
  async unbind(@Param("account") account: string, @Body() body: unknown, @Req() req: AuthedRequest) {
    return (await this.zm.unbindPractice({ account, unit: field(body, "unit"), mandantId: field(body, "mandantId"), by: req.operator!.sub })).practice;
  }

  @Post(":account/block")
  @HttpCode(200)
  @Access({ role: "operator", summary: "Block the account: its logins are refused and its sessions end at once", body: stringsBody([], ["reason"]) })
  async block(@Param("account") account: string, @Body() body: unknown, @Req() req: AuthedRequest) {
    return (await this.zm.blockPractice({ account, reason: field(body, "reason", { optional: true }), by: req.operator!.sub })).practice;
  }

  @Post(":account/totp/reset")
  @HttpCode(200)
  @Access({ role: "operator", summary: "Reset the account's TOTP (a lost phone): the secret is deleted, the practice must enrol again before anything else" })
  async resetTotp(@Param("account") account: string, @Req() req: AuthedRequest) {
    return (await this.zm.resetPracticeTotp({ account, by: req.operator!.sub })).practice;
  }

  @Post(":account/unblock")
  @HttpCode(200)
  @Access({ role: "operator", summary: "Lift the block" })
  async unblock(@Param("account") account: string, @Req() req: AuthedRequest) {
    return (await this.zm.unblockPractice({ account, by: req.operator!.sub })).practice;
  }
}
