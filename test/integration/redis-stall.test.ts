import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGateway, type TestGateway } from "../helpers/gateway.js";
import { OwnRedis } from "../helpers/redis.js";

const KEY = "sk-stall-0123456789";

async function timedCompletion(gw: TestGateway): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  const response = await fetch(`${gw.baseURL}/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
    body: JSON.stringify({ model: gw.model, prompt: "Hi", max_tokens: 1 }),
  });
  await response.text();
  return { status: response.status, ms: performance.now() - started };
}

const p90 = (values: number[]) => [...values].sort((a, b) => a - b)[Math.ceil(values.length * 0.9) - 1]!;

// A Redis that stops answering without closing its connections (SIGSTOP), as a stall looks from outside.
describe("a stalled Redis trips the limiter's circuit breaker", () => {
  let redis: OwnRedis;
  let open: TestGateway;
  let closed: TestGateway;
  const settings = (failOpen: boolean) => ({
    engine: { slots: 2, ctxSize: 256 },
    auth: { keys: [{ name: "stall", key: KEY, limits: { rpm: 100_000 } }] },
    rateLimit: { failOpen, redis: { url: redis.url, commandTimeoutMs: 250, breaker: { failures: 3, probeIntervalMs: 500, heartbeatMs: 200 } } },
  });
  beforeAll(async () => {
    redis = await OwnRedis.start();
    [open, closed] = await Promise.all([startTestGateway(settings(true)), startTestGateway(settings(false))]);
  });
  afterAll(async () => {
    redis.thaw();
    await Promise.all([open.close(), closed.close()]);
    await redis.kill();
  });

  it("serves from the fallback at once after a few timeouts, and shares the limits again after the thaw", async () => {
    expect((await timedCompletion(open)).status).toBe(200);
    expect(open.app.access.limiter.state()).toBe("redis");
    redis.freeze();
    try {
      const results: { status: number; ms: number }[] = [];
      const deadline = Date.now() + 3_000;
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          while (Date.now() < deadline) results.push(await timedCompletion(open));
        }),
      );
      expect(results.filter((r) => r.status >= 500)).toEqual([]);
      const afterTheFirst = results.slice(8).map((r) => r.ms); // the first few wait out their timeouts and open the breaker
      expect(afterTheFirst.length).toBeGreaterThan(20);
      expect(p90(afterTheFirst)).toBeLessThan(100);
      expect(open.app.access.limiter.state()).toBe("fallback");
    } finally {
      redis.thaw();
    }
    const deadline = Date.now() + 3_000; // the probe interval, and margin
    while (open.app.access.limiter.state() !== "redis" && Date.now() < deadline) {
      await timedCompletion(open);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(open.app.access.limiter.state()).toBe("redis");
  });

  it("answers 503 at once while Redis stalls when failing closed, and /ready says why", async () => {
    expect((await timedCompletion(closed)).status).toBe(200);
    redis.freeze();
    try {
      const results: { status: number; ms: number }[] = [];
      for (let i = 0; i < 20; i++) results.push(await timedCompletion(closed));
      expect(results.every((r) => r.status === 503)).toBe(true);
      expect(p90(results.slice(4).map((r) => r.ms))).toBeLessThan(100);
      const ready = await fetch(closed.baseURL.replace(/\/v1$/, "/ready"));
      expect(ready.status).toBe(503);
    } finally {
      redis.thaw();
    }
  });
});

describe("on the fallback, each instance enforces its share of a shared budget", () => {
  let redis: OwnRedis;
  let a: TestGateway;
  let b: TestGateway;
  beforeAll(async () => {
    redis = await OwnRedis.start();
    const settings = {
      engine: { slots: 1, ctxSize: 256 },
      auth: { keys: [{ name: "shared", key: KEY, limits: { rpm: 20 } }] },
      rateLimit: { failOpen: true, redis: { url: redis.url, keyPrefix: `share-${Date.now()}:`, breaker: { failures: 1, probeIntervalMs: 60_000, heartbeatMs: 100 } } },
    };
    [a, b] = await Promise.all([startTestGateway(settings), startTestGateway(settings)]);
  });
  afterAll(async () => {
    redis.thaw();
    await Promise.all([a.close(), b.close()]);
    await redis.kill();
  });

  it("admits about budget / instances on one instance while Redis is away", async () => {
    await new Promise((r) => setTimeout(r, 400)); // a few heartbeats: both instances are seen alive
    redis.freeze();
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 16; i++) statuses.push((await timedCompletion(a)).status);
      expect(statuses.filter((s) => s === 200)).toHaveLength(10); // 20 per minute, shared by 2 instances
      expect(statuses.slice(10).every((s) => s === 429)).toBe(true);
    } finally {
      redis.thaw();
    }
  });
});
