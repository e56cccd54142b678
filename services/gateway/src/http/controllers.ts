import { SoapController } from "./soap.js";
import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Post, Query, Req } from "@nestjs/common";
import { DomainError, ValidationError } from "@tigw/platform";
import { LoginLimiter } from "../auth/login-limiter.js";
import { OperatorStore } from "../auth/operators.js";
import { TokenIssuer, type Role } from "../auth/tokens.js";
import { HSM, TENANCY, VPN } from "../tokens.js";
import type { HsmApi, TenancyApi, VpnApi } from "../grpc-clients.js";
import { Access } from "./access.js";
import { SimulatorController, TerminalsController } from "./terminals.js";
import { VsdController } from "./vsd.js";
import { UnitCheckController } from "./check.js";
import { EventsController } from "./events.js";
import { VpnController } from "./vpn.js";
import { KsrController } from "./ksr.js";
import { field, stringsBody } from "./body.js";
import type { AuthedRequest } from "./guard.js";

@Controller("api/v1")
export class SystemController {
  @Get("health")
  @Access({ role: "public", summary: "Liveness of the gateway" })
  health() {
    return { status: "ok" };
  }
}

@Controller("api/v1/auth")
export class AuthController {
  constructor(
    @Inject(OperatorStore) private readonly operators: OperatorStore,
    @Inject(TokenIssuer) private readonly tokens: TokenIssuer,
    @Inject(LoginLimiter) private readonly limiter: LoginLimiter,
  ) {}

  @Post("login")
  @HttpCode(200)
  @Access({
    role: "public",
    summary:
      "Log in: returns a short-lived bearer token; with TOTP enrolled the current code is needed too (totp). Failed attempts per account and client address wait longer and longer (429 LOGIN_RATE_LIMITED, Retry-After)",
    body: stringsBody(["username", "password"], ["totp"]),
  })
  async login(@Body() body: unknown, @Req() req: { ip?: string }) {
    const username = field(body, "username");
    const password = field(body, "password");
    const totp = field(body, "totp", { optional: true });
    // Reserved before the password is evaluated: parallel guesses cannot all pass the check.
    const attempt = this.limiter.begin(username, req.ip ?? "?");
    try {
      const op = await this.operators.authenticate(username, password);
      if (!op) throw new DomainError("INVALID_CREDENTIALS", "user name or password wrong");
      if (op.totpEnabled) {
        if (!totp) {
          attempt.secondFactorMissing();
          throw new DomainError("TOTP_REQUIRED", "this account needs the code of its authenticator app (totp)", { field: "totp" });
        }
        if (!(await this.operators.checkTotp(username, totp, Date.now())))
          throw new DomainError("INVALID_CREDENTIALS", "user name, password or TOTP code wrong (each code works once)");
      }
      attempt.succeeded();
      return { ...this.tokens.issue(op.username, op.role, op.generation), username: op.username, role: op.role };
    } finally {
      attempt.end();
    }
  }

  @Get("me")
  @Access({ role: "viewer", summary: "Who the token belongs to" })
  me(@Req() req: AuthedRequest) {
    const { sub, role, exp } = req.operator!;
    return { username: sub, role, expiresAt: new Date(exp * 1000).toISOString() };
  }

  @Post("logout")
  @HttpCode(200)
  @Access({ role: "viewer", summary: "Log out: this token is refused from now on (other sessions stay)" })
  async logout(@Req() req: AuthedRequest) {
    const { jti, exp } = req.operator!;
    await this.operators.revokeToken(jti, new Date(exp * 1000));
    return { loggedOut: true };
  }

  @Post("password")
  @HttpCode(200)
  @Access({
    role: "viewer",
    summary: "Change your password: every older token of the account ends; the answer carries a new one",
    body: stringsBody(["currentPassword", "newPassword"]),
  })
  async changePassword(@Body() body: unknown, @Req() req: AuthedRequest & { ip?: string }) {
    const { sub, role } = req.operator!;
    const current = field(body, "currentPassword");
    // Throttled like a login: a stolen token must not become a way to guess the password.
    const attempt = this.limiter.begin(sub, req.ip ?? "?");
    try {
      if (!(await this.operators.authenticate(sub, current)))
        throw new DomainError("INVALID_CREDENTIALS", "the current password is wrong", { field: "currentPassword" });
      attempt.succeeded();
    } finally {
      attempt.end();
    }
    const generation = await this.operators.setPassword(sub, field(body, "newPassword"));
    return { ...this.tokens.issue(sub, role, generation), username: sub, role };
  }

