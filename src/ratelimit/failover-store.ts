import type { FastifyBaseLogger } from "fastify";
import { BrokenCircuitError, circuitBreaker, ConsecutiveBreaker, handleAll, type CircuitBreakerPolicy } from "cockatiel";
import { ApiError } from "../errors.js";
import type { AcquireResult, BucketAdjustment, BucketCharge, BucketStore, LeaseRequest } from "./bucket-store.js";
import type { MemoryBucketStore } from "./memory-store.js";
import type { RedisBucketStore } from "./redis-store.js";

export type LimiterState = "redis" | "fallback" | "unavailable";

export interface BreakerSettings {
  /** Consecutive Redis failures (errors or timeouts) that open the breaker. */
  failures: number;
  /** While open, Redis is probed this often; a probe that answers closes the breaker. */
  probeIntervalMs: number;
  /** How often this instance tells Redis it is alive (for the fallback's share of the budget). */
  heartbeatMs: number;
}

/**
 * Redis first; a call that fails goes to the in-memory store when failing open, or becomes a 503 when
 * failing closed. A Redis that stalls (a fork for a snapshot, a failover, a network blip) makes every call
 * wait its timeout, so a circuit breaker (cockatiel's) stops calling it after a few consecutive failures:
 * requests are then served by the fallback at once, a probe in the background tries Redis every
 * `probeIntervalMs`, and the first probe that answers makes the limits shared again. While on the
 * fallback, each instance enforces its share of every budget: the budget divided by the instances that
 * were recently alive in Redis. Each change of state is logged once.
 */
export class FailoverBucketStore implements BucketStore {
  readonly kind = "redis";
  private current: LimiterState = "redis";
  private readonly breaker: CircuitBreakerPolicy;
  private probeTimer?: NodeJS.Timeout;
  private readonly heartbeat: NodeJS.Timeout;
  private instances = 1;
  private closed = false;

  constructor(
    private readonly redis: RedisBucketStore,
    private readonly fallback: MemoryBucketStore | null,
    private readonly log: FastifyBaseLogger,
    private readonly settings: BreakerSettings,
  ) {
    this.breaker = circuitBreaker(handleAll, { halfOpenAfter: settings.probeIntervalMs, breaker: new ConsecutiveBreaker(settings.failures) });
    this.breaker.onBreak(() => {
      this.log.warn({ failures: settings.failures, probeIntervalMs: settings.probeIntervalMs }, "rate limiter: Redis keeps failing; not calling it until a probe answers");
      this.scheduleProbe();
    });
    this.breaker.onReset(() => this.log.info("rate limiter: a probe reached Redis; calling it again"));
    this.heartbeat = setInterval(() => void this.beat(), settings.heartbeatMs);
    this.heartbeat.unref();
    void this.beat();
  }

  get state(): LimiterState {
    return this.current;
  }

  async acquire(charges: readonly BucketCharge[], lease?: LeaseRequest): Promise<AcquireResult> {
    try {
      const result = await this.breaker.execute(() => this.redis.acquire(charges, lease));
      this.enter("redis");
      return result;
    } catch (error) {
      if (!this.fallback) {
        this.enter("unavailable", error);
        throw new ApiError(503, "The rate limiter is unavailable; try again shortly.", "server_error", "rate_limiter_unavailable", null, 1_000);
      }
      this.enter("fallback", error);
      return this.fallback.acquire(...this.share(charges, lease));
    }
  }

  /** Settlements go to whichever store admitted the request (see AcquireResult.store), not here. */
  async adjust(adjustments: readonly BucketAdjustment[], release?: { key: string; id: string }): Promise<void> {
    await this.redis.adjust(adjustments, release);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.probeTimer);
    clearInterval(this.heartbeat);
    await this.redis.close();
  }

  /** This instance's share of each budget while Redis cannot share them. */
  private share(charges: readonly BucketCharge[], lease?: LeaseRequest): [BucketCharge[], LeaseRequest | undefined] {
    const n = this.instances;
    if (n <= 1) return [[...charges], lease];
    return [charges.map((c) => ({ ...c, capacity: c.capacity / n })), lease && { ...lease, limit: Math.max(1, Math.floor(lease.limit / n)) }];
  }

  private scheduleProbe(): void {
    clearTimeout(this.probeTimer);
    if (this.closed) return;
    // A little after halfOpenAfter, so that the probe, not a client's request, is the breaker's test call.
    this.probeTimer = setTimeout(() => void this.probe(), this.settings.probeIntervalMs + 5);
    this.probeTimer.unref();
  }

  private async probe(): Promise<void> {
    try {
      await this.breaker.execute(() => this.redis.ping());
      this.enter("redis");
    } catch (error) {
      if (error instanceof BrokenCircuitError) this.scheduleProbe(); // not half-open yet; a failed probe re-opens it and onBreak schedules the next
    }
  }

  private async beat(): Promise<void> {
    if (this.current !== "redis" || this.closed) return;
    this.instances = await this.redis.heartbeat(this.settings.heartbeatMs * 3).catch(() => this.instances);
  }

  private enter(state: LimiterState, error?: unknown): void {
    if (state === this.current) return;
    this.current = state;
    const reason = error instanceof BrokenCircuitError ? "breaker open" : (error as Error | undefined)?.message;
    if (state === "redis") this.log.info("rate limiter: Redis is back; limits are shared again");
    else if (state === "fallback") this.log.warn({ err: reason, instances: this.instances }, "rate limiter: Redis failed; using per-instance in-memory limits (failOpen), each a share of the budget");
    else this.log.error({ err: reason }, "rate limiter: Redis failed; rejecting requests with 503 (failOpen: false)");
  }
}
