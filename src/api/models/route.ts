import type { FastifyPluginAsync } from "fastify";
import type { ModelEngine } from "../../engine/types.js";
import type { ApiContext } from "../context.js";
import { ManagedModel } from "../../router/managed-model.js";
import { samplingDefaults } from "../shared/sampling.js";

function modelObject(engine: ModelEngine) {
  const d = engine.description;
  const managed = engine instanceof ManagedModel ? { state: engine.state, aliases: engine.aliases, ...(engine.failure ? { failure: engine.failure } : {}) } : {};
  return {
    id: d.id,
    object: "model",
    created: d.created,
    owned_by: "llm-gateway",
    // Extension fields, ignored by OpenAI clients.
    meta: { ...managed, slots: d.slots, ctx_size: d.ctxSize, layout: d.layout, gpu: d.gpu, gpu_devices: d.gpuDevices, vram: d.vram, gpu_layers: d.gpuLayers, threads: d.threads, prompt_threads: d.promptThreads, worker_threads: d.workerThreads, chat_template: d.chatTemplate, sampling_defaults: samplingDefaults(d), pooling: d.pooling, ...(d.speculative ? { speculative: d.speculative } : {}) },
  };
}

export const modelsRoute: FastifyPluginAsync<ApiContext> = async (app, { models }) => {
  app.get("/v1/models", async () => ({ object: "list", data: models.all().map(modelObject) }));
  // A wildcard, because model ids may contain "/" (e.g. "org/name").
  app.get<{ Params: { "*": string } }>("/v1/models/*", async (request) => modelObject(models.resolve(request.params["*"])));
};
