import { randomUUID } from "node:crypto";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import OpenAI from "openai";
import pino from "pino";
import WebSocket from "ws";
import { jsonBody, postJson, startTestGateway, type TestGateway } from "../helpers/gateway.js";
import { OwnRedis, REDIS_URL } from "../helpers/redis.js";

const ALICE = "sk-alice-0123456789";
const BOB = "sk-bob-9876543210";
const auth = (key: string) => ({ headers: { "content-type": "application/json", authorization: `Bearer ${key}` } });
const complete = (gw: TestGateway, key: string, body: object = {}) =>
  postJson(gw.baseURL, "/completions", { model: gw.model, prompt: "Once upon a time", max_tokens: 8, ...body }, auth(key));

/** Opens /v1/ws and resolves with the socket, or with the HTTP status that refused the upgrade. */
function openSocket(gw: TestGateway, path = "/ws", headers: Record<string, string> = {}): Promise<WebSocket | number> {
  const ws = new WebSocket(`${gw.baseURL.replace(/^http/, "ws")}${path}`, { headers });
  return new Promise((resolve) => {
    ws.once("open", () => resolve(ws));
    ws.once("unexpected-response", (_, response) => resolve(response.statusCode ?? 0));
  });
}

/** Sends one request over a socket and resolves with its done or error message. */
function socketRequest(ws: WebSocket, body: object): Promise<{ type: string; [key: string]: unknown }> {
  const id = randomUUID();
  return new Promise((resolve) => {
    const onMessage = (data: WebSocket.RawData) => {
      const message = JSON.parse(String(data));
      if (message.id !== id || (message.type !== "done" && message.type !== "error")) return;
      ws.off("message", onMessage);
      resolve(message);
    };
    ws.on("message", onMessage);
    ws.send(JSON.stringify({ type: "completions.create", id, body }));
  });
}

