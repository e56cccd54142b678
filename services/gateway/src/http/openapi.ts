import { Controller, Get, RequestMethod, type Type } from "@nestjs/common";
import { METHOD_METADATA, PATH_METADATA } from "@nestjs/common/constants.js";
import { Access, ACCESS, type AccessMeta } from "./access.js";

export interface RouteInfo {
  method: string;
  /** OpenAPI form: /api/v1/units/{unit} */
  path: string;
  access: AccessMeta;
}

const join = (...parts: string[]) =>
  `/${parts
    .flatMap((p) => p.split("/"))
    .filter(Boolean)
    .join("/")}`;

/** Every route of the given controllers, read from Nest's own routing metadata. */
export function routesOf(controllers: Type[]): RouteInfo[] {
  const routes: RouteInfo[] = [];
  for (const c of controllers) {
    const base = String(Reflect.getMetadata(PATH_METADATA, c) ?? "");
    for (const name of Object.getOwnPropertyNames(c.prototype)) {
      const handler = (c.prototype as Record<string, unknown>)[name];
      if (typeof handler !== "function" || name === "constructor") continue;
      const path = Reflect.getMetadata(PATH_METADATA, handler) as string | undefined;
      const method = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
      if (path === undefined || method === undefined) continue;
      routes.push({
        method: RequestMethod[method].toLowerCase(),
        path: join(base, path).replace(/:(\w+)/g, "{$1}"),
        access: Reflect.getMetadata(ACCESS, handler) as AccessMeta,
      });
    }
  }
  return routes;
}

const problem = {
  description: "problem+json with a stable code",
  content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } },
};

/** The OpenAPI 3.1 document, generated from the routes so it cannot drift from them. */
export function openApiDocument(controllers: Type[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routesOf(controllers)) {
    const params = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => ({
      name: m[1],
      in: "path",
      required: true,
      schema: { type: "string" },
      description: m[1] === "unit" ? "unit id or serial number" : undefined,
    }));
    (paths[r.path] ??= {})[r.method] = {
      summary: r.access.summary,
      "x-tigw-role": r.access.role,
      security: r.access.role === "public" ? [] : [{ bearer: [] }],
      parameters: params.length ? params : undefined,
      requestBody: r.access.body ? { required: true, content: { "application/json": { schema: r.access.body } } } : undefined,
      responses: {
        [String(r.access.status ?? 200)]: { description: "OK", content: { "application/json": {} } },
        ...(r.access.role === "public" ? {} : { "401": problem, "403": problem }),
        "4XX": problem,
      },
    };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "ti-gateway admin API",
      version: "1",
      description: "Fleet of hosted Konnektor units. Log in at POST /api/v1/auth/login and send the token as Authorization: Bearer <token>.",
    },
    servers: [{ url: "/" }],
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
      schemas: {
        Problem: {
          type: "object",
          required: ["status", "code", "detail"],
          properties: {
            type: { type: "string" },
            status: { type: "integer" },
            code: { type: "string" },
            title: { type: "string" },
            detail: { type: "string" },
            details: { type: "object", additionalProperties: { type: "string" } },
          },
        },
      },
    },
    paths,
  };
}

/** Serves the document of the given controllers plus itself at /api/docs. */
export function docsController(api: Type[]): Type {
  @Controller("api/docs")
  class DocsController {
    @Get()
    @Access({ role: "viewer", summary: "This OpenAPI document" })
    docs() {
      return openApiDocument([...api, DocsController]);
    }
  }
  return DocsController;
}
