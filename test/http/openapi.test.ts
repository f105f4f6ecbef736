import { Validator } from "@seriousme/openapi-schema-validator";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { validateConfig } from "../../src/config/load.js";
import { ModelRegistry } from "../../src/router/model-registry.js";
import { buildApp } from "../../src/server/app.js";

const withApp = async <T>(settings: object, use: (app: FastifyInstance) => Promise<T>): Promise<T> => {
  const app = await buildApp({ config: validateConfig(settings), models: new ModelRegistry() });
  try {
    return await use(app);
  } finally {
    await app.close();
  }
};

/** "get /v1/models" for each route of Fastify's route tree (HEAD and OPTIONS left out). */
function servedRoutes(tree: string): Set<string> {
  const served = new Set<string>();
  const stack: string[] = [];
  for (const line of tree.split("\n")) {
    const match = /^([│├└─ ]*)(\S.*) \(([A-Z, ]+)\)$/.exec(line);
    if (!match) continue;
    const depth = match[1]!.length / 4;
    stack.length = depth;
    const parent = stack.at(-1) ?? "";
    const path = parent && !parent.endsWith("/") && !match[2]!.startsWith("/") ? `${parent}/${match[2]}` : parent + match[2]!;
    stack.push(path);
    for (const method of match[3]!.split(", ")) if (method !== "HEAD" && method !== "OPTIONS") served.add(`${method.toLowerCase()} ${path}`);
  }
  return served;
}

// The OpenAPI document is generated from the same request schemas that validate the bodies.
describe("GET /openapi.json and /docs", () => {
  let app: FastifyInstance;
  let document: { openapi: string; paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { properties?: Record<string, unknown> } }> } }>> };
  beforeAll(async () => {
    app = await buildApp({ config: validateConfig({}), models: new ModelRegistry() });
    const response = await app.inject({ method: "GET", url: "/openapi.json" });
    expect(response.statusCode).toBe(200);
    document = response.json();
  });
  afterAll(() => app.close());

  it("is a valid OpenAPI 3.1 document", async () => {
    expect(document.openapi).toBe("3.1.0");
    const result = await new Validator().validate(document as never);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it("lists every route the server answers (but its own documents)", () => {
    const served = servedRoutes(app.printRoutes({ commonPrefix: false }));
    const documented = new Set(Object.entries(document.paths).flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m} ${path.replace(/\{(\w+)\}/g, ":$1")}`)));
    const own = (route: string) => route.includes("/openapi.json") || route.includes("/docs");
    const missing = [...served].filter((route) => !own(route) && !documented.has(route) && !route.endsWith("*"));
    expect(served.size).toBeGreaterThan(15);
    expect(missing).toEqual([]);
    for (const route of ["post /v1/chat/completions", "post /v1/responses", "post /v1/messages", "post /v1/embeddings", "get /v1/models", "post /tokenize", "get /v1/ws", "get /health"])
      expect(documented.has(route), route).toBe(true);
  });

  it("describes each body with the schema that validates it", () => {
    const chat = document.paths["/v1/chat/completions"]!.post!.requestBody!.content["application/json"]!.schema;
    expect(Object.keys(chat.properties ?? {})).toEqual(expect.arrayContaining(["model", "messages", "tools", "response_format", "chat_template_kwargs", "reasoning_effort"]));
    const messages = document.paths["/v1/messages"]!.post!.requestBody!.content["application/json"]!.schema;
    expect(Object.keys(messages.properties ?? {})).toEqual(expect.arrayContaining(["max_tokens", "system", "thinking", "tools"]));
  });

  it("serves the explorer at /docs", async () => {
    const page = await app.inject({ method: "GET", url: "/docs/" });
    expect(page.statusCode).toBe(200);
    expect(page.headers["content-type"]).toMatch(/text\/html/);
  });

  it("sits behind the API keys, and is off by default beyond loopback", async () => {
    await withApp({ auth: { apiKeys: "a:sk-0123456789" } }, async (keyed) => {
      expect((await keyed.inject({ method: "GET", url: "/openapi.json" })).statusCode).toBe(401);
      expect((await keyed.inject({ method: "GET", url: "/docs/" })).statusCode).toBe(401);
      expect((await keyed.inject({ method: "GET", url: "/openapi.json", headers: { authorization: "Bearer sk-0123456789" } })).statusCode).toBe(200);
    });
    await withApp({ server: { host: "0.0.0.0" } }, async (open) => {
      expect((await open.inject({ method: "GET", url: "/openapi.json" })).statusCode).toBe(404);
    });
    await withApp({ server: { host: "0.0.0.0" }, docs: { enabled: "on" } }, async (on) => {
      expect((await on.inject({ method: "GET", url: "/openapi.json" })).statusCode).toBe(200);
    });
  });
});
