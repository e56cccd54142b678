import "reflect-metadata";
import { Module, type INestApplication } from "@nestjs/common";
import { APP_GUARD, NestFactory } from "@nestjs/core";
import type { Logger, Sql } from "@tigw/platform";
import { LoginLimiter } from "./auth/login-limiter.js";
import { OperatorStore } from "./auth/operators.js";
import { TokenIssuer } from "./auth/tokens.js";
import { API_CONTROLLERS } from "./http/controllers.js";
import { AuthGuard } from "./http/guard.js";
import { docsController } from "./http/openapi.js";
import { ProblemFilter } from "./http/problem.js";
import { cardTerminalApi, hsmApi, tenancyApi, vsdmApi } from "./grpc-clients.js";
import { CARD_TERMINAL, HSM, TENANCY, VSDM } from "./tokens.js";

export interface GatewayOptions {
  sql: Sql;
  tenancyAddress: string;
  hsmAddress: string;
  cardTerminalAddress: string;
  vsdmAddress: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Password of the first `admin`; when absent one is generated and returned once. */
  adminPassword?: string;
  tokenSecret?: string;
  tokenTtlSeconds?: number;
  logger?: Logger;
  loginLimit?: { maxFailures: number; windowMs: number };
}

export interface RunningGateway {
  app: INestApplication;
  url: string;
  /** Set on the first start when no admin password was configured: show it once. */
  generatedAdminPassword?: string;
  close(): Promise<void>;
}

export const CONTROLLERS = [...API_CONTROLLERS, docsController(API_CONTROLLERS)];

/** The gateway: operator accounts and the REST admin API /api/v1 on NestJS (Express). */
export async function startGateway(o: GatewayOptions): Promise<RunningGateway> {
  const operators = await OperatorStore.open(o.sql);
  const generatedAdminPassword = await operators.ensureAdmin(o.adminPassword);
  const tokens = new TokenIssuer(await operators.tokenSecret(o.tokenSecret), o.tokenTtlSeconds ?? 15 * 60);
  const tenancy = tenancyApi(o.tenancyAddress);
  const hsm = hsmApi(o.hsmAddress);
  const cardTerminal = cardTerminalApi(o.cardTerminalAddress);
  const vsdm = vsdmApi(o.vsdmAddress);
  const limiter = new LoginLimiter(o.loginLimit?.maxFailures, o.loginLimit?.windowMs);

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
      { provide: APP_GUARD, useClass: AuthGuard },
    ],
  })
  class GatewayModule {}

  const app = await NestFactory.create(GatewayModule, { logger: false });
  app.useGlobalFilters(new ProblemFilter(o.logger));
  (app.getHttpAdapter().getInstance() as { disable(k: string): void }).disable("x-powered-by");
  await app.listen(o.port ?? 8080, o.host ?? "127.0.0.1");
  const address = app.getHttpServer().address() as { port: number };
  const host = o.host && o.host !== "0.0.0.0" ? o.host : "127.0.0.1";
  return {
    app,
    url: `http://${host}:${address.port}`,
    generatedAdminPassword,
    close: async () => {
      await app.close();
      tenancy.close();
      hsm.close();
      cardTerminal.close();
      vsdm.close();
    },
  };
}
