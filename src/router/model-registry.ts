import { modelNotFound } from "../errors.js";
import type { ModelEngine } from "../engine/types.js";

/** Which engine serves a `model` name. */
export class ModelRegistry {
  private readonly engines = new Map<string, ModelEngine>();

  constructor(engines: Iterable<ModelEngine>) {
    for (const engine of engines) this.engines.set(engine.description.id, engine);
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
    if (!engine) throw modelNotFound(model, this.ids);
    return engine;
  }

  async close(): Promise<void> {
    await Promise.all(this.all().map((engine) => engine.close()));
  }
}
