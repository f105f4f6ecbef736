import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonBody, postJson, sseData, startTestGateway, waitForIdleSlots, type TestGateway } from "../helpers/gateway.js";

/** Asserts OpenAI's error shape: exactly {error:{message,type,param,code}}, JSON, no stack trace. */
async function expectError(response: Response, status: number, fields: Record<string, unknown>) {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toMatch(/application\/json/);
  const body = await jsonBody(response);
  expect(Object.keys(body)).toEqual(["error"]);
  expect(Object.keys(body.error).sort()).toEqual(["code", "message", "param", "type"]);
  expect(body.error).toMatchObject(fields);
  expect(JSON.stringify(body)).not.toMatch(/at .*\.(ts|js):\d+/); // no stack trace
  return body.error;
}

// Every bad input gets OpenAI's error shape and the right status, and the server keeps serving.
describe("bad input against a real model", () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({
      engine: { slots: 2, ctxSize: 1024 },
      http: { bodyLimit: 16_384 },
      request: { maxTokens: 1000 },
    });
  });
  afterAll(() => gw.close());

  const chat = (body: object) => postJson(gw.baseURL, "/chat/completions", { model: gw.model, messages: [{ role: "user", content: "Hi" }], max_tokens: 4, ...body });


  it.each([
    ["malformed JSON", () => postJson(gw.baseURL, "/chat/completions", '{"model": "x", '), { code: "invalid_json", param: null }],
    ["missing messages", () => postJson(gw.baseURL, "/chat/completions", { model: gw.model }), { param: "messages", code: "missing_required_parameter" }],
    ["missing model", () => postJson(gw.baseURL, "/completions", { prompt: "x" }), { param: "model" }],
    ["empty messages", () => chat({ messages: [] }), { param: "messages" }],
    ["temperature of the wrong type", () => chat({ temperature: "hot" }), { param: "temperature" }],
    ["temperature out of range", () => chat({ temperature: 3 }), { param: "temperature" }],
    ["top_p out of range", () => chat({ top_p: -0.1 }), { param: "top_p" }],
    ["an unknown role", () => chat({ messages: [{ role: "wizard", content: "x" }] }), { param: "messages[0].role" }],
    ["content of the wrong type", () => chat({ messages: [{ role: "user", content: 5 }] }), { param: "messages[0].content" }],
    ["too many stop sequences", () => chat({ stop: ["a", "b", "c", "d", "e"] }), { param: "stop" }],
    ["n above request.maxChoices", () => chat({ n: 9 }), { param: "n" }],
    ["max_tokens of zero", () => chat({ max_tokens: 0 }), { param: "max_tokens" }],
    ["stream of the wrong type", () => chat({ stream: "yes" }), { param: "stream" }],
    ["a prompt longer than the context", () => postJson(gw.baseURL, "/completions", { model: gw.model, prompt: "once upon a time ".repeat(300) }), { code: "context_length_exceeded", param: "prompt" }],
  ])("answers %s with 400", async (_name, send, fields) => {
    await expectError(await send(), 400, { type: "invalid_request_error", ...fields });
  });

  it("lowers a max_tokens over the server's cap to the cap and says so (as llama-server; not a 400)", async () => {
    for (const field of ["max_tokens", "max_completion_tokens"]) {
      const response = await chat({ [field]: 5000, stop: ["."] });
      expect(response.status).toBe(200);
      expect(response.headers.get("x-max-tokens-clamped")).toBe("1000");
    }
    expect((await chat({ max_tokens: 4 })).headers.get("x-max-tokens-clamped")).toBeNull();
  });

  it("answers an unknown model with 404 model_not_found naming the known ones", async () => {
    const error = await expectError(await chat({ model: "gpt-4o" }), 404, { code: "model_not_found", param: "model" });
    expect(error.message).toContain(gw.model);
    expect((await fetch(`${gw.baseURL}/models/gpt-4o`)).status).toBe(404);
  });

  it("answers a body over http.bodyLimit with 413, naming the limit", async () => {
    const error = await expectError(await chat({ messages: [{ role: "user", content: "x".repeat(20_000) }] }), 413, { code: "request_too_large" });
    expect(error.message).toContain("16384 bytes");
  });

  it("lets a client that writes a large body before reading (fetch, the openai SDK) read the 413, not a reset", async () => {
    const big = "x".repeat(8 * 1024 * 1024);
    for (let i = 0; i < 3; i++) await expectError(await chat({ messages: [{ role: "user", content: big }] }), 413, { code: "request_too_large" });
    const error = await gw.client.chat.completions.create({ model: gw.model, messages: [{ role: "user", content: big }] }).catch((e: unknown) => e);
    expect((error as { status?: number }).status).toBe(413); // an APIError, not an APIConnectionError
    expect((await chat({})).status).toBe(200); // and the server serves on
  });

  it("answers an unknown URL with 404 in the same shape", async () => {
    await expectError(await fetch(`${gw.baseURL}/engines`), 404, { code: "unknown_url" });
  });

  it("ignores unknown fields, as OpenAI does", async () => {
    const response = await chat({ logit_bias_v2: { a: 1 }, metadata: { x: 1 } });
    expect(response.status).toBe(200);
  });

  it("stops at the end of the context with finish_reason length", async () => {
    const response = await postJson(gw.baseURL, "/completions", { model: gw.model, prompt: "once upon a time ".repeat(200), max_tokens: 1000, ignore_eos: true, temperature: 0 });
    const body = await jsonBody(response);
    expect(body.choices[0].finish_reason).toBe("length");
    expect(body.usage.prompt_tokens + body.usage.completion_tokens).toBe(1024);
  }, 30_000);

  it("keeps serving after all of the above", async () => {
    const response = await chat({});
    expect(response.status).toBe(200);
    expect((await jsonBody(response)).usage.completion_tokens).toBeGreaterThan(0);
    await waitForIdleSlots(gw);
  });
});

describe("request.timeoutMs against a real model", () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ engine: { slots: 1, ctxSize: 2048 }, request: { maxTokens: 2000, timeoutMs: 150 } });
  });
  afterAll(() => gw.close());

  it("stops a generation that runs past request.timeoutMs and frees its slot (JSON: 503)", async () => {
    const response = await postJson(gw.baseURL, "/completions", { model: gw.model, prompt: "Once", max_tokens: 2000, ignore_eos: true });
    await expectError(response, 503, { code: "request_timeout", type: "server_error" });
    await waitForIdleSlots(gw);
  });

  it("ends a stream that runs past request.timeoutMs with an SSE error event", async () => {
    const response = await postJson(gw.baseURL, "/completions", { model: gw.model, prompt: "Once", max_tokens: 2000, ignore_eos: true, stream: true });
    expect(response.status).toBe(200);
    const frames = sseData(await response.text());
    expect(frames).not.toContain("[DONE]");
    const last = JSON.parse(frames.at(-1)!);
    expect(last.error).toMatchObject({ code: "request_timeout", type: "server_error" });
    await waitForIdleSlots(gw);
  });

  it("serves the next request on the freed slot", async () => {
    const response = await postJson(gw.baseURL, "/completions", { model: gw.model, prompt: "Once", max_tokens: 4 });
    expect(response.status).toBe(200);
  });
});
