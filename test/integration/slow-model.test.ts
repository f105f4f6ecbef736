import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonBody, postJson, startTestGateway, SYNTHETIC_57M, waitForIdleSlots, type TestGateway } from "../helpers/gateway.js";
import { until } from "../helpers/until.js";

// The 57M-parameter model (random weights, ~300 tok/s here) is slow enough to be caught mid-prompt
// and mid-generation, on a server with a single slot.
describe("a slow model on one slot", () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ engine: { slots: 1, ctxSize: 2048 }, http: { sseKeepAliveMs: 100 } }, SYNTHETIC_57M);
  });
  afterAll(() => gw.close());

  const longPrompt = "the quick brown fox jumps over the lazy dog ".repeat(12); // ~340 tokens, ~0.7 s to evaluate here

  it("sends keep-alive comments while a long prompt is evaluated, before the first token", async () => {
    const response = await postJson(gw.baseURL, "/completions", { model: gw.model, prompt: longPrompt, max_tokens: 2, stream: true });
    expect(response.status).toBe(200);
    const body = await response.text();
    const firstData = body.indexOf("data: ");
    expect(body.indexOf(": keep-alive\n\n")).toBeGreaterThanOrEqual(0);
    expect(body.indexOf(": keep-alive\n\n")).toBeLessThan(firstData);
    expect(body.endsWith("data: [DONE]\n\n")).toBe(true);
  });

  it("sends Anthropic's ping events while a long prompt is evaluated on /v1/messages", async () => {
    // A prompt of its own (nothing of it cached), ~1,000 tokens: several keep-alive intervals to evaluate.
    const prompt = "a slow prompt about a fox and a dog, told again and again. ".repeat(60);
    const response = await postJson(gw.baseURL, "/messages", { model: gw.model, max_tokens: 2, stream: true, messages: [{ role: "user", content: prompt }] });
    const events = (await response.text()).split("\n\n").filter(Boolean).map((frame) => frame.split("\n")[0]!.replace("event: ", ""));
    const firstDelta = events.indexOf("content_block_delta");
    expect(events[0]).toBe("message_start");
    expect(events.slice(1, firstDelta).filter((e) => e === "ping").length).toBeGreaterThan(1); // the first, then keep-alives
    expect(events.some((e) => e.startsWith(":"))).toBe(false); // no comment frames on this API
  });

  it("stops the generation and frees the slot when the client disconnects mid-stream", async () => {
    const engine = gw.models.all()[0]!;
    const before = engine.stats().generatedTokens;
    const controller = new AbortController();
    const response = await postJson(
      gw.baseURL,
      "/completions",
      { model: gw.model, prompt: "Once upon a time", max_tokens: 1500, ignore_eos: true, stream: true },
      { signal: controller.signal },
    );
    const reader = response.body!.getReader();
    let text = "";
    while (!text.includes('"text"')) text += new TextDecoder().decode((await reader.read()).value);
    controller.abort();
    await waitForIdleSlots(gw, 2_000);
    expect(engine.stats().generatedTokens - before).toBeLessThan(300); // the full answer is 1,500 tokens

    // The single slot serves the next request at once.
    const next = await postJson(gw.baseURL, "/completions", { model: gw.model, prompt: "Hello", max_tokens: 4, ignore_eos: true });
    expect(next.status).toBe(200);
    expect((await jsonBody(next)).usage.completion_tokens).toBe(4);
  });

  it("frees the slot of a non-streaming request whose client goes away", async () => {
    const engine = gw.models.all()[0]!;
    const before = engine.stats().generatedTokens;
    const controller = new AbortController();
    const pending = postJson(
      gw.baseURL,
      "/completions",
      { model: gw.model, prompt: "Once upon a time", max_tokens: 1500, ignore_eos: true },
      { signal: controller.signal },
    ).catch((e: unknown) => e);
    await until(() => engine.stats().generatedTokens - before >= 5, "5 tokens", () => engine.stats());
    controller.abort();
    expect(await pending).toBeInstanceOf(Error);
    await waitForIdleSlots(gw, 2_000);
    expect(engine.stats().generatedTokens - before).toBeLessThan(300);
  });

  it("forgets a queued request whose client goes away, and serves the next in line", async () => {
    const engine = gw.models.all()[0]!;
    const holder = new AbortController();
    const holding = postJson(gw.baseURL, "/completions", { model: gw.model, prompt: "Once", max_tokens: 1500, ignore_eos: true, stream: true }, { signal: holder.signal });
    await until(() => engine.stats().slotsBusy >= 1, "a busy slot", () => engine.stats());
    const leaving = new AbortController();
    const queued = postJson(gw.baseURL, "/completions", { model: gw.model, prompt: "Hi", max_tokens: 2 }, { signal: leaving.signal }).catch((e: unknown) => e);
    const next = postJson(gw.baseURL, "/completions", { model: gw.model, prompt: "Hello", max_tokens: 2 });
    await until(() => engine.stats().queuedRequests >= 2, "two queued requests", () => engine.stats());
    leaving.abort();
    expect(await queued).toBeInstanceOf(Error);
    await until(() => engine.stats().queuedRequests <= 1, "the queue to forget one", () => engine.stats());
    holder.abort();
    await holding.catch(() => undefined);
    expect((await next).status).toBe(200);
    await waitForIdleSlots(gw);
    expect(engine.stats().queuedRequests).toBe(0);
  });
});