  @Post("totp")
  @Access({ role: "viewer", summary: "Start TOTP enrolment: a secret (and otpauth URI) for an authenticator app; active after confirm", status: 201 })
  beginTotp(@Req() req: AuthedRequest) {
    return this.operators.beginTotp(req.operator!.sub);
  }

  @Post("totp/confirm")
  @HttpCode(200)
  @Access({ role: "viewer", summary: "Confirm TOTP enrolment with a current code; from then on login needs a code", body: stringsBody(["code"]) })
  async confirmTotp(@Body() body: unknown, @Req() req: AuthedRequest) {
    await this.operators.confirmTotp(req.operator!.sub, field(body, "code"), Date.now());
    return { totpEnabled: true };
  }

  @Post("totp/disable")
  @HttpCode(200)
  @Access({ role: "viewer", summary: "Turn TOTP off with a current code", body: stringsBody(["code"]) })
  async disableTotp(@Body() body: unknown, @Req() req: AuthedRequest) {
    const user = req.operator!.sub;
    if (!(await this.operators.checkTotp(user, field(body, "code"), Date.now())))
      throw new ValidationError("INVALID_TOTP", "code", "the code is not current (or was used already)");
    await this.operators.disableTotp(user);
    return { totpEnabled: false };
  }
}

@Controller("api/v1/users")
export class UsersController {
  constructor(@Inject(OperatorStore) private readonly operators: OperatorStore) {}

  @Get()
  @Access({ role: "admin", summary: "Operator accounts" })
  async list() {
    return { users: await this.operators.list() };
  }

  @Post()
  @Access({
    role: "admin",
    summary: "Create an operator account (role viewer, operator or admin)",
    body: stringsBody(["username", "password", "role"]),
    status: 201,
  })
  async create(@Body() body: unknown) {
    return this.operators.create(field(body, "username"), field(body, "password"), field(body, "role") as Role);
  }

  @Post(":username/role")
  @HttpCode(200)
  @Access({ role: "admin", summary: "Change an account's role (never the last admin's); its tokens end", body: stringsBody(["role"]) })
  setRole(@Param("username") username: string, @Body() body: unknown) {
    return this.operators.setRole(username, field(body, "role") as Role);
  }

  @Post(":username/password")
  @HttpCode(200)
  @Access({ role: "admin", summary: "Reset an account's password; its tokens end", body: stringsBody(["password"]) })
  async resetPassword(@Param("username") username: string, @Body() body: unknown) {
    await this.operators.setPassword(username, field(body, "password"));
    return { username, passwordReset: true };
  }

  @Post(":username/totp/reset")
  @HttpCode(200)
  @Access({ role: "admin", summary: "Turn an account's TOTP off (a lost phone); the user may enrol again" })
  async resetTotp(@Param("username") username: string) {
    await this.operators.disableTotp(username);
    return { username, totpEnabled: false };
  }

  @Delete(":username")
  @Access({ role: "admin", summary: "Remove an account (never the last admin); its tokens end" })
  async remove(@Param("username") username: string) {
    await this.operators.remove(username);
    return { username, removed: true };
  }
}

@Controller("api/v1")
export class FleetController {
  constructor(
    @Inject(TENANCY) private readonly tenancy: TenancyApi,
    @Inject(HSM) private readonly hsm: HsmApi,
    @Inject(VPN) private readonly vpn: VpnApi,
  ) {}

  @Get("profiles")
  @Access({ role: "viewer", summary: "Product profiles (vendor figures) units can be created with" })
  profiles() {
    return this.tenancy.listProfiles({});
  }

