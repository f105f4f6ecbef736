import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import { buildApp } from "../../src/server/app.js";
import { validateConfig } from "../../src/config/load.js";
import { ModelRegistry } from "../../src/router/model-registry.js";
import { ApiError } from "../../src/errors.js";
import { ScriptedEngine } from "../helpers/scripted-engine.js";

const usage = { promptTokens: 3, cachedTokens: 0, completionTokens: 2 };

// HTTP-layer unit tests: failures the real engine rarely produces are triggered on purpose.
describe("the HTTP layer over a scripted engine", () => {
  let app: FastifyInstance;
  let engine: ScriptedEngine;
  beforeAll(async () => {
    engine = new ScriptedEngine((request) => {
      const prompt = request.prompt.kind === "text" ? request.prompt.text : request.prompt.messages.at(-1)!.content;
      if (prompt === "crash") return new Error("native failure at /src/engine.ts:12");
      if (prompt === "busy") return new ApiError(503, "busy", "server_error", "server_overloaded", null, 2500);
      if (prompt === "fail-mid-stream")
        return [{ type: "text", text: "Hel" }, { type: "error", error: { status: 500, message: "engine died", type: "server_error", code: "engine_failed", param: null } }];
      return [{ type: "text", text: "Hel" }, { type: "text", text: "lo" }, { type: "done", finishReason: "stop", usage }];
    });
    app = await buildApp({ config: validateConfig({}), models: new ModelRegistry([engine]) });
  });
  afterAll(() => app.close());

  const complete = (prompt: string, extra: object = {}) =>
    app.inject({ method: "POST", url: "/v1/completions", payload: { model: "scripted", prompt, ...extra } });

  it("maps OpenAI sampling defaults onto the engine request", async () => {
    await complete("hi", { stop: "\n" });
    expect(engine.lastRequest).toMatchObject({
      maxTokens: 64, // no max_tokens: until the context (64 tokens here) is full
      stop: ["\n"],
      ignoreEos: false,
      sampling: { temperature: 1, topP: 1, presencePenalty: 0, frequencyPenalty: 0 },
    });
    const { seed } = engine.lastRequest!.sampling;
    expect(Number.isInteger(seed) && seed >= 0 && seed < 2 ** 32).toBe(true);
  });

  it("draws a fresh seed for each request without one and reports it in the response", async () => {
    const first = await complete("hi");
    const firstSeed = engine.lastRequest!.sampling.seed;
    const second = await complete("hi");
    expect(engine.lastRequest!.sampling.seed).not.toBe(firstSeed);
    expect(first.json().seed).toBe(firstSeed);
    expect(second.json().seed).toBe(engine.lastRequest!.sampling.seed);
    await complete("hi", { seed: -1 });
    expect(engine.lastRequest!.sampling.seed).toBe(2 ** 32 - 1);
  });

  it("joins text parts of a chat message and treats developer messages as system", async () => {
    await app.inject({
      method: "POST",
      url: "/v1/chat/completions",
      payload: { model: "scripted", messages: [{ role: "developer", content: "be brief" }, { role: "user", content: [{ type: "text", text: "a" }, { type: "text", text: "b" }] }] },
    });
    expect(engine.lastRequest!.prompt).toEqual({ kind: "chat", messages: [{ role: "system", content: "be brief" }, { role: "user", content: "ab" }] });
  });

  it("hides an unexpected engine exception behind a 500 without details", async () => {
    const response = await complete("crash");
    expect(response.statusCode).toBe(500);
    expect(response.json()).toEqual({ error: { message: "The server had an error while processing your request.", type: "server_error", param: null, code: "internal_error" } });
  });

  it("sends Retry-After in seconds and milliseconds with a 503", async () => {
    const response = await complete("busy");
    expect(response.statusCode).toBe(503);
    expect(response.headers["retry-after"]).toBe("3");
    expect(response.headers["retry-after-ms"]).toBe("2500");
  });

  it("sends an error that happens mid-stream as an SSE error object and closes without [DONE]", async () => {
    const response = await complete("fail-mid-stream", { stream: true });
    const frames = response.body.split("\n\n").filter(Boolean);
    expect(JSON.parse(frames[0]!.slice(6)).choices[0].text).toBe("Hel");
    expect(JSON.parse(frames.at(-1)!.slice(6))).toEqual({ error: { message: "engine died", type: "server_error", param: null, code: "engine_failed" } });
    expect(response.body).not.toContain("[DONE]");
  });

  it("answers an error that happens before the end of a JSON response with its status", async () => {
    const response = await complete("fail-mid-stream");
    expect(response.statusCode).toBe(500);
    expect(response.json().error.code).toBe("engine_failed");
  });

  it("echoes an incoming x-request-id", async () => {
    const response = await app.inject({ method: "GET", url: "/health", headers: { "x-request-id": "abc-123" } });
    expect(response.headers["x-request-id"]).toBe("abc-123");
    expect(response.json().status).toBe("ok");
  });
});
