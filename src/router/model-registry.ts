import { ApiError, modelNotFound } from "../errors.js";
import type { ModelEngine } from "../engine/types.js";
import { ConfigError } from "../config/load.js";
import type { ManagedModel } from "./managed-model.js";
import { toMiB } from "../engine/memory-estimate.js";

/**
 * Which engine serves a `model` name (an id or an alias). While the models loaded at start are still
 * loading, an unknown name gets 503 rather than 404. With `maxLoadedModels` or a memory budget, loading
 * one more model first unloads least recently used idle ones until it fits.
 */
export class ModelRegistry {
  private readonly byName = new Map<string, ModelEngine>();
  private readonly engines: ModelEngine[] = [];
  private stillLoading: boolean;
  private readonly maxLoadedModels: number;
  private readonly memoryBudget: number;

  constructor(engines: Iterable<ModelEngine> = [], { loading = false, maxLoadedModels = 0, memoryBudgetBytes = 0 } = {}) {
    for (const engine of engines) this.add(engine);
    this.stillLoading = loading;
    this.maxLoadedModels = maxLoadedModels;
    this.memoryBudget = memoryBudgetBytes;
  }

  add(engine: ModelEngine, aliases: string[] = []): void {
    for (const name of [engine.description.id, ...aliases]) {
      if (this.byName.has(name)) throw new ConfigError(`models: the name '${name}' is used twice`);
      this.byName.set(name, engine);
    }
    this.engines.push(engine);
  }

  finishLoading(): void {
    this.stillLoading = false;
  }

  get loading(): boolean {
    return this.stillLoading;
  }

  get ids(): string[] {
    return this.engines.map((engine) => engine.description.id);
  }

  all(): ModelEngine[] {
    return [...this.engines];
  }

  find(model: string): ModelEngine | undefined {
    return this.byName.get(model);
  }

  resolve(model: string): ModelEngine {
    const engine = this.byName.get(model);
    if (engine) return engine;
    if (this.stillLoading) throw new ApiError(503, "The server is still loading its models; try again shortly.", "server_error", "model_loading", "model", 1_000);
    throw modelNotFound(model, this.ids);
  }

  /** Before `model` loads: unloads least recently used idle models until it fits under maxLoadedModels and the memory budget. */
  async makeRoom(model: ManagedModel): Promise<void> {
    if (this.maxLoadedModels <= 0 && this.memoryBudget <= 0) return;
    const need = this.memoryBudget > 0 ? await model.memoryNeed() : 0;
    if (need > this.memoryBudget && this.memoryBudget > 0)
      throw new ApiError(503, `Model '${model.id}' needs about ${toMiB(need)} (weights, KV cache for its slots, compute buffers), more than router.memoryBudgetMiB (${toMiB(this.memoryBudget)}).`, "server_error", "model_too_large", "model");
    const managed = this.engines.filter((e): e is ManagedModel => "state" in e && e !== model && (e as ManagedModel).holdsMemory);
    const holding = () => managed.filter((m) => m.state === "loaded" || m.state === "loading");
    const used = async () => (await Promise.all(holding().map((m) => m.memoryNeed()))).reduce((sum, bytes) => sum + bytes, 0);
    for (;;) {
      const tooMany = this.maxLoadedModels > 0 && holding().length >= this.maxLoadedModels;
      const tooBig = this.memoryBudget > 0 && (await used()) + need > this.memoryBudget;
      if (!tooMany && !tooBig) return;
      const victim = managed.filter((m) => m.idle).sort((a, b) => a.lastUsed - b.lastUsed)[0];
      if (!victim) {
        const limit = tooMany ? `${this.maxLoadedModels} model(s) are loaded and busy (router.maxLoadedModels)` : `the loaded models are busy and it does not fit in router.memoryBudgetMiB (${toMiB(this.memoryBudget)})`;
        throw new ApiError(503, `Model '${model.id}' cannot be loaded now: ${limit}.`, "server_error", "model_capacity", "model", 2_000);
      }
      await victim.unload();
    }
  }

  /** Shutting down: engines that stop from now on stay stopped. */
  stopRestarts(): void {
    for (const engine of this.engines) engine.stopRestarts?.();
  }

  async close(): Promise<void> {
    await Promise.all(this.engines.map((engine) => engine.close()));
  }
}
