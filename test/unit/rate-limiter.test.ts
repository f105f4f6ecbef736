import { randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import pino from "pino";
import type { Identity } from "../../src/auth/api-keys.js";
import type { BucketStore } from "../../src/ratelimit/bucket-store.js";
import { MemoryBucketStore } from "../../src/ratelimit/memory-store.js";
import { RedisBucketStore } from "../../src/ratelimit/redis-store.js";
import { RateLimiter } from "../../src/ratelimit/rate-limiter.js";
import { formatResetDuration } from "../../src/ratelimit/openai-headers.js";
import { ApiError } from "../../src/errors.js";
import { REDIS_URL } from "../helpers/redis.js";

const log = pino({ level: "silent" });
const identity = (limits: Partial<Identity["limits"]>): Identity => ({ name: `k${randomUUID().slice(0, 8)}`, limits: { rpm: 0, tpm: 0, maxConcurrent: 0, ...limits }, weight: 1 });

async function rejection(promise: Promise<unknown>): Promise<ApiError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(ApiError);
  return error as ApiError;
}

const redisStore = new RedisBucketStore({ url: REDIS_URL, keyPrefix: `test:${randomUUID()}:`, commandTimeoutMs: 1_000 });
afterAll(() => redisStore.close());

const stores: [string, () => BucketStore][] = [
  ["memory", () => new MemoryBucketStore()],
  ["redis", () => redisStore],
];

describe.each(stores)("rate limiter on the %s store", (_, store) => {
  const limiter = () => new RateLimiter(store(), {}, 60_000, log);

  it("admits exactly rpm requests, then answers 429 with the wait until one more fits", async () => {
    const rl = limiter();
    const caller = identity({ rpm: 3 });
    const remaining: string[] = [];
    for (let i = 0; i < 3; i++) remaining.push((await rl.admit({ identity: caller, model: "m", estimatedTokens: 10 })).headers["x-ratelimit-remaining-requests"]!);
    expect(remaining).toEqual(["2", "1", "0"]);
    const error = await rejection(rl.admit({ identity: caller, model: "m", estimatedTokens: 10 }));
    expect(error).toMatchObject({ status: 429, code: "rate_limit_exceeded", type: "requests" });
    // One request refills every 20 s; a few ms have passed since the bucket emptied.
    expect(error.retryAfterMs).toBeGreaterThan(19_000);
    expect(error.retryAfterMs).toBeLessThanOrEqual(20_000);
    expect(error.headers).toMatchObject({ "x-ratelimit-limit-requests": "3", "x-ratelimit-remaining-requests": "0" });
  });

  it("charges the estimate up front and settles to the real count", async () => {
    const rl = limiter();
    const caller = identity({ tpm: 1_000 });
    const first = await rl.admit({ identity: caller, model: "m", estimatedTokens: 400 });
    expect(first.headers["x-ratelimit-remaining-tokens"]).toBe("600");
    first.settle(100); // a short answer gives 300 back
    first.settle(50); // only the first settlement counts
    await new Promise((r) => setTimeout(r, 50));
    const second = await rl.admit({ identity: caller, model: "m", estimatedTokens: 400 });
    expect(Number(second.headers["x-ratelimit-remaining-tokens"])).toBeGreaterThanOrEqual(500);
    expect(Number(second.headers["x-ratelimit-remaining-tokens"])).toBeLessThan(505); // plus what refilled meanwhile
    second.settle(1_000); // a long answer is charged in full: the bucket goes below zero
    await new Promise((r) => setTimeout(r, 50));
    const error = await rejection(rl.admit({ identity: caller, model: "m", estimatedTokens: 10 }));
    expect(error.type).toBe("tokens");
    expect(error.headers["x-ratelimit-remaining-tokens"]).toBe("0");
  });

  it("charges all buckets or none", async () => {
    const rl = limiter();
    const caller = identity({ rpm: 10, tpm: 100 });
    await rl.admit({ identity: caller, model: "m", estimatedTokens: 90 });
    await rejection(rl.admit({ identity: caller, model: "m", estimatedTokens: 50 })); // tokens do not fit
    const next = await rl.admit({ identity: caller, model: "m", estimatedTokens: 5 });
    expect(next.headers["x-ratelimit-remaining-requests"]).toBe("8"); // the rejected request took no request
  });

  it("rejects a request larger than the whole token budget without retry", async () => {
    const error = await rejection(limiter().admit({ identity: identity({ tpm: 100 }), model: "m", estimatedTokens: 101 }));
    expect(error.status).toBe(429);
    expect(error.headers["x-should-retry"]).toBe("false");
  });

  it("limits generations in flight per key, and frees a place on settlement", async () => {
    const rl = limiter();
    const caller = identity({ maxConcurrent: 2 });
    const a = await rl.admit({ identity: caller, model: "m", estimatedTokens: 1 });
    await rl.admit({ identity: caller, model: "m", estimatedTokens: 1 });
    expect((await rejection(rl.admit({ identity: caller, model: "m", estimatedTokens: 1 }))).retryAfterMs).toBe(1_000);
    a.settle(1);
    await new Promise((r) => setTimeout(r, 50));
    await expect(rl.admit({ identity: caller, model: "m", estimatedTokens: 1 })).resolves.toBeDefined();
  });

  it("applies a model's limits to every key together", async () => {
    const model = `model-${randomUUID()}`;
    const rl = new RateLimiter(store(), { [model]: { rpm: 2 } }, 60_000, log);
    await rl.admit({ identity: identity({}), model, estimatedTokens: 1 });
    await rl.admit({ identity: identity({}), model, estimatedTokens: 1 });
    expect((await rejection(rl.admit({ identity: identity({}), model, estimatedTokens: 1 }))).message).toMatch(/model '.*' requests per minute/);
    await expect(rl.admit({ identity: identity({}), model: "other", estimatedTokens: 1 })).resolves.toBeDefined();
  });
});

describe("OpenAI reset durations", () => {
  it("formats like the API does", () => {
    expect(formatResetDuration(120)).toBe("120ms");
    expect(formatResetDuration(17_500)).toBe("17.5s");
    expect(formatResetDuration(360_000)).toBe("6m0s");
    expect(formatResetDuration(61_000)).toBe("1m1s");
  });
});
