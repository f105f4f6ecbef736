import type { FastifyBaseLogger } from "fastify";
import { ApiError } from "../errors.js";
import type { AcquireResult, BucketAdjustment, BucketCharge, BucketStore, LeaseRequest } from "./bucket-store.js";
import type { MemoryBucketStore } from "./memory-store.js";
import type { RedisBucketStore } from "./redis-store.js";

export type LimiterState = "redis" | "fallback" | "unavailable";

/**
 * Redis first, always: a call that fails (disconnected, timed out) goes to the in-memory store when
 * failing open, or becomes a 503 when failing closed. The next call tries Redis again, so the
 * limiter is back on Redis as soon as ioredis has reconnected. Each change of state is logged once.
 */
export class FailoverBucketStore implements BucketStore {
  readonly kind = "redis";
  private current: LimiterState = "redis";

  constructor(
    private readonly redis: RedisBucketStore,
    private readonly fallback: MemoryBucketStore | null,
    private readonly log: FastifyBaseLogger,
  ) {}

  get state(): LimiterState {
    return this.current;
  }

  async acquire(charges: readonly BucketCharge[], lease?: LeaseRequest): Promise<AcquireResult> {
    try {
      const result = await this.redis.acquire(charges, lease);
      this.enter("redis");
      return result;
    } catch (error) {
      if (!this.fallback) {
        this.enter("unavailable", error);
        throw new ApiError(503, "The rate limiter is unavailable; try again shortly.", "server_error", "rate_limiter_unavailable", null, 1_000);
      }
      this.enter("fallback", error);
      return this.fallback.acquire(charges, lease);
    }
  }

  /** Settlements go to whichever store admitted the request (see AcquireResult.store), not here. */
  async adjust(adjustments: readonly BucketAdjustment[], release?: { key: string; id: string }): Promise<void> {
    await this.redis.adjust(adjustments, release);
  }

  async close(): Promise<void> {
    await this.redis.close();
  }

  private enter(state: LimiterState, error?: unknown): void {
    if (state === this.current) return;
    this.current = state;
    if (state === "redis") this.log.info("rate limiter: Redis is back; limits are shared again");
    else if (state === "fallback") this.log.warn({ err: (error as Error)?.message }, "rate limiter: Redis failed; using per-instance in-memory limits (failOpen)");
    else this.log.error({ err: (error as Error)?.message }, "rate limiter: Redis failed; rejecting requests with 503 (failOpen: false)");
  }
}
