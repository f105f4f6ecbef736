import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../helpers/redis.js";
import { jsonBody, postJson, sseData, startTestGateway, SYNTHETIC_57M, waitForIdleSlots, type TestGateway } from "../helpers/gateway.js";

// The upstream is a second gateway instance on another port; the front one proxies to it.
describe("a model served by remote upstreams", () => {
  let upstream: TestGateway;
  let front: TestGateway;
  let deadUrl: string;
  beforeAll(async () => {
    upstream = await startTestGateway({ engine: { slots: 2, ctxSize: 2048 }, auth: { keys: [{ name: "front", key: "sk-front-0123456789" }] } }, SYNTHETIC_57M);
    deadUrl = `http://127.0.0.1:${await freePort()}/v1`; // nothing listens there
    front = await startTestGateway({
      upstream: { connectTimeoutMs: 2_000, healthCheckIntervalMs: 60_000 },
      models: [
        {
          id: "remote",
          aliases: ["remote-alias"],
          upstreams: [
            { url: deadUrl, weight: 100 }, // picked first, fails before its first byte
            { url: upstream.baseURL, apiKey: "sk-front-0123456789", model: "test-model" },
          ],
        },
      ],
    });
  });
  afterAll(async () => {
    await front?.close();
    await upstream?.close();
  });

  const body = { model: "remote", prompt: "Once upon a time", max_tokens: 40, temperature: 0, ignore_eos: true, stream: true, stream_options: { include_usage: true } };
  const deltas = (text: string) =>
    sseData(text)
      .filter((d) => d !== "[DONE]")
      .map((d) => JSON.parse(d))
      .flatMap((c) => (c.choices[0]?.text ? [c.choices[0].text] : []));

  it("fails over before the first byte, then streams chunk for chunk what the upstream sends", async () => {
    const proxied = await postJson(front.baseURL, "/completions", body);
    expect(proxied.status).toBe(200);
    const viaFront = await proxied.text();
    const direct = await (await postJson(upstream.baseURL, "/completions", { ...body, model: "test-model" }, { headers: { "content-type": "application/json", authorization: "Bearer sk-front-0123456789" } })).text();
    expect(deltas(viaFront)).toEqual(deltas(direct));
    expect(deltas(viaFront).length).toBeGreaterThan(10);
    const usage = JSON.parse(sseData(viaFront).at(-2)!).usage;
    expect(usage.completion_tokens).toBe(40);
    expect(JSON.parse(sseData(viaFront).at(-3)!).choices[0].finish_reason).toBe("length");
    const nonStreamed = await jsonBody(await postJson(front.baseURL, "/completions", { ...body, model: "remote-alias", stream: false }));
    expect(nonStreamed.choices[0].text).toBe(deltas(direct).join(""));
  });

  it("passes a client abort on to the upstream, which frees its slot", async () => {
    const before = upstream.models.all()[0]!.stats().generatedTokens;
    const controller = new AbortController();
    const response = await postJson(front.baseURL, "/completions", { ...body, max_tokens: 1500 }, { signal: controller.signal });
    const reader = response.body!.getReader();
    await reader.read();
    await reader.read();
    controller.abort();
    await waitForIdleSlots(upstream, 3_000);
    expect(upstream.models.all()[0]!.stats().generatedTokens - before).toBeLessThan(400);
  });

  it("passes tools through and streams the upstream's tool calls back, the same as a direct request", async () => {
    const tools = [{ type: "function", function: { name: "pick", parameters: { type: "object", properties: { color: { enum: ["red", "blue"] } }, required: ["color"] } } }];
    const ask = { messages: [{ role: "user", content: "Pick a color" }], tools, tool_choice: { type: "function", function: { name: "pick" } }, max_tokens: 20, temperature: 0 };
    const viaFront = await jsonBody(await postJson(front.baseURL, "/chat/completions", { ...ask, model: "remote" }));
    const direct = await jsonBody(await postJson(upstream.baseURL, "/chat/completions", { ...ask, model: "test-model" }, { headers: { "content-type": "application/json", authorization: "Bearer sk-front-0123456789" } }));
    expect(viaFront.choices[0].finish_reason).toBe("tool_calls");
    const call = viaFront.choices[0].message.tool_calls[0];
    expect(call.function.name).toBe("pick");
    expect(["red", "blue"]).toContain(JSON.parse(call.function.arguments).color);
    expect(call.function.arguments).toBe(direct.choices[0].message.tool_calls[0].function.arguments);
    // Calls come back with ids, so a client can answer them with tool results.
    expect(call.id).toMatch(/^call_/);
  });

  it("passes the upstream's request errors through instead of retrying them", async () => {
    const response = await postJson(front.baseURL, "/completions", { model: "remote", prompt: "x ".repeat(3000), max_tokens: 5 });
    expect(response.status).toBe(400);
    expect((await jsonBody(response)).error.code).toBe("context_length_exceeded");
  });

  it("answers 503 when no upstream is reachable", async () => {
    const lonely = await startTestGateway({ upstream: { connectTimeoutMs: 500 }, models: [{ id: "nowhere", upstreams: [{ url: deadUrl }] }] });
    try {
      const response = await postJson(lonely.baseURL, "/completions", { model: "nowhere", prompt: "x", max_tokens: 2 });
      expect(response.status).toBe(503);
      expect((await jsonBody(response)).error.code).toBe("upstream_unavailable");
    } finally {
      await lonely.close();
    }
  });
});