  @Get("fleet")
  @Access({
    role: "viewer",
    summary:
      "Fleet overview: totals and every unit with state, firmware, Mandanten n/limit, KTs used/limit per compute unit, gSMC-K expiry, TI access (vpn's rule; null while vpn cannot be asked)",
  })
  async fleet() {
    const [{ units: list }, expiries, registrations] = await Promise.all([
      this.tenancy.listUnits({}),
      this.hsm.listExpiries({ withinDays: 0 }),
      this.vpn.listRegistrations({}).then(
        (r) => r.registrations,
        () => undefined,
      ),
    ]);
    const byUnit = new Map(expiries.expiries.map((e) => [e.unitId, e]));
    const regs = new Map((registrations ?? []).map((r) => [r.unitId, r]));
    // A unit without a registration record never registered: no TI access (off by default).
    const ti = (unitId: string) => {
      if (!registrations) return null;
      const r = regs.get(unitId);
      return r
        ? {
            access: r.tiAccess,
            sis: r.sisAccess,
            registrationStatus: r.registrationStatus,
            contractStatus: r.contractStatus,
            blocked: r.blocked,
            reasons: r.tiAccessReasons,
          }
        : {
            access: false,
            sis: false,
            registrationStatus: "Nicht registriert",
            contractStatus: "Kein Zugriff auf TI und SIS",
            blocked: false,
            reasons: ["not registered at the VPN-ZugD"],
          };
    };
    const units = list.map((u) => {
      const e = byUnit.get(u.unitId);
      return {
        ...u,
        gsmck: e ? { notAfter: e.notAfter, daysToExpiry: e.daysToExpiry, exchangeDue: e.exchangeDue, lzvApplies: e.lzvApplies, tiAccess: e.tiAccess } : null,
        ti: ti(u.unitId),
      };
    });
    const byState: Record<string, number> = {};
    for (const u of units) byState[u.state] = (byState[u.state] ?? 0) + 1;
    const kts = units.flatMap((u) => u.computeUnits);
    return {
      totals: { units: units.length, byState, ktsUsed: kts.reduce((a, c) => a + c.ktsUsed, 0), ktsLimit: kts.reduce((a, c) => a + c.ktsLimit, 0) },
      units,
    };
  }

  @Get("units")
  @Access({ role: "viewer", summary: "Units of the fleet" })
  units() {
    return this.tenancy.listUnits({});
  }

  @Post("units")
  @Access({
    role: "operator",
    summary: "Create a unit (serial, profile, optional firmware and production date YYYY-MM-DD)",
    body: stringsBody(["serial", "profile"], ["firmware", "producedOn"]),
    status: 201,
  })
  async createUnit(@Body() body: unknown) {
    return (
      await this.tenancy.createUnit({
        serial: field(body, "serial"),
        profile: field(body, "profile"),
        firmware: field(body, "firmware", { optional: true }),
        producedOn: field(body, "producedOn", { optional: true }),
      })
    ).unit;
  }

  @Get("units/:unit")
  @Access({ role: "viewer", summary: "A unit in detail (by id or serial), with Mandanten and KT slots" })
  async unit(@Param("unit") unit: string) {
    return (await this.tenancy.getUnit({ unit })).unit;
  }

  @Post("units/:unit/state")
  @HttpCode(200)
  @Access({
    role: "operator",
    summary: "Change a unit's state: action activate, block (Sperrung), unblock or decommission",
    body: stringsBody(["action"], ["reason"]),
  })
  async changeState(@Param("unit") unit: string, @Body() body: unknown) {
    return (await this.tenancy.changeUnitState({ unit, action: field(body, "action"), reason: field(body, "reason", { optional: true }) })).unit;
  }

  @Get("units/:unit/mandanten")
  @Access({ role: "viewer", summary: "The Mandanten (BTRS) of a unit" })
  mandanten(@Param("unit") unit: string) {
    return this.tenancy.listMandanten({ unit });
  }

  @Post("units/:unit/mandanten")
  @Access({
    role: "operator",
    summary: "Add a Mandant (id, name, optional BSNR of 9 digits and SMC-B ICCSN of 20 digits)",
    body: stringsBody(["mandantId", "name"], ["bsnr", "smcbIccsn"]),
    status: 201,
  })
  async addMandant(@Param("unit") unit: string, @Body() body: unknown) {
    const r = await this.tenancy.addMandant({
      unit,
      mandantId: field(body, "mandantId"),
      name: field(body, "name"),
      bsnr: field(body, "bsnr", { optional: true }),
      smcbIccsn: field(body, "smcbIccsn", { optional: true }),
    });
    return r.mandant;
  }

