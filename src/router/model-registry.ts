import { ApiError, modelNotFound } from "../errors.js";
import type { ModelEngine } from "../engine/types.js";

/** Which engine serves a `model` name; while the configured models load, requests get 503, not 404. */
export class ModelRegistry {
  private readonly engines = new Map<string, ModelEngine>();
  private stillLoading: boolean;

  constructor(engines: Iterable<ModelEngine> = [], { loading = false } = {}) {
    for (const engine of engines) this.add(engine);
    this.stillLoading = loading;
  }

  add(engine: ModelEngine): void {
    this.engines.set(engine.description.id, engine);
  }

  finishLoading(): void {
    this.stillLoading = false;
  }

  get loading(): boolean {
    return this.stillLoading;
  }

  get ids(): string[] {
    return [...this.engines.keys()];
  }

  all(): ModelEngine[] {
    return [...this.engines.values()];
  }

  find(model: string): ModelEngine | undefined {
    return this.engines.get(model);
  }

  resolve(model: string): ModelEngine {
    const engine = this.engines.get(model);
    if (engine) return engine;
    if (this.stillLoading) throw new ApiError(503, "The server is still loading its models; try again shortly.", "server_error", "model_loading", "model", 1_000);
    throw modelNotFound(model, this.ids);
  }

  async close(): Promise<void> {
    await Promise.all(this.all().map((engine) => engine.close()));
  }
}
