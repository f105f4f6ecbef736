import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { ModelRegistry } from "../router/model-registry.js";

const PREFIX = "llm_gateway_";

/** Token latencies of local models span ~1 ms (tiny models) to seconds (big ones on CPU). */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

export type Transport = "http" | "sse" | "websocket";

/**
 * Every Prometheus metric of one gateway, in a registry of its own (so tests and several apps in one
 * process never share counters). README's "Metrics" section documents each.
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  readonly timeToFirstToken = new Histogram({ name: `${PREFIX}time_to_first_token_seconds`, help: "From request received to first generated text, per model", labelNames: ["model"], buckets: LATENCY_BUCKETS.concat([60]), registers: [this.registry] });
  readonly interTokenLatency = new Histogram({ name: `${PREFIX}inter_token_latency_seconds`, help: "Gap between consecutive generated text chunks, per model", labelNames: ["model"], buckets: LATENCY_BUCKETS, registers: [this.registry] });
  readonly requestDuration = new Histogram({ name: `${PREFIX}request_duration_seconds`, help: "End-to-end duration of generation requests, per model", labelNames: ["model"], buckets: DURATION_BUCKETS, registers: [this.registry] });
  readonly promptTokens = new Counter({ name: `${PREFIX}prompt_tokens_total`, help: "Prompt tokens, by whether they were evaluated or reused from a slot's cache", labelNames: ["model", "source"], registers: [this.registry] });
  readonly generatedTokens = new Counter({ name: `${PREFIX}generated_tokens_total`, help: "Generated (completion) tokens", labelNames: ["model"], registers: [this.registry] });
  readonly draftTokens = new Counter({ name: `${PREFIX}speculative_tokens_total`, help: "Speculative decoding: drafted tokens the model accepted or rejected", labelNames: ["model", "outcome"], registers: [this.registry] });
  readonly requests = new Counter({ name: `${PREFIX}requests_total`, help: "Generation requests by HTTP status (the status an error carries, over WebSocket) and finish reason", labelNames: ["model", "transport", "status", "finish_reason"], registers: [this.registry] });
  readonly rateLimitRejections = new Counter({ name: `${PREFIX}rate_limit_rejections_total`, help: "Requests refused with 429, by what ran out", labelNames: ["limit"], registers: [this.registry] });
  readonly activeStreams = new Gauge({ name: `${PREFIX}active_streams`, help: "Streamed generations in flight, by transport", labelNames: ["transport"], registers: [this.registry] });
  readonly queueWait = new Histogram({ name: `${PREFIX}queue_wait_seconds`, help: "Time a generation waited for a slot, by model and API key name", labelNames: ["model", "key"], buckets: DURATION_BUCKETS, registers: [this.registry] });
  readonly unhandledErrors = new Counter({ name: `${PREFIX}unhandled_errors_total`, help: "Errors that escaped every handler (logged; the process keeps serving), by kind", labelNames: ["kind"], registers: [this.registry] });
  readonly modelLoadSeconds = new Gauge({ name: `${PREFIX}model_load_seconds`, help: "How long loading each model took", labelNames: ["model"], registers: [this.registry] });

  constructor(models: ModelRegistry, limiterState: () => string) {
    collectDefaultMetrics({ register: this.registry, prefix: PREFIX });
    const perModel = (name: string, help: string, read: (stats: ReturnType<ModelRegistry["all"]>[number]) => number) =>
      new Gauge({
        name: `${PREFIX}${name}`,
        help,
        labelNames: ["model"],
        registers: [this.registry],
        collect() {
          this.reset();
          for (const engine of models.all()) this.set({ model: engine.description.id }, read(engine));
        },
      });
    perModel("queue_depth", "Requests waiting for a slot", (engine) => engine.stats().queuedRequests);
    perModel("slots_busy", "Slots generating now", (engine) => engine.stats().slotsBusy);
    perModel("slots_total", "Slots (parallel sequences) per model", (engine) => engine.stats().slotsTotal);
    new Gauge({
      name: `${PREFIX}queued_requests`,
      help: "Requests waiting for a slot, by model and API key name",
      labelNames: ["model", "key"],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const engine of models.all()) for (const [key, count] of Object.entries(engine.stats().queuedByKey ?? {})) this.set({ model: engine.description.id, key }, count);
      },
    });
    new Counter({
      name: `${PREFIX}upstream_retries_total`,
      help: "Requests to an upstream sent again on a fresh connection after a pooled keep-alive connection closed before any response byte",
      labelNames: ["model"],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const engine of models.all()) {
          const retries = engine.stats().upstream?.retries;
          if (retries !== undefined) this.inc({ model: engine.description.id }, retries);
        }
      },
    });
    new Counter({
      name: `${PREFIX}upstream_prompt_tokens_total`,
      help: "Prompt tokens of requests served by upstream replicas, as they reported them: cached (a prefix hit in the replica's KV cache) or evaluated",
      labelNames: ["model", "source"],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const engine of models.all()) {
          const upstream = engine.stats().upstream;
          if (!upstream) continue;
          this.inc({ model: engine.description.id, source: "cached" }, upstream.cachedTokens);
          this.inc({ model: engine.description.id, source: "evaluated" }, upstream.promptTokens - upstream.cachedTokens);
        }
      },
    });
    new Gauge({
      name: `${PREFIX}upstream_in_flight`,
      help: "Requests in flight to each upstream replica (DNS-discovered replicas appear and go as they scale)",
      labelNames: ["model", "upstream", "healthy"],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const engine of models.all())
          for (const replica of engine.stats().upstream?.replicas ?? []) this.set({ model: engine.description.id, upstream: replica.url, healthy: String(replica.healthy) }, replica.outstanding);
      },
    });
    new Gauge({
      name: `${PREFIX}rate_limiter_state`,
      help: "1 for the limiter's current state: memory (no Redis configured), redis, fallback (Redis failed, in-memory limits) or unavailable (Redis failed, 503)",
      labelNames: ["state"],
      registers: [this.registry],
      collect() {
        const current = limiterState();
        for (const state of ["memory", "redis", "fallback", "unavailable"]) this.set({ state }, state === current ? 1 : 0);
      },
    });
  }
}
