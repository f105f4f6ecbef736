import type { ModelRegistry } from "../router/model-registry.js";

/** What every API route gets from the app: the models and the request limits from config. */
export interface ApiContext {
  models: ModelRegistry;
  limits: { maxTokens: number; sseKeepAliveMs: number };
}
