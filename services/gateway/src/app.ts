import "reflect-metadata";
import { Module, UnsupportedMediaTypeException, type INestApplication } from "@nestjs/common";
import type { IncomingMessage, Server } from "node:http";
import { join } from "node:path";
import { APP_GUARD, NestFactory } from "@nestjs/core";
import type { NestExpressApplication } from "@nestjs/platform-express";
import { hardenHttpServer, type Logger, type Sql } from "@tigw/platform";
import { LoginLimiter, type LoginLimits } from "./auth/login-limiter.js";
import { OperatorStore } from "./auth/operators.js";
import { TokenIssuer } from "./auth/tokens.js";
import { API_CONTROLLERS } from "./http/controllers.js";
import { AuthGuard } from "./http/guard.js";
import { docsController } from "./http/openapi.js";
import { ProblemFilter } from "./http/problem.js";
import { cardTerminalApi, deadLetterApi, hsmApi, ksrApi, tenancyApi, vpnApi, vsdmApi, zugangsmodulApi } from "./grpc-clients.js";
import { BoxesController, PortalBoxesController, PortalController, PracticesController } from "./portal/controller.js";
import { PortalSessions } from "./portal/sessions.js";
import { CARD_TERMINAL, DEAD_LETTERS, HSM, KSR, LOGGER, SOAP, TENANCY, VPN, VSDM, ZUGANGSMODUL } from "./tokens.js";
import { SoapEndpoints } from "./soap/endpoints.js";

export interface GatewayOptions {
  sql: Sql;
  tenancyAddress: string;
  hsmAddress: string;
  cardTerminalAddress: string;
  vsdmAddress: string;
  /** The vpn service (default 127.0.0.1:50055). */
  vpnAddress?: string;
  /** The ksr service (default 127.0.0.1:50056). */
  ksrAddress?: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Password of the first `admin`; when absent one is generated and returned once. */
  adminPassword?: string;
  tokenSecret?: string;
  tokenTtlSeconds?: number;
  logger?: Logger;
  /** The units' SOAP endpoints for practice software (see soap/endpoints.ts); default: on 127.0.0.1, a free port per unit. */
  soap?: { host?: string; publicHost?: string; internalHost?: string; portBase?: number };
  /** Login throttling (defaults: DEFAULT_LOGIN_LIMITS). */
  loginLimit?: Partial<LoginLimits>;
}

export interface RunningGateway {
  app: INestApplication;
  url: string;
  /** The units' SOAP endpoints (opened on first use). */
  soap: SoapEndpoints;
  /** Set on the first start when no admin password was configured: show it once. */
  generatedAdminPassword?: string;
  close(): Promise<void>;
}

const ALL_API = [...API_CONTROLLERS, PracticesController, BoxesController, PortalController, PortalBoxesController];
export const CONTROLLERS = [...ALL_API, docsController(ALL_API)];

/** Content-Security-Policy of the admin UI: its own scripts, styles and API only. */
const ADMIN_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/**
 * The admin web UI (services/gateway/admin, static files, no build step) at /admin/; "/" leads
 * there. The practice portal (services/gateway/portal) at /portal/, apart from it. The files are
 * public; every datum they show comes from /api/v1 with the operator's token or the practice's
 * portal session.
 */
function serveAdminUi(app: NestExpressApplication): void {
  const http = app.getHttpAdapter().getInstance() as {
    disable(k: string): void;
    get(path: string, h: (req: unknown, res: { redirect(code: number, to: string): void }) => void): void;
    use(path: string, h: (req: unknown, res: { setHeader(k: string, v: string): void }, next: () => void) => void): void;
  };
  http.disable("x-powered-by");
  http.get("/", (_req, res) => res.redirect(302, "/admin/"));
  for (const ui of ["/admin", "/portal"]) {
    http.use(ui, (_req, res, next) => {
      res.setHeader("Content-Security-Policy", ADMIN_CSP);
      res.setHeader("X-Content-Type-Options", "nosniff");
      res.setHeader("Referrer-Policy", "no-referrer");
      next();
    });
  }
  app.useStaticAssets(join(__dirname, "../../admin"), { prefix: "/admin/", index: "index.html", redirect: true });
  app.useStaticAssets(join(__dirname, "../../portal"), { prefix: "/portal/", index: "index.html", redirect: true });
}