describe("API keys", () => {
  let gw: TestGateway;
  const logLines: string[] = [];
  beforeAll(async () => {
    const sink = new Writable({ write: (chunk, _, done) => (logLines.push(String(chunk)), done()) });
    gw = await startTestGateway({ auth: { apiKeys: `alice:${ALICE}`, keys: [{ name: "bob", key: BOB }] } }, undefined, pino({ level: "debug" }, sink));
  });
  afterAll(() => gw.close());

  it("answers 401 invalid_api_key without a key or with a wrong one, and serves a right one", async () => {
    for (const init of [{}, auth("sk-wrong-0000000000"), { headers: { "content-type": "application/json", authorization: ALICE } }]) {
      const response = await postJson(gw.baseURL, "/completions", { model: gw.model, prompt: "x" }, init);
      expect(response.status).toBe(401);
      expect((await jsonBody(response)).error).toMatchObject({ code: "invalid_api_key", type: "invalid_request_error", param: null });
    }
    expect((await fetch(`${gw.baseURL}/models`)).status).toBe(401);
    expect((await complete(gw, ALICE)).status).toBe(200);
    const sdk = new OpenAI({ baseURL: gw.baseURL, apiKey: BOB, maxRetries: 0 });
    expect((await sdk.completions.create({ model: gw.model, prompt: "Hi", max_tokens: 2 })).usage?.completion_tokens).toBe(2);
    await expect(new OpenAI({ baseURL: gw.baseURL, apiKey: "sk-nope-000000", maxRetries: 0 }).models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
  });

  it("keeps /health open", async () => {
    expect((await fetch(`${gw.baseURL.replace(/\/v1$/, "")}/health`)).status).toBe(200);
  });

  it("takes the key on the WebSocket upgrade as a header or as ?api_key=", async () => {
    expect(await openSocket(gw)).toBe(401);
    expect(await openSocket(gw, "/ws?api_key=sk-wrong-0000000000")).toBe(401);
    for (const socket of [await openSocket(gw, `/ws?api_key=${ALICE}`), await openSocket(gw, "/ws", { authorization: `Bearer ${BOB}` })]) {
      expect(socket).toBeInstanceOf(WebSocket);
      const ws = socket as WebSocket;
      expect((await socketRequest(ws, { model: gw.model, prompt: "Hi", max_tokens: 2 })).type).toBe("done");
      ws.close();
    }
  });

  it("never writes a key to the log", () => {
    const log = logLines.join("");
    expect(log).toContain("api_key=[redacted]");
    expect(log).toContain('"key":"alice"'); // requests are logged under the key's name
    for (const secret of [ALICE, BOB, "sk-wrong-0000000000"]) expect(log).not.toContain(secret);
  });
});

describe("rate limits on a real model (in-memory limiter)", () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({
      auth: { apiKeys: `alice:${ALICE},bob:${BOB}`, keys: [{ name: "alice", limits: { rpm: 3 } }, { name: "bob", limits: { rpm: 2, tpm: 3_000 } }] },
    });
  });
  afterAll(() => gw.close());

  it("admits exactly rpm requests, then 429 with exact Retry-After and OpenAI's headers, running nothing", async () => {
    const remaining: (string | null)[] = [];
    for (let i = 0; i < 3; i++) {
      const response = await complete(gw, ALICE, { stream: i === 2 }); // SSE responses carry the headers too
      expect(response.status).toBe(200);
      await response.text();
      remaining.push(response.headers.get("x-ratelimit-remaining-requests"));
      expect(response.headers.get("x-ratelimit-limit-requests")).toBe("3");
    }
    expect(remaining).toEqual(["2", "1", "0"]);
    const generated = gw.models.all()[0]!.stats().generatedTokens;
    const limited = await complete(gw, ALICE);
    expect(limited.status).toBe(429);
    expect((await jsonBody(limited)).error).toMatchObject({ code: "rate_limit_exceeded", type: "requests" });
    const retryMs = Number(limited.headers.get("retry-after-ms"));
    expect(retryMs).toBeGreaterThan(15_000); // one request refills every 20 s
    expect(retryMs).toBeLessThanOrEqual(20_000);
    expect(limited.headers.get("retry-after")).toBe(String(Math.ceil(retryMs / 1000)));
    expect(limited.headers.get("x-ratelimit-remaining-requests")).toBe("0");
    expect(limited.headers.get("x-ratelimit-reset-requests")).toMatch(/^\d+(\.\d)?s$/);
    expect(gw.models.all()[0]!.stats()).toMatchObject({ generatedTokens: generated, queuedRequests: 0, slotsBusy: 0 });
    await expect(new OpenAI({ baseURL: gw.baseURL, apiKey: ALICE, maxRetries: 0 }).completions.create({ model: gw.model, prompt: "x" })).rejects.toBeInstanceOf(
      OpenAI.RateLimitError,
    );
  });

  it("settles tokens with the real count: a short answer gives back what it did not use", async () => {
    const body = { prompt: "Once upon a time", max_tokens: 400, stop: [" "] }; // the answer ends at its first space
    const first = await complete(gw, BOB, body);
    const usage = (await jsonBody(first)).usage;
    expect(usage.completion_tokens).toBeLessThan(20);
    const second = await complete(gw, BOB, body);
    await second.text();
    const drop = Number(first.headers.get("x-ratelimit-remaining-tokens")) - Number(second.headers.get("x-ratelimit-remaining-tokens"));
    // Between the two the bucket lost the first request's real tokens (less a little refill), not its estimate of 400+.
    expect(drop).toBeLessThanOrEqual(usage.total_tokens);
    expect(drop).toBeGreaterThan(usage.total_tokens - 15);
  });
});

