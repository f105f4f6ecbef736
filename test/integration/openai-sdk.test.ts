import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChatCompletionChunk, ChatCompletionCreateParamsStreaming } from "openai/resources/chat/completions";
import { startTestGateway, waitForIdleSlots, type TestGateway } from "../helpers/gateway.js";

// The official openai SDK against a real gateway serving a real model (stories260K).
describe("the openai SDK against the gateway", () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ engine: { slots: 2, ctxSize: 512 } });
  });
  afterAll(() => gw.close());

  it("gets a chat completion with usage", async () => {
    const completion = await gw.client.chat.completions.create({
      model: gw.model,
      messages: [{ role: "user", content: "Tell me a story about a cat." }],
      max_tokens: 24,
      temperature: 0,
    });
    expect(completion.object).toBe("chat.completion");
    expect(completion.id).toMatch(/^chatcmpl-/);
    expect(completion.model).toBe(gw.model);
    const choice = completion.choices[0]!;
    expect(choice.message.role).toBe("assistant");
    expect(choice.message.content!.trim().length).toBeGreaterThan(0);
    expect(["stop", "length"]).toContain(choice.finish_reason);
    expect(completion.usage!.prompt_tokens).toBeGreaterThan(5);
    expect(completion.usage!.completion_tokens).toBeGreaterThan(0);
    expect(completion.usage!.completion_tokens).toBeLessThanOrEqual(24);
    expect(completion.usage!.total_tokens).toBe(completion.usage!.prompt_tokens + completion.usage!.completion_tokens);
  });

  it("streams a chat completion whose chunks add up to the non-streamed answer", async () => {
    const request = {
      model: gw.model,
      messages: [{ role: "user" as const, content: "Once upon a time" }],
      max_tokens: 32,
      temperature: 0,
    };
    const whole = await gw.client.chat.completions.create(request);
    const stream = await gw.client.chat.completions.create({ ...request, stream: true });
    const chunks: ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks[0]!.choices[0]!.delta.role).toBe("assistant");
    expect(chunks.every((c) => c.object === "chat.completion.chunk" && c.id === chunks[0]!.id)).toBe(true);
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? "").join("");
    expect(text).toBe(whole.choices[0]!.message.content);
    expect(chunks.length).toBeGreaterThan(10); // token by token, not one blob
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe(whole.choices[0]!.finish_reason);
    expect(chunks.every((c) => c.usage === null)).toBe(true);
  });

  it("sends a usage chunk with empty choices when include_usage is set", async () => {
    const stream = await gw.client.chat.completions.create({
      model: gw.model,
      messages: [{ role: "user", content: "Hi" }],
      max_tokens: 8,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage!.completion_tokens).toBe(8);
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);
  });

  it("gets legacy text completions, streamed and not", async () => {
    const request = { model: gw.model, prompt: "Once upon a time", max_tokens: 20, temperature: 0 };
    const whole = await gw.client.completions.create(request);
    expect(whole.object).toBe("text_completion");
    expect(whole.choices[0]!.text).toMatch(/\w+/);
    expect(whole.choices[0]!.finish_reason).toBe("length");
    expect(whole.usage!.completion_tokens).toBe(20);
    const stream = await gw.client.completions.create({ ...request, stream: true });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.text ?? "";
    expect(text).toBe(whole.choices[0]!.text);
  });

  it("stops at a stop string without returning it", async () => {
    const request = { model: gw.model, prompt: "Once upon a time", max_tokens: 60, temperature: 0 };
    const free = (await gw.client.completions.create(request)).choices[0]!.text;
    const word = free.trim().split(/\s+/)[3]!; // a word the model is known to write
    const cut = await gw.client.completions.create({ ...request, stop: [word] });
    expect(cut.choices[0]!.finish_reason).toBe("stop");
    expect(cut.choices[0]!.text).toBe(free.slice(0, free.indexOf(word)));
  });

  it("reuses the KV cache of the first turn in the second turn", async () => {
    const system = { role: "system" as const, content: "You are a storyteller who tells short stories about animals in the forest." };
    const first = await gw.client.chat.completions.create({
      model: gw.model,
      messages: [system, { role: "user", content: "Tell me about a fox." }],
      max_tokens: 16,
      temperature: 0,
    });
    const second = await gw.client.chat.completions.create({
      model: gw.model,
      messages: [system, { role: "user", content: "Tell me about a fox." }, first.choices[0]!.message, { role: "user", content: "And a bear?" }],
      max_tokens: 16,
      temperature: 0,
    });
    const cached = second.usage!.prompt_tokens_details!.cached_tokens!;
    expect(cached).toBeGreaterThanOrEqual(first.usage!.prompt_tokens - 1);
    expect(cached).toBeLessThan(second.usage!.prompt_tokens);
  });

  it("lists the served model", async () => {
    const models = [];
    for await (const model of gw.client.models.list()) models.push(model);
    expect(models.map((m) => m.id)).toEqual([gw.model]);
    expect((await gw.client.models.retrieve(gw.model)).id).toBe(gw.model);
  });

  it("stops generating and frees the slot when the SDK aborts mid-stream", async () => {
    const engine = gw.models.all()[0]!;
    const before = engine.stats().generatedTokens;
    const controller = new AbortController();
    const params: ChatCompletionCreateParamsStreaming & { ignore_eos: boolean } = {
      model: gw.model,
      messages: [{ role: "user", content: "Tell me a long story." }],
      max_tokens: 400,
      ignore_eos: true,
      temperature: 0,
      stream: true,
    };
    const stream = await gw.client.chat.completions.create(params, { signal: controller.signal });
    let received = 0;
    for await (const _chunk of stream) {
      if (++received === 3) controller.abort();
    }
    // The SDK ends the iteration quietly on abort, after at most the chunks it had already read: at ~3,000 tok/s
    // and a busy test process, up to a few dozen (46 seen in a CI run), far from the 400 of the whole answer.
    expect(received).toBeGreaterThanOrEqual(3);
    expect(received).toBeLessThan(100);
    await waitForIdleSlots(gw, 1_000);
    // Had the generation run on, it would have produced all 400 tokens.
    expect(engine.stats().generatedTokens - before).toBeLessThan(200);
  });
});

describe("with engine.prefixCache off", () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ engine: { slots: 1, ctxSize: 512, prefixCache: false } });
  });
  afterAll(() => gw.close());

  it("evaluates the whole prompt of a follow-up turn", async () => {
    const messages = [{ role: "user" as const, content: "Tell me about a fox." }];
    const first = await gw.client.chat.completions.create({ model: gw.model, messages, max_tokens: 8, temperature: 0 });
    const second = await gw.client.chat.completions.create({
      model: gw.model,
      messages: [...messages, first.choices[0]!.message, { role: "user", content: "And a bear?" }],
      max_tokens: 8,
      temperature: 0,
    });
    expect(second.usage!.prompt_tokens_details!.cached_tokens).toBe(0);
  });
});

