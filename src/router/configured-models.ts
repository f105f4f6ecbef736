import type { Llama } from "node-llama-cpp";
import type { Logger } from "pino";
import type { EngineConfig, GatewayConfig, ModelEntryConfig } from "../config/schema.js";
import { IsolatedEngine } from "../engine/isolated/isolated-engine.js";
import { LlamaEngine } from "../engine/llama-engine.js";
import { loadLlamaRuntime } from "../engine/llama-runtime.js";
import { modelIdFromPath, resolveModelPath } from "../engine/model-file.js";
import type { ModelDescription, ModelEngine } from "../engine/types.js";
import { estimateModelMemory } from "../engine/memory-estimate.js";
import { ManagedModel } from "./managed-model.js";
import { UpstreamEngine } from "../upstream/upstream-engine.js";
import { ConfigError } from "../config/load.js";
import { ModelRegistry } from "./model-registry.js";

export interface ModelEvents {
  onLoaded(model: ManagedModel, engine: ModelEngine, seconds: number): void;
  onLoadFailed(model: ManagedModel, error: Error): void;
  onUnloaded(model: ManagedModel): void;
}

/** A model's engine settings: the engine section, with the model entry's own values on top. */
export function engineSettingsFor(engine: EngineConfig, entry: Partial<ModelEntryConfig>): EngineConfig {
  const own = Object.fromEntries(
    (["slots", "ctxSize", "threads", "gpu", "gpuLayers", "layout", "flashAttention", "kvCacheType", "chatTemplate", "reasoning", "thinking", "pooling", "speculative", "draftModel", "draftTokens", "streamInterval", "stop"] as const).filter((k) => entry[k] !== undefined).map((k) => [k, entry[k]]),
  );
  return { ...engine, ...own };
}

/**
 * The registry of every configured model (or the default one), none loaded yet. Each loads in its own
 * engine process (engine.isolation: process) or in this one (none), on demand or when `preload` asks.
 */
export async function configuredModels(config: GatewayConfig, logger: Logger, events: ModelEvents): Promise<{ registry: ModelRegistry; preload: ManagedModel[]; close(): Promise<void> }> {
  const entries: Partial<ModelEntryConfig>[] = config.models.length > 0 ? config.models : [{ path: await resolveModelPath(undefined, config.modelSearch) }];
  const registry = new ModelRegistry([], { loading: true, maxLoadedModels: config.router.maxLoadedModels, memoryBudgetBytes: config.router.memoryBudgetMiB * 1024 * 1024 });
  let runtime: Promise<Llama> | undefined; // shared by in-process engines
  const preload: ManagedModel[] = [];
  for (const entry of entries) {
    if ((entry.path === undefined) === (entry.upstreams === undefined)) throw new ConfigError(`models: '${entry.id ?? "?"}' needs either a path or upstreams (one of the two)`);
    if (entry.upstreams) {
      if (!entry.id) throw new ConfigError("models: an entry with upstreams needs an id");
      const engine = new UpstreamEngine(entry.id, entry.upstreams, config.upstream, logger, entry.routing ?? config.upstream.routing);
      const model: ManagedModel = new ManagedModel({
        id: entry.id, aliases: entry.aliases ?? [], planned: { ...engine.description, ...(entry.sampling ? { sampling: entry.sampling } : {}) },
        holdsMemory: false, keepAliveMs: -1, retryFailedLoadMs: 0, makeRoom: async () => {}, ...events, load: async () => engine,
      });
      registry.add(model, entry.aliases);
      preload.push(model);
      continue;
    }
    const reference = entry.path!;
    const id = entry.id ?? modelIdFromPath(reference);
    const engine = engineSettingsFor(config.engine, entry);
    const planned: ModelDescription = {
      id, path: reference, slots: engine.slots, ctxSize: engine.ctxSize, layout: engine.layout === "batched" ? "batched" : "per-slot",
      gpu: false, gpuLayers: 0, threads: engine.threads, chatTemplate: engine.chatTemplate, created: Math.floor(Date.now() / 1000),
      ...(entry.sampling ? { sampling: entry.sampling } : {}),
    };
    const model: ManagedModel = new ManagedModel({
      id,
      aliases: entry.aliases ?? [],
      planned,
      keepAliveMs: entry.keepAliveMs ?? config.router.keepAliveMs,
      retryFailedLoadMs: config.router.retryFailedLoadMs,
      makeRoom: (m) => registry.makeRoom(m),
      ...(reference.startsWith("hf:") ? {} : { estimateMemory: async () => estimateModelMemory(await resolveModelPath(reference, config.modelSearch), engine) }),
      ...events,
      load: async () => {
        const spec = { id, path: await resolveModelPath(reference, config.modelSearch), config: { engine, queue: config.queue, request: config.request } };
        if (engine.isolation === "process") return IsolatedEngine.start(spec, logger);
        runtime ??= loadLlamaRuntime(config.engine, logger); // one runtime in this process: the engine section's backend
        return LlamaEngine.load({ llama: await runtime, ...spec });
      },
    });
    registry.add(model, entry.aliases);
    if (entry.preload !== false) preload.push(model);
  }
  return {
    registry,
    preload,
    close: async () => {
      await registry.close();
      await (await runtime?.catch(() => undefined))?.dispose();
    },
  };
}
