import type { ApiKeys } from "../auth/api-keys.js";
import type { GatewayConfig } from "../config/schema.js";
import type { RateLimiter } from "../ratelimit/rate-limiter.js";
import type { ModelRegistry } from "../router/model-registry.js";
import type { GatewayMetrics } from "../observability/metrics.js";
import type { Lifecycle } from "./shared/lifecycle.js";

/** What every API route gets from the app: the models, the request limits from config, who may call and how much. */
export interface ApiContext {
  models: ModelRegistry;
  limits: Omit<GatewayConfig["request"], "timeoutMs"> & { sseKeepAliveMs: number };
  keys: ApiKeys;
  limiter: RateLimiter;
  metrics: GatewayMetrics;
  lifecycle: Lifecycle;
  /** log.content: keep prompt and completion text for the request log line. */
  logContent: boolean;
}
