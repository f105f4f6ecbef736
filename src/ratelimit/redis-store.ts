import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { LEASE_RETRY_MS, WINDOW_MS, type AcquireResult, type BucketAdjustment, type BucketCharge, type BucketStore, type LeaseRequest } from "./bucket-store.js";

// One script does everything, atomically and on Redis's clock (so instances with skewed clocks still
// share one budget): apply settlements sent along, release leases, then check and charge a request.
// KEYS: charged buckets (n), adjusted buckets (m), the lease set (0 or 1), released lease sets (r).
// ARGV: n, m, leases, r, window, capacity/cost pairs, capacity/delta pairs, limit/id/ttl of the lease, released ids.
const LIMITER_SCRIPT = `
local n, m, leases, r, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local function level_of(key, capacity)
  local state = redis.call('HMGET', key, 'l', 't')
  if not state[1] then return capacity end
  return math.min(capacity, tonumber(state[1]) + (now - tonumber(state[2])) * capacity / window)
end
local function store(key, level, capacity)
  if level >= capacity then redis.call('DEL', key) return end
  redis.call('HSET', key, 'l', tostring(level), 't', now)
  redis.call('PEXPIRE', key, math.ceil((capacity - level) * window / capacity) + 1000)
end
local a = 6 + 2 * n
for j = 1, m do
  local capacity, delta = tonumber(ARGV[a + 2 * j - 2]), tonumber(ARGV[a + 2 * j - 1])
  store(KEYS[n + j], math.min(capacity, level_of(KEYS[n + j], capacity) + delta), capacity)
end
local l = a + 2 * m
local ids = l + 3 * leases
for j = 1, r do redis.call('ZREM', KEYS[n + m + leases + j], ARGV[ids + j - 1]) end

local levels, denied, retry = {}, 0, 0
for i = 1, n do
  local capacity, cost = tonumber(ARGV[4 + 2 * i]), tonumber(ARGV[5 + 2 * i])
  levels[i] = level_of(KEYS[i], capacity)
  if denied == 0 and levels[i] < cost then
    denied = i
    retry = math.ceil((cost - levels[i]) * window / capacity)
  end
end
local lease = KEYS[n + m + 1]
if denied == 0 and leases == 1 then
  redis.call('ZREMRANGEBYSCORE', lease, '-inf', now)
  if redis.call('ZCARD', lease) >= tonumber(ARGV[l]) then denied = -1 end
end
if denied == 0 then
  for i = 1, n do
    levels[i] = levels[i] - tonumber(ARGV[5 + 2 * i])
    store(KEYS[i], levels[i], tonumber(ARGV[4 + 2 * i]))
  end
  if leases == 1 then
    local ttl = tonumber(ARGV[l + 2])
    redis.call('ZADD', lease, now + ttl, ARGV[l + 1])
    redis.call('PEXPIRE', lease, ttl)
  end
end
local reply = { denied, retry }
for i = 1, n do reply[i + 2] = tostring(levels[i]) end
return reply
`;

interface ScriptCommands {
  limiter(keyCount: number, ...args: (string | number)[]): Promise<[number, number, ...string[]]>;
}

/** Instances alive recently: a sorted set of instance ids scored by their last heartbeat. */
const INSTANCES_KEY = "instances";

/** Settlements not yet sent: they ride along with the next admission, or go on their own shortly. */
const SETTLEMENT_DELAY_MS = 20;

export interface RedisStoreOptions {
  url: string;
  keyPrefix: string;
  commandTimeoutMs: number;
  onConnectionError?(error: Error): void;
}

/**
 * Buckets in Redis, shared by every gateway instance on it. Commands fail at once while disconnected
 * (no offline queue) and after `commandTimeoutMs` on a stuck server, so no request waits on a dead
 * Redis; ioredis reconnects by itself. A settlement is held for up to SETTLEMENT_DELAY_MS and sent with
 * the next admission: under load each request then costs one round trip, not two (measured in
 * bench/limiter.ts; on a busy host every write to the socket counts).
 */
export class RedisBucketStore implements BucketStore {
  readonly kind = "redis";
  private readonly redis: Redis & ScriptCommands;
  private pendingAdjustments = new Map<string, BucketAdjustment>();
  private pendingReleases: { key: string; id: string }[] = [];
  private flushTimer?: NodeJS.Timeout;
  private readonly instanceId = randomUUID();

