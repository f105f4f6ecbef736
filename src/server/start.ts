import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import type { GatewayConfig } from "../config/schema.js";
import type { GatewayMetrics } from "../observability/metrics.js";
import { currentThreadpool } from "../engine/worker-pool.js";
import { configuredModels } from "../router/configured-models.js";
import type { ModelRegistry } from "../router/model-registry.js";
import { buildApp } from "./app.js";
import { isLoopback } from "../auth/host-policy.js";
import { guardProcess } from "./process-guard.js";
import { reportInternalErrorsTo } from "../errors.js";

export interface RunningGateway {
  app: FastifyInstance;
  models: ModelRegistry;
  url: string;
  /** Graceful stop: refuse new work, let in-flight generations finish for `graceMs`, cancel the rest, close. */
  shutdown(graceMs: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * Listens first (so /health answers and /ready says "loading models" while they load), then loads
 * every configured model (or the default one); resolves once all are serving.
 */
export async function startGateway(config: GatewayConfig, logger: Logger): Promise<RunningGateway> {
  let metrics: GatewayMetrics | undefined;
  const configured = await configuredModels(config, logger, {
    onLoaded: (model, engine, seconds) => {
      metrics?.modelLoadSeconds.set({ model: model.id }, seconds);
      const d = engine.description;
      if (!model.holdsMemory) return void logger.info({ model: d.id, upstreams: d.path }, `serving ${d.id} through its upstreams: ${d.path}`);
      logger.info(
        { model: d.id, path: d.path, gpu: d.gpu || "cpu", gpuDevices: d.gpuDevices, vram: d.vram, gpuLayers: d.gpuLayers, slots: d.slots, ctxSize: d.ctxSize, layout: d.layout, threads: d.threads, workerThreads: d.workerThreads, chatTemplate: d.chatTemplate, isolation: config.engine.isolation, loadMs: Math.round(seconds * 1000) },
        `loaded ${d.id}: ${d.slots} slots (${d.layout}), ${d.threads} thread(s) per context, backend ${d.gpu || "cpu"}, ${d.gpuLayers} layers offloaded`,
      );
    },
    onLoadFailed: (model, error) => logger.error({ model: model.id, err: error.message }, `could not load ${model.id}; the other models keep serving`),
    onUnloaded: (model) => logger.info({ model: model.id }, `unloaded ${model.id} (idle, or making room for another model)`),
  });
  const models = configured.registry;
  const app = await buildApp({ config, models, logger });
  metrics = app.ops.metrics;
  const unguard = guardProcess((kind, error) => {
    logger.error({ kind, err: error }, `an error escaped every handler (${kind}); the gateway keeps serving`);
    app.ops.metrics.unhandledErrors.inc({ kind });
  });
  reportInternalErrorsTo((error) => logger.error({ err: error }, "engine operation failed"));
  app.addHook("onClose", async () => {
    unguard();
    await configured.close();
  });
  if (!app.access.keys.enabled && !isLoopback(config.server.host))
    logger.warn(`NO API KEYS are configured and the server listens on ${config.server.host}: anyone who can reach it can use it. Set API_KEYS (or auth.keys) to require keys.`);
  await app.listen({ host: config.server.host, port: config.server.port });
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : config.server.port;
  const host = config.server.host.includes(":") ? `[${config.server.host}]` : config.server.host;
  const url = `http://${host}:${port}/v1`;
  logger.info({ address: `${host}:${port}` }, "listening; loading models (/ready answers 503 until they are loaded)");

  for (const model of configured.preload) await model.ensureLoaded().catch(() => {}); // a broken model is logged and reported, not fatal
  models.finishLoading();
  const serving = configured.preload.filter((m) => m.state === "loaded").map((m) => m.id);
  if (configured.preload.length > 0 && serving.length === 0) {
    await app.close();
    throw new Error(`no model could be loaded: ${configured.preload.map((m) => `${m.id}: ${m.failure}`).join("; ")}`);
  }
  logger.info({ url, models: models.ids, uvThreadpool: currentThreadpool() }, `serving ${models.ids.join(", ")} on ${url}`);

  return {
    app,
    models,
    url,
    close: () => app.close(),
    shutdown: async (graceMs) => {
      const inFlight = app.ops.lifecycle.inFlight;
      logger.info({ graceMs, inFlight }, "shutting down: refusing new requests, letting in-flight generations finish");
      models.stopRestarts();
      const { finished, cancelled } = await app.ops.lifecycle.drain(graceMs);
      logger.info({ finished, cancelled }, "in-flight generations done; closing");
      await app.close();
    },
  };
}
