import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import fastifyWebsocket from "@fastify/websocket";
import type { Logger } from "pino";
import type { GatewayConfig } from "../config/schema.js";
import type { ModelRegistry } from "../router/model-registry.js";
import type { ApiContext } from "../api/context.js";
import { chatCompletionsRoute } from "../api/chat/route.js";
import { completionsRoute } from "../api/completions/route.js";
import { modelsRoute } from "../api/models/route.js";
import { healthRoute } from "../api/health/route.js";
import { webSocketRoute } from "../api/websocket/route.js";
import { installErrorHandling } from "./error-handler.js";
import { compileBodyValidator } from "../api/shared/body-validation.js";

export interface AppOptions {
  config: Pick<GatewayConfig, "http" | "request" | "ws">;
  models: ModelRegistry;
  logger?: Logger;
}

/** The HTTP app over a set of engines; it owns no engine and does not listen (see start.ts). */
export async function buildApp({ config, models, logger }: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    ...(logger ? { loggerInstance: logger as FastifyBaseLogger } : { logger: false }),
    bodyLimit: config.http.bodyLimit,
    requestIdHeader: "x-request-id",
  });
  app.setValidatorCompiler(({ schema }) => compileBodyValidator(schema));
  installErrorHandling(app);
  app.addHook("onSend", async (request, reply) => {
    reply.header("x-request-id", request.id);
  });
  const context: ApiContext = {
    models,
    limits: { maxTokens: config.request.maxTokens, sseKeepAliveMs: config.http.sseKeepAliveMs },
  };
  await app.register(chatCompletionsRoute, context);
  await app.register(completionsRoute, context);
  await app.register(modelsRoute, context);
  await app.register(healthRoute, context);
  await app.register(fastifyWebsocket, { options: { maxPayload: config.ws.closeAboveBytes } });
  await app.register(webSocketRoute, { ...context, ws: config.ws });
  return app;
}