  @Post("units/:unit/licence")
  @HttpCode(200)
  @Access({
    role: "operator",
    summary:
      "Import a signed licence file (the file's JSON as body); refused: LICENCE_INVALID, LICENCE_SERIAL_MISMATCH, LICENCE_OUTDATED (not issued after the current licence), LICENCE_BELOW_USAGE",
    body: { type: "object", required: ["format", "licence", "signature"] },
  })
  async importLicence(@Param("unit") unit: string, @Body() body: unknown) {
    return (await this.tenancy.importLicence({ unit, licenceFile: JSON.stringify(body ?? null) })).unit;
  }
}

/** Durations such as 90d for ?within=. */
function days(within: string | undefined): number {
  if (!within) return 0;
  const m = /^(\d+)d?$/.exec(within);
  if (!m) throw new ValidationError("INVALID_REQUEST", "within", `within must be a number of days such as 90d, not "${within}"`);
  return Number(m[1]);
}

@Controller("api/v1")
export class CertificatesController {
  constructor(
    @Inject(TENANCY) private readonly tenancy: TenancyApi,
    @Inject(HSM) private readonly hsm: HsmApi,
  ) {}

  private async unitId(unit: string): Promise<string> {
    return (await this.tenancy.getUnit({ unit })).unit!.unitId;
  }

  @Get("units/:unit/certs")
  @Access({ role: "viewer", summary: "The unit's gSMC-K: identities C.NK.VPN, C.AK.AUT, C.SAK.AUT with certificates, days to expiry, OCSP status, LZV state" })
  async certs(@Param("unit") unit: string) {
    return (await this.hsm.getSecurityModule({ unitId: await this.unitId(unit) })).securityModule;
  }

  @Post("units/:unit/lzv")
  @HttpCode(200)
  @Access({ role: "operator", summary: "Run the LZV (Laufzeitverlängerung) of the unit's certificates now; refusals carry the LZV_* code" })
  async lzv(@Param("unit") unit: string) {
    return (await this.hsm.attemptLzv({ unitId: await this.unitId(unit) })).securityModule;
  }

  @Post("units/:unit/revoke")
  @HttpCode(200)
  @Access({ role: "operator", summary: "Revoke (Sperrung) every certificate of the unit's gSMC-K, e.g. after theft", body: stringsBody([], ["reason"]) })
  async revoke(@Param("unit") unit: string, @Body() body: unknown) {
    return (await this.hsm.revokeUnit({ unitId: await this.unitId(unit), reason: field(body, "reason", { optional: true }) })).securityModule;
  }

  @Get("fleet/expiries")
  @Access({ role: "viewer", summary: "Units by days to gSMC-K expiry, most urgent first, with LZV applicability and the exchange flag; ?within=90d" })
  expiries(@Query("within") within?: string) {
    return this.hsm.listExpiries({ withinDays: days(within) });
  }

  @Get("certificates/:serial")
  @Access({ role: "viewer", summary: "A certificate of the test PKI by serial (hex) with its OCSP status" })
  async certificate(@Param("serial") serial: string) {
    return (await this.hsm.getCertificate({ certSerial: serial })).certificate;
  }

  @Get("pki/trust-anchors")
  @Access({ role: "viewer", summary: "Root and sub-CA certificates of the test PKI and the OCSP responder URL" })
  trustAnchors() {
    return this.hsm.getTrustAnchors({});
  }

  @Get("clock")
  @Access({ role: "viewer", summary: "The clock ti-gateway runs on (system or simulated)" })
  clock() {
    return this.hsm.getClock({});
  }

  @Post("clock/advance")
  @HttpCode(200)
  @Access({
    role: "operator",
    summary: "Advance the simulated clock (e.g. 30d) and run the expiry checks; refused on the system clock",
    body: stringsBody(["duration"]),
  })
  advance(@Body() body: unknown) {
    return this.hsm.advanceClock({ duration: field(body, "duration") });
  }
}

export const API_CONTROLLERS = [
  SystemController,
  AuthController,
  UsersController,
  FleetController,
  CertificatesController,
  TerminalsController,
  SimulatorController,
  VsdController,
  UnitCheckController,
  EventsController,
  VpnController,
  SoapController,
  KsrController,
];
