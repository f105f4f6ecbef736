import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from "fastify";
import fastifyWebsocket from "@fastify/websocket";
import type { Logger } from "pino";
import type { GatewayConfig } from "../config/schema.js";
import type { ModelRegistry } from "../router/model-registry.js";
import type { ApiContext } from "../api/context.js";
import { chatCompletionsEndpoint, chatCompletionsRoute } from "../api/chat/route.js";
import { completionsEndpoint, completionsRoute } from "../api/completions/route.js";
import { modelsRoute } from "../api/models/route.js";
import { tokenizeRoute } from "../api/tokenize/route.js";
import { embeddingsRoute } from "../api/embeddings/route.js";
import { healthRoute } from "../api/health/route.js";
import { metricsRoute } from "../api/metrics/route.js";
import { playgroundRoute } from "../playground/route.js";
import { GatewayMetrics } from "../observability/metrics.js";
import { Lifecycle } from "../api/shared/lifecycle.js";
import { collectOpenApi, docsEnabled, serveApiDocs } from "./api-docs.js";
import { logRequests } from "./request-logging.js";
import { createTracing } from "../observability/tracing.js";
import { webSocketRoute } from "../api/websocket/route.js";
import { messagesEndpoint, messagesRoute } from "../api/messages/route.js";
import { responsesEndpoint, responsesRoute } from "../api/responses/route.js";
import { createResponseStore } from "../api/responses/store.js";
import type { GenerationEndpoint } from "../api/shared/endpoint.js";
import { installErrorHandling } from "../api/shared/error-handling.js";
import { allowCrossOrigin } from "./cross-origin.js";
import { OriginPolicy } from "../auth/origin-policy.js";
import { HostPolicy, isLoopback } from "../auth/host-policy.js";
import { ApiError } from "../errors.js";
import { requireApiKey } from "./authentication.js";
import { ApiKeys } from "../auth/api-keys.js";
import { createLimiter, type LimiterSetup } from "../ratelimit/create-limiter.js";
import { compileBodyValidator } from "../api/shared/body-validation.js";

export interface AppOptions {
  config: Pick<GatewayConfig, "server" | "http" | "request" | "ws" | "auth" | "rateLimit" | "queue" | "log" | "playground" | "docs" | "responses" | "tracing">;
  models: ModelRegistry;
  logger?: Logger;
}

declare module "fastify" {
  interface FastifyInstance {
    /** API keys and rate limiter of this app (the limiter's state shows whether Redis is in use). */
    access: { keys: ApiKeys; limiter: LimiterSetup };
    /** Metrics of this app, and whether it is serving or draining. */
    ops: { metrics: GatewayMetrics; lifecycle: Lifecycle };
  }
}

/** How long a starting instance waits for Redis before serving on its fallback. */
const REDIS_CONNECT_WAIT_MS = 2_000;

/** The HTTP app over a set of engines; it owns no engine and does not listen (see start.ts). */
export async function buildApp({ config, models, logger }: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    ...(logger ? { loggerInstance: logger as FastifyBaseLogger } : { logger: false }),
    logController: new LogController({ disableRequestLogging: true }), // one line per request at its end instead: see request-logging.ts
    bodyLimit: config.http.bodyLimit,
    requestIdHeader: "x-request-id",
    requestTimeout: config.http.requestTimeoutMs, // slow bodies: 408 and the connection closed
    // Node looks for connections past these timeouts every 30 s by default: a tenth of the shortest instead.
    http: { headersTimeout: config.http.headersTimeoutMs, connectionsCheckingInterval: checkingInterval(config.http) },
  });
  if (config.http.maxConnections > 0) app.server.maxConnections = config.http.maxConnections;
  const keys = ApiKeys.fromConfig(config);
  const limiter = createLimiter(config, app.log);
  app.decorate("access", { keys, limiter });
  const metrics = new GatewayMetrics(models, limiter.state);
  const lifecycle = new Lifecycle();
  app.decorate("ops", { metrics, lifecycle });
  const tracing = await createTracing(config.tracing, app.log);
  if (tracing) app.addHook("onClose", () => tracing.shutdown());
  logRequests(app, metrics, config.log.content, tracing);
  app.addHook("onClose", () => limiter.close());
  await limiter.ready(REDIS_CONNECT_WAIT_MS);
  app.setValidatorCompiler(({ schema }) => compileBodyValidator(schema, config.request.maxJsonDepth));
  installErrorHandling(app, config.http);
  const origins = new OriginPolicy(config.http.corsOrigins);
  await allowCrossOrigin(app, origins);
  const hosts = new HostPolicy(config.http.allowedHosts, isLoopback(config.server.host), keys.enabled);
  app.addHook("onRequest", async (request, reply) => {
    reply.header("x-request-id", request.id);
    if (!hosts.admits(request.headers.host))
      throw new ApiError(403, `Host '${request.headers.host}' is not served here: this open server answers loopback names only (add it to http.allowedHosts).`, "invalid_request_error", "host_not_allowed");
    if (lifecycle.isDraining) reply.header("connection", "close"); // keep-alive clients move to another instance
  });
  const docs = docsEnabled(config);
  if (docs) await collectOpenApi(app); // before the routes, which it collects
  const context: ApiContext = {
    models,
    limits: { ...config.request, sseKeepAliveMs: config.http.sseKeepAliveMs },
    keys,
    limiter: limiter.limiter,
    metrics,
    lifecycle,
    logContent: config.log.content,
  };
  await app.register(healthRoute, context);
  await app.register(metricsRoute, context);
  if (config.playground.enabled) await app.register(playgroundRoute, { path: config.playground.path, authRequired: keys.enabled });
  await app.register(fastifyWebsocket, { options: { maxPayload: config.ws.closeAboveBytes } });
  const store = createResponseStore(config.responses, config.rateLimit.redis.url, app.log);
  app.addHook("onClose", () => store.close());
  const responses = responsesEndpoint(store, config.request.maxMessages);
  const endpoints = [chatCompletionsEndpoint, completionsEndpoint, messagesEndpoint, responses] as unknown as GenerationEndpoint[];
  // The OpenAI API: behind API keys (when configured).
  await app.register(async (v1) => {
    requireApiKey(v1, keys);
    await v1.register(chatCompletionsRoute, context);
    await v1.register(completionsRoute, context);
    await v1.register(modelsRoute, context);
    await v1.register(tokenizeRoute, context);
    await v1.register(embeddingsRoute, context);
    await v1.register(responsesRoute, { ...context, endpoint: responses, store });
    await v1.register(messagesRoute, { ...context, http: config.http });
    await v1.register(webSocketRoute, { ...context, ws: config.ws, origins, endpoints, tracing });
  });
  if (docs) await serveApiDocs(app, keys);
  return app;
}

function checkingInterval({ requestTimeoutMs, headersTimeoutMs }: GatewayConfig["http"]): number {
  const shortest = Math.min(...[requestTimeoutMs, headersTimeoutMs].filter((ms) => ms > 0), 30_000);
  return Math.max(100, Math.floor(shortest / 10));
}
