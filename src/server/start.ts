import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import type { GatewayConfig } from "../config/schema.js";
import { loadLlamaRuntime } from "../engine/llama-runtime.js";
import { LlamaEngine } from "../engine/llama-engine.js";
import { modelIdFromPath, resolveModelPath } from "../engine/model-file.js";
import type { ModelEngine } from "../engine/types.js";
import { ModelRegistry } from "../router/model-registry.js";
import { buildApp } from "./app.js";

export interface RunningGateway {
  app: FastifyInstance;
  models: ModelRegistry;
  url: string;
  close(): Promise<void>;
}

/** Loads every configured model (or the default one), then listens. */
export async function startGateway(config: GatewayConfig, logger: Logger): Promise<RunningGateway> {
  const llama = await loadLlamaRuntime(config.engine.gpu, logger);
  const entries = config.models.length > 0 ? config.models : [{ path: undefined, id: undefined }];
  const engines: ModelEngine[] = [];
  try {
    for (const entry of entries) {
      const path = await resolveModelPath(entry.path, config.modelSearch);
      const id = entry.id ?? modelIdFromPath(path);
      const started = Date.now();
      const engine = await LlamaEngine.load({ llama, id, path, config });
      engines.push(engine);
      const d = engine.description;
      logger.info(
        { model: d.id, path: d.path, gpu: d.gpu || "cpu", gpuLayers: d.gpuLayers, slots: d.slots, ctxSize: d.ctxSize, layout: d.layout, threads: d.threads, chatTemplate: d.chatTemplate, loadMs: Date.now() - started },
        `loaded ${d.id}: ${d.slots} slots (${d.layout}), ${d.threads} thread(s) per context, backend ${d.gpu || "cpu"}, ${d.gpuLayers} layers offloaded`,
      );
    }
  } catch (error) {
    await Promise.all(engines.map((engine) => engine.close()));
    await llama.dispose();
    throw error;
  }
  const models = new ModelRegistry(engines);
  const app = await buildApp({ config, models, logger });
  if (!app.access.keys.enabled && !isLoopback(config.server.host))
    logger.warn(`NO API KEYS are configured and the server listens on ${config.server.host}: anyone who can reach it can use it. Set API_KEYS (or auth.keys) to require keys.`);
  app.addHook("onClose", async () => {
    await models.close();
    await llama.dispose();
  });
  await app.listen({ host: config.server.host, port: config.server.port });
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : config.server.port;
  const host = config.server.host.includes(":") ? `[${config.server.host}]` : config.server.host;
  const url = `http://${host}:${port}/v1`;
  logger.info({ url, models: models.ids, uvThreadpool: Number(process.env.UV_THREADPOOL_SIZE) || 4 }, `serving ${models.ids.join(", ")} on ${url}`);
  return { app, models, url, close: () => app.close() };
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host.startsWith("127.");
}
