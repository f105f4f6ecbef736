import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonBody, postJson, sseData, startTestGateway, type TestGateway } from "../helpers/gateway.js";

// The SSE bytes themselves, read with fetch, as a chat frontend sees them.
describe("the SSE wire format", () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ engine: { slots: 1, ctxSize: 256 } });
  });
  afterAll(() => gw.close());

  it("sends unbuffered event-stream headers and one data frame per token, then [DONE]", async () => {
    const response = await postJson(gw.baseURL, "/chat/completions", {
      model: gw.model,
      messages: [{ role: "user", content: "Hello" }],
      max_tokens: 12,
      temperature: 0,
      ignore_eos: true,
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
    expect(response.headers.get("cache-control")).toBe("no-cache");
    expect(response.headers.get("x-accel-buffering")).toBe("no");
    expect(response.headers.get("content-encoding")).toBeNull();
    const body = await response.text();
    expect(body.endsWith("data: [DONE]\n\n")).toBe(true);
    const frames = sseData(body);
    expect(frames.at(-1)).toBe("[DONE]");
    const chunks = frames.slice(0, -1).map((f) => JSON.parse(f));
    expect(chunks[0].choices[0].delta).toEqual({ role: "assistant", content: "" });
    const tokenChunks = chunks.filter((c) => c.choices[0]?.delta.content);
    expect(tokenChunks.length).toBeGreaterThanOrEqual(10); // 12 tokens; a few may merge at a multi-byte character
    const finish = chunks.at(-2);
    expect(finish.choices[0]).toMatchObject({ index: 0, delta: {}, finish_reason: "length" });
    expect(finish.usage).toBeNull();
    const usage = chunks.at(-1);
    expect(usage.choices).toEqual([]);
    expect(usage.usage).toMatchObject({ completion_tokens: 12 });
    for (const chunk of chunks) {
      expect(chunk).toMatchObject({ object: "chat.completion.chunk", model: gw.model, id: chunks[0].id });
      expect(typeof chunk.created).toBe("number");
    }
  });

  it("streams legacy completions as text_completion frames", async () => {
    const response = await postJson(gw.baseURL, "/completions", {
      model: gw.model,
      prompt: "Once upon a time",
      max_tokens: 5,
      temperature: 0,
      stream: true,
    });
    const frames = sseData(await response.text());
    expect(frames.at(-1)).toBe("[DONE]");
    const chunks = frames.slice(0, -1).map((f) => JSON.parse(f));
    expect(chunks.every((c) => c.object === "text_completion" && c.usage === null)).toBe(true);
    expect(chunks.at(-1).choices[0].finish_reason).toBe("length");
  });

  it("returns a plain JSON error, not a stream, when the request is invalid", async () => {
    const response = await postJson(gw.baseURL, "/chat/completions", { model: gw.model, messages: [], stream: true });
    expect(response.status).toBe(400);
    expect(response.headers.get("content-type")).toMatch(/application\/json/);
    expect((await jsonBody(response)).error.param).toBe("messages");
  });
});
