import type { FastifyInstance } from "fastify";
import type { Llama } from "node-llama-cpp";
import type { Logger } from "pino";
import type { GatewayConfig } from "../config/schema.js";
import { loadLlamaRuntime } from "../engine/llama-runtime.js";
import { LlamaEngine } from "../engine/llama-engine.js";
import { modelIdFromPath, resolveModelPath } from "../engine/model-file.js";
import { ModelRegistry } from "../router/model-registry.js";
import { buildApp } from "./app.js";

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
  const models = new ModelRegistry([], { loading: true });
  const app = await buildApp({ config, models, logger });
  let llama: Llama | undefined;
  app.addHook("onClose", async () => {
    await models.close();
    await llama?.dispose();
  });
  if (!app.access.keys.enabled && !isLoopback(config.server.host))
    logger.warn(`NO API KEYS are configured and the server listens on ${config.server.host}: anyone who can reach it can use it. Set API_KEYS (or auth.keys) to require keys.`);
  await app.listen({ host: config.server.host, port: config.server.port });
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : config.server.port;
  const host = config.server.host.includes(":") ? `[${config.server.host}]` : config.server.host;
  const url = `http://${host}:${port}/v1`;
  logger.info({ address: `${host}:${port}` }, "listening; loading models (/ready answers 503 until they are loaded)");

  try {
    llama = await loadLlamaRuntime(config.engine.gpu, logger);
    const entries = config.models.length > 0 ? config.models : [{ path: undefined, id: undefined }];
    for (const entry of entries) {
      const path = await resolveModelPath(entry.path, config.modelSearch);
      const id = entry.id ?? modelIdFromPath(path);
      const started = performance.now();
      const engine = await LlamaEngine.load({ llama, id, path, config });
      const loadSeconds = (performance.now() - started) / 1000;
      models.add(engine);
      app.ops.metrics.modelLoadSeconds.set({ model: id }, loadSeconds);
      const d = engine.description;
      logger.info(
        { model: d.id, path: d.path, gpu: d.gpu || "cpu", gpuLayers: d.gpuLayers, slots: d.slots, ctxSize: d.ctxSize, layout: d.layout, threads: d.threads, chatTemplate: d.chatTemplate, loadMs: Math.round(loadSeconds * 1000) },
        `loaded ${d.id}: ${d.slots} slots (${d.layout}), ${d.threads} thread(s) per context, backend ${d.gpu || "cpu"}, ${d.gpuLayers} layers offloaded`,
      );
    }
  } catch (error) {
    await app.close();
    throw error;
  }
  models.finishLoading();
  logger.info({ url, models: models.ids, uvThreadpool: Number(process.env.UV_THREADPOOL_SIZE) || 4 }, `serving ${models.ids.join(", ")} on ${url}`);

  return {
    app,
    models,
    url,
    close: () => app.close(),
    shutdown: async (graceMs) => {
      const inFlight = app.ops.lifecycle.inFlight;
      logger.info({ graceMs, inFlight }, "shutting down: refusing new requests, letting in-flight generations finish");
      const { finished, cancelled } = await app.ops.lifecycle.drain(graceMs);
      logger.info({ finished, cancelled }, "in-flight generations done; closing");
      await app.close();
    },
  };
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host.startsWith("127.");
}
