import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import fastifySwagger from "@fastify/swagger";
import fastifySwaggerUi from "@fastify/swagger-ui";
import { isLoopback } from "../auth/host-policy.js";
import type { ApiKeys } from "../auth/api-keys.js";
import type { GatewayConfig } from "../config/schema.js";
import { PROJECT_ROOT } from "../engine/model-file.js";
import { requireApiKey } from "./authentication.js";

// The API described as vLLM and LiteLLM describe theirs: an OpenAPI 3.1 document generated from the routes' own
// request schemas (the ones that validate every body, so the document cannot drift from what is accepted), at
// GET /openapi.json, and an explorer at GET /docs. Both sit behind the API keys, like the API they describe.

export const OPENAPI_PATH = "/openapi.json";
export const DOCS_PATH = "/docs";

const WS_SUMMARY =
  "WebSocket upgrade: one socket carries many generations of every endpoint, each message {type, id, body} (e.g. type chat.completions.create), answered by chunk / done / error messages with the same id (see docs/api.md)";

/** Whether the documents are served: `auto` serves them on a loopback address only. */
export function docsEnabled(config: Pick<GatewayConfig, "docs" | "server">): boolean {
  return config.docs.enabled === "on" || (config.docs.enabled === "auto" && isLoopback(config.server.host));
}

/** Collects every route registered after it (call before the routes); serve() then exposes the document. */
export async function collectOpenApi(app: FastifyInstance): Promise<void> {
  const { version } = JSON.parse(readFileSync(join(PROJECT_ROOT, "package.json"), "utf8")) as { version: string };
  await app.register(fastifySwagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "llm-gateway",
        version,
        description:
          "OpenAI-compatible (chat, completions, embeddings, Responses), Anthropic Messages and llama-server (tokenize, apply-template) APIs over local GGUF models. Streaming answers are Server-Sent Events (`stream: true`) or the multiplexed WebSocket at /v1/ws.",
      },
      components: { securitySchemes: { apiKey: { type: "http", scheme: "bearer", description: "an API key from auth.apiKeys (also accepted as x-api-key); none when no keys are configured" } } },
      security: [{ apiKey: [] }],
    },
    hideUntagged: false,
    // @fastify/websocket hides its routes: the multiplexed socket is part of the API, so it is listed.
    transform: ({ schema, url }) => ({ schema: url === "/v1/ws" ? { ...schema, hide: false, summary: WS_SUMMARY } : schema, url }),
  });
}

/** GET /openapi.json and the explorer at /docs, behind the API keys. */
export async function serveApiDocs(app: FastifyInstance, keys: ApiKeys): Promise<void> {
  await app.register(async (scope) => {
    requireApiKey(scope, keys);
    scope.get(OPENAPI_PATH, { schema: { hide: true } }, async () => app.swagger());
    await scope.register(fastifySwaggerUi, { routePrefix: DOCS_PATH, uiConfig: { url: OPENAPI_PATH, deepLinking: true }, staticCSP: true });
  });
}