  constructor(options: RedisStoreOptions) {
    this.redis = new Redis(options.url, {
      keyPrefix: options.keyPrefix,
      commandTimeout: options.commandTimeoutMs,
      connectTimeout: Math.max(1_000, options.commandTimeoutMs * 4),
      enableOfflineQueue: false,
      // Concurrent admissions share one socket write: measured to cut the gateway's CPU per limited request by a third.
      enableAutoPipelining: true,
      maxRetriesPerRequest: 0,
      retryStrategy: (attempt) => Math.min(100 * attempt, 2_000),
    }) as Redis & ScriptCommands;
    this.redis.on("error", (error) => options.onConnectionError?.(error));
    this.redis.defineCommand("limiter", { lua: LIMITER_SCRIPT });
  }

  get isConnected(): boolean {
    return this.redis.status === "ready";
  }

  /** Resolves once connected, or after `ms` whatever the state (the limiter copes with either). */
  async connected(ms: number): Promise<boolean> {
    if (this.redis.status === "ready") return true;
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(false), ms);
      const onReady = () => done(true);
      const done = (ready: boolean) => {
        clearTimeout(timer);
        this.redis.off("ready", onReady);
        resolve(ready);
      };
      this.redis.once("ready", onReady);
    });
  }

  async acquire(charges: readonly BucketCharge[], lease?: LeaseRequest): Promise<AcquireResult> {
    const [denied, retry, ...levelTexts] = await this.run(charges, lease);
    const levels = charges.map((c, i) => ({ level: Number(levelTexts[i]), capacity: c.capacity }));
    if (denied === 0) return { allowed: true, levels, store: this };
    return denied === -1
      ? { allowed: false, levels, deniedBy: -1, retryAfterMs: LEASE_RETRY_MS, store: this }
      : { allowed: false, levels, deniedBy: denied - 1, retryAfterMs: retry, store: this };
  }

  async adjust(adjustments: readonly BucketAdjustment[], release?: { key: string; id: string }): Promise<void> {
    for (const a of adjustments) {
      const pending = this.pendingAdjustments.get(a.key);
      this.pendingAdjustments.set(a.key, { ...a, delta: a.delta + (pending?.delta ?? 0) });
    }
    if (release) this.pendingReleases.push(release);
    this.flushTimer ??= setTimeout(() => void this.run([]).catch(() => {}), SETTLEMENT_DELAY_MS);
  }

  /** One script call: the pending settlements, then the charges (if any). Settlements lost to an error stay lost: their estimates stand. */
  private run(charges: readonly BucketCharge[], lease?: LeaseRequest): Promise<[number, number, ...string[]]> {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const adjustments = [...this.pendingAdjustments.values()];
    const releases = this.pendingReleases;
    this.pendingAdjustments = new Map();
    this.pendingReleases = [];
    const keys = [...charges.map((c) => c.key), ...adjustments.map((a) => a.key), ...(lease ? [lease.key] : []), ...releases.map((r) => r.key)];
    const args = [
      charges.length, adjustments.length, lease ? 1 : 0, releases.length, WINDOW_MS,
      ...charges.flatMap((c) => [c.capacity, c.cost]),
      ...adjustments.flatMap((a) => [a.capacity, a.delta]),
      ...(lease ? [lease.limit, lease.id, lease.ttlMs] : []),
      ...releases.map((r) => r.id),
    ];
    return this.redis.limiter(keys.length, ...keys, ...args);
  }

  /** A round trip (the breaker's probe). */
  async ping(): Promise<void> {
    await this.redis.ping();
  }

  /**
   * Marks this instance alive and returns how many instances were alive within `windowMs` (at least 1), so
   * that each can enforce its share of the budgets when Redis is away.
   */
  async heartbeat(windowMs: number): Promise<number> {
    const now = Date.now();
    const replies = await this.redis.multi().zadd(INSTANCES_KEY, now, this.instanceId).zremrangebyscore(INSTANCES_KEY, "-inf", now - windowMs).zcard(INSTANCES_KEY).pexpire(INSTANCES_KEY, windowMs).exec();
    return Math.max(1, Number(replies?.[2]?.[1] ?? 1));
  }

  async close(): Promise<void> {
    if (this.flushTimer) await this.run([]).catch(() => {});
    this.redis.disconnect();
  }
}
