import type { FastifyBaseLogger } from "fastify";
import type { GatewayConfig } from "../config/schema.js";
import type { BucketStore } from "./bucket-store.js";
import { FailoverBucketStore, type LimiterState } from "./failover-store.js";
import { MemoryBucketStore } from "./memory-store.js";
import { RateLimiter } from "./rate-limiter.js";
import { RedisBucketStore } from "./redis-store.js";

export interface LimiterSetup {
  limiter: RateLimiter;
  /** "memory" without Redis; with Redis, whether it is in use, replaced by memory, or failing requests. */
  state(): LimiterState | "memory";
  /** Waits (up to `ms`) for the first Redis connection, so a fresh instance starts on the shared budget. */
  ready(ms: number): Promise<void>;
  close(): Promise<void>;
}

/** Redis when configured (with the in-memory store as fallback when failing open), else in-memory. */
export function createLimiter(config: Pick<GatewayConfig, "rateLimit" | "request" | "queue">, log: FastifyBaseLogger): LimiterSetup {
  const { redis, failOpen, models } = config.rateLimit;
  const leaseTtlMs = config.request.timeoutMs + config.queue.timeoutMs + 5_000;
  let store: BucketStore;
  let redisStore: RedisBucketStore | undefined;
  let failover: FailoverBucketStore | undefined;
  if (redis.url) {
    redisStore = new RedisBucketStore({
      url: redis.url,
      keyPrefix: redis.keyPrefix,
      commandTimeoutMs: redis.commandTimeoutMs,
      onConnectionError: (error) => log.debug({ err: error.message }, "rate limiter: Redis connection error"),
    });
    store = failover = new FailoverBucketStore(redisStore, failOpen ? new MemoryBucketStore() : null, log, redis.breaker);
  } else {
    store = new MemoryBucketStore();
  }
  return {
    limiter: new RateLimiter(store, models, leaseTtlMs, log),
    // A Redis that is not connected counts as failed even before a request finds out.
    state: () => (!failover ? "memory" : redisStore!.isConnected ? failover.state : failOpen ? "fallback" : "unavailable"),
    ready: async (ms) => {
      if (redisStore && !(await redisStore.connected(ms))) log.warn(`rate limiter: Redis is not reachable yet; ${failOpen ? "using in-memory limits until it is" : "requests get 503 until it is"}`);
    },
    close: () => store.close(),
  };
}