/** Methods whose body the API reads. */
const WITH_BODY = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/**
 * The API reads JSON only: a body of another type is refused with 415 before any parser sees it
 * (otherwise it would reach the handlers as an empty object and fail later, less clearly).
 */
function requireJsonBodies(app: NestExpressApplication): void {
  app.use("/api", (req: IncomingMessage, _res: unknown, next: (e?: unknown) => void) => {
    const hasBody = Number(req.headers["content-length"] ?? 0) > 0 || req.headers["transfer-encoding"] !== undefined;
    const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
    if (hasBody && WITH_BODY.has(req.method ?? "") && !/^application\/([\w.-]+\+)?json$/.test(type))
      return next(new UnsupportedMediaTypeException(`request body must be application/json, not ${type.slice(0, 100) || "untyped"}`));
    next();
  });
}

/** The gateway: operator accounts, the REST admin API /api/v1 and the practice portal's API on NestJS (Express). */
export async function startGateway(o: GatewayOptions): Promise<RunningGateway> {
  const operators = await OperatorStore.open(o.sql);
  const generatedAdminPassword = await operators.ensureAdmin(o.adminPassword);
  const secret = await operators.tokenSecret(o.tokenSecret);
  const tokens = new TokenIssuer(secret, o.tokenTtlSeconds ?? 15 * 60);
  const sessions = new PortalSessions(secret, o.tokenTtlSeconds ?? 15 * 60);
  const tenancy = tenancyApi(o.tenancyAddress);
  const hsm = hsmApi(o.hsmAddress);
  const cardTerminal = cardTerminalApi(o.cardTerminalAddress);
  const vsdm = vsdmApi(o.vsdmAddress);
  // The services that consume other services' events (today hsm, of tenancy's) keep dead letters.
  const deadLetters = [deadLetterApi(o.hsmAddress)];
  const vpn = vpnApi(o.vpnAddress ?? "127.0.0.1:50055");
  const ksr = ksrApi(o.ksrAddress ?? "127.0.0.1:50056");
  const zugangsmodul = zugangsmodulApi(o.vpnAddress ?? "127.0.0.1:50055");
  const limiter = new LoginLimiter(o.loginLimit);
  const soap = await SoapEndpoints.start({ tenancy, hsm, cardTerminal, vsdm, vpn, ksr, zugangsmodul, sql: o.sql, logger: o.logger, ...o.soap });

  @Module({
    controllers: CONTROLLERS,
    providers: [
      { provide: OperatorStore, useValue: operators },
      { provide: TokenIssuer, useValue: tokens },
      { provide: LoginLimiter, useValue: limiter },
      { provide: TENANCY, useValue: tenancy },
      { provide: HSM, useValue: hsm },
      { provide: CARD_TERMINAL, useValue: cardTerminal },
      { provide: VSDM, useValue: vsdm },
      { provide: DEAD_LETTERS, useValue: deadLetters },
      { provide: VPN, useValue: vpn },
      { provide: KSR, useValue: ksr },
      { provide: ZUGANGSMODUL, useValue: zugangsmodul },
      { provide: PortalSessions, useValue: sessions },
      { provide: LOGGER, useValue: o.logger ?? null },
      { provide: SOAP, useValue: soap },
      { provide: APP_GUARD, useClass: AuthGuard },
    ],
  })
  class GatewayModule {}

  const app = await NestFactory.create<NestExpressApplication>(GatewayModule, { logger: false });
  app.useGlobalFilters(new ProblemFilter(o.logger));
  serveAdminUi(app);
  requireJsonBodies(app);
  hardenHttpServer(app.getHttpServer() as Server);
  await app.listen(o.port ?? 8080, o.host ?? "127.0.0.1");
  const address = app.getHttpServer().address() as { port: number };
  const host = o.host && o.host !== "0.0.0.0" ? o.host : "127.0.0.1";
  return {
    app,
    url: `http://${host}:${address.port}`,
    soap,
    generatedAdminPassword,
    close: async () => {
      await soap.close();
      await app.close();
      tenancy.close();
      hsm.close();
      cardTerminal.close();
      vsdm.close();
      for (const d of deadLetters) d.close();
      vpn.close();
      ksr.close();
      zugangsmodul.close();
    },
  };
}