describe("WebSocket requests share the HTTP budget", () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ auth: { keys: [{ name: "alice", key: ALICE, limits: { rpm: 2 } }] } });
  });
  afterAll(() => gw.close());

  it("counts each socket request, and answers over budget with a 429 error message", async () => {
    expect((await complete(gw, ALICE)).status).toBe(200);
    const ws = (await openSocket(gw, `/ws?api_key=${ALICE}`)) as WebSocket;
    expect((await socketRequest(ws, { model: gw.model, prompt: "Hi", max_tokens: 2 })).type).toBe("done");
    const refused = await socketRequest(ws, { model: gw.model, prompt: "Hi", max_tokens: 2 });
    expect(refused).toMatchObject({ type: "error", status: 429, error: { code: "rate_limit_exceeded" } });
    expect(refused.retry_after_ms).toBeGreaterThan(20_000);
    expect((await complete(gw, ALICE)).status).toBe(429);
    ws.close();
  });
});

describe("two gateway instances on one Redis", () => {
  let a: TestGateway;
  let b: TestGateway;
  beforeAll(async () => {
    const shared = {
      auth: { keys: [{ name: "alice", key: ALICE, limits: { rpm: 4 } }, { name: "bob", key: BOB, limits: { tpm: 5_000 } }] },
      rateLimit: { redis: { url: REDIS_URL, keyPrefix: `test:${randomUUID()}:` } },
    };
    [a, b] = await Promise.all([startTestGateway(shared), startTestGateway(shared)]);
  });
  afterAll(() => Promise.all([a.close(), b.close()]));

  it("enforce one request budget", async () => {
    const statuses: number[] = [];
    for (const gw of [a, b, a, b, a, b]) statuses.push((await complete(gw, ALICE)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
  });

  it("enforce one token budget, settlements included", async () => {
    const first = await complete(a, BOB, { max_tokens: 100 });
    const spent = (await jsonBody(first)).usage.total_tokens;
    const second = await complete(b, BOB, { max_tokens: 100 });
    await second.text();
    const drop = Number(first.headers.get("x-ratelimit-remaining-tokens")) - Number(second.headers.get("x-ratelimit-remaining-tokens"));
    expect(drop).toBeLessThanOrEqual(spent);
    expect(drop).toBeGreaterThan(spent - 15);
  });
});

describe("when Redis dies", () => {
  let redis: OwnRedis;
  let open: TestGateway;
  let closed: TestGateway;
  beforeAll(async () => {
    redis = await OwnRedis.start();
    const settings = (failOpen: boolean) => ({
      auth: { keys: [{ name: "alice", key: ALICE, limits: { rpm: 1_000 } }] },
      rateLimit: { failOpen, redis: { url: redis.url, commandTimeoutMs: 200 } },
    });
    [open, closed] = await Promise.all([startTestGateway(settings(true)), startTestGateway(settings(false))]);
  });
  afterAll(async () => {
    await Promise.all([open.close(), closed.close()]);
    await redis.kill();
  });

  it("fails open to in-memory limits or closed with 503, and goes back to Redis when it returns", async () => {
    expect((await complete(open, ALICE)).status).toBe(200);
    expect((await complete(closed, ALICE)).status).toBe(200);
    expect([open.app.access.limiter.state(), closed.app.access.limiter.state()]).toEqual(["redis", "redis"]);

    await redis.kill();
    expect((await complete(open, ALICE)).status).toBe(200);
    expect(open.app.access.limiter.state()).toBe("fallback");
    const started = Date.now();
    const refused = await complete(closed, ALICE);
    expect(Date.now() - started).toBeLessThan(2_000); // no request hangs on a dead Redis
    expect(refused.status).toBe(503);
    expect((await jsonBody(refused)).error.code).toBe("rate_limiter_unavailable");

    await redis.restart();
    const deadline = Date.now() + 15_000;
    let status = 0;
    while (status !== 200 && Date.now() < deadline) {
      status = (await complete(closed, ALICE)).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe(200);
    expect((await complete(open, ALICE)).status).toBe(200);
    expect([open.app.access.limiter.state(), closed.app.access.limiter.state()]).toEqual(["redis", "redis"]);
  });
});
