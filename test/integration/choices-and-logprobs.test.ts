import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonBody, postJson, startTestGateway, SYNTHETIC_57M, waitForIdleSlots, type TestGateway } from "../helpers/gateway.js";
import { metricValue } from "../helpers/metrics.js";
import { TestSocket } from "../helpers/websocket.js";

const messages = [{ role: "user" as const, content: "Tell me about the cat." }];

describe("n > 1 choices on a real model", () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ engine: { slots: 2, ctxSize: 512 }, request: { maxChoices: 3 } });
  });
  afterAll(() => gw.close());

  it("generates n different choices, the prompt counted once and every completion token counted", async () => {
    const body = { model: gw.model, messages, max_tokens: 24, temperature: 1, seed: 11, ignore_eos: true } as never;
    const one = await gw.client.chat.completions.create(body);
    const three = await gw.client.chat.completions.create({ ...(body as object), n: 3 } as never);
    expect(three.choices.map((c) => c.index)).toEqual([0, 1, 2]);
    expect(new Set(three.choices.map((c) => c.message.content)).size).toBe(3);
    // Choice 0 samples with the request's seed, choice i with seed + i: each is reproducible.
    expect(three.choices[0]!.message.content).toBe(one.choices[0]!.message.content);
    expect(three.usage!.prompt_tokens).toBe(one.usage!.prompt_tokens);
    expect(three.usage!.completion_tokens).toBe(3 * 24);
    expect(three.choices.every((c) => c.finish_reason === "length")).toBe(true);
    await waitForIdleSlots(gw);
  });

  it("streams n choices with their index, each finished, the texts equal to the unstreamed ones", async () => {
    const body = { model: gw.model, prompt: "Once upon a time", max_tokens: 16, temperature: 1, seed: 5, n: 2 };
    const whole = await gw.client.completions.create(body);
    const texts = ["", ""];
    const finishes: (string | null)[] = [null, null];
    let usage;
    for await (const chunk of await gw.client.completions.create({ ...body, stream: true, stream_options: { include_usage: true } })) {
      for (const choice of chunk.choices) {
        texts[choice.index] += choice.text;
        if (choice.finish_reason) finishes[choice.index] = choice.finish_reason;
      }
      usage = chunk.usage ?? usage;
    }
    expect(texts).toEqual(whole.choices.map((c) => c.text));
    expect(finishes.every((f) => f !== null)).toBe(true);
    expect(usage!.completion_tokens).toBe(whole.usage!.completion_tokens);
  });

  it("streams n choices over WebSocket with their index", async () => {
    const socket = await TestSocket.open(gw);
    socket.send({ type: "completions.create", id: "n", body: { model: gw.model, prompt: "Once upon a time", max_tokens: 10, n: 2, ignore_eos: true } });
    const done = await socket.next((m) => m.type === "done" && m.id === "n");
    const indexes = new Set(socket.forId("n").filter((m) => m.type === "chunk").flatMap((m) => m.data.choices.map((c: { index: number }) => c.index)));
    socket.close();
    expect([...indexes].sort()).toEqual([0, 1]);
    expect(done.usage.completion_tokens).toBe(20);
  });

  it("refuses n above request.maxChoices", async () => {
    const response = await postJson(gw.baseURL, "/chat/completions", { model: gw.model, messages, n: 4 });
    expect(response.status).toBe(400);
    expect((await jsonBody(response)).error).toMatchObject({ param: "n", code: "invalid_value" });
  });
});

describe("logprobs on a real model", () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ engine: { slots: 1, ctxSize: 512 }, request: { maxTopLogprobs: 5 } });
  });
  afterAll(() => gw.close());

  it("gives chat logprobs in OpenAI's shape: greedy picks the likeliest token, the tokens spell the answer", async () => {
    const completion = await gw.client.chat.completions.create({ model: gw.model, messages, max_tokens: 12, temperature: 0, logprobs: true, top_logprobs: 3 });
    const content = completion.choices[0]!.message.content!;
    const entries = completion.choices[0]!.logprobs!.content!;
    expect(entries).toHaveLength(completion.usage!.completion_tokens);
    expect(entries.map((e) => e.token).join("").trim()).toBe(content.trim());
    for (const entry of entries) {
      expect(entry.logprob).toBeLessThanOrEqual(0);
      expect(entry.top_logprobs).toHaveLength(3);
      expect(entry.top_logprobs[0]!.token).toBe(entry.token);
      expect(entry.top_logprobs[0]!.logprob).toBeCloseTo(entry.logprob, 10);
      const tops = entry.top_logprobs.map((t) => t.logprob);
      expect([...tops].sort((a, b) => b - a)).toEqual(tops);
      expect(entry.bytes).toEqual([...Buffer.from(entry.token)]);
    }
  });

  it("streams chat logprobs with the chunks that carry their text", async () => {
    let text = "";
    const tokens: string[] = [];
    for await (const chunk of await gw.client.chat.completions.create({ model: gw.model, messages, max_tokens: 12, temperature: 0, logprobs: true, stream: true })) {
      const choice = chunk.choices[0];
      if (!choice) continue;
      text += choice.delta.content ?? "";
      for (const entry of choice.logprobs?.content ?? []) {
        expect(entry.top_logprobs).toEqual([]);
        tokens.push(entry.token);
      }
    }
    expect(tokens.length).toBeGreaterThan(0);
    expect(tokens.join("").trim()).toBe(text.trim());

    const socket = await TestSocket.open(gw);
    socket.send({ type: "chat.completions.create", id: "lp", body: { model: gw.model, messages, max_tokens: 12, temperature: 0, logprobs: true, top_logprobs: 1 } });
    await socket.next((m) => m.type === "done" && m.id === "lp");
    const entries = socket.forId("lp").filter((m) => m.type === "chunk").flatMap((m) => m.data.choices[0]?.logprobs?.content ?? []);
    socket.close();
    expect(entries.map((e: { token: string }) => e.token)).toEqual(tokens);
    expect(entries.every((e: { top_logprobs: unknown[] }) => e.top_logprobs.length === 1)).toBe(true);
  });

  it("gives legacy completions logprobs with tokens, token_logprobs, top_logprobs and text_offset", async () => {
    const completion = await gw.client.completions.create({ model: gw.model, prompt: "Once upon a time", max_tokens: 10, temperature: 0, logprobs: 2 });
    const choice = completion.choices[0]!;
    const lp = choice.logprobs!;
    expect(lp.tokens!.join("")).toBe(choice.text);
    expect(lp.token_logprobs).toHaveLength(lp.tokens!.length);
    expect(lp.text_offset).toEqual(lp.tokens!.map((_, i) => lp.tokens!.slice(0, i).join("").length));
    lp.top_logprobs!.forEach((top, i) => {
      expect(Object.keys(top)).toHaveLength(2);
      expect(top[lp.tokens![i]!]).toBeCloseTo(lp.token_logprobs![i]!, 10);
    });
  });

  it("reflects the sampling distribution: at temperature 1 with no truncation, probabilities of the alternatives sum below 1", async () => {
    const completion = await gw.client.completions.create({ model: gw.model, prompt: "Once upon a time", max_tokens: 6, temperature: 1, seed: 2, logprobs: 5 });
    for (const top of completion.choices[0]!.logprobs!.top_logprobs!) {
      const sum = Object.values(top).reduce((s, lp) => s + Math.exp(lp), 0);
      expect(sum).toBeGreaterThan(0);
      expect(sum).toBeLessThanOrEqual(1 + 1e-6);
    }
  });

  it.each([
    ["top_logprobs above request.maxTopLogprobs", "/chat/completions", { messages, logprobs: true, top_logprobs: 6 }, "top_logprobs"],
    ["top_logprobs without logprobs", "/chat/completions", { messages, top_logprobs: 2 }, "top_logprobs"],
    ["completions logprobs above the limit", "/completions", { prompt: "x", logprobs: 6 }, "logprobs"],
  ])("answers %s with 400", async (_name, path, extra, param) => {
    const response = await postJson(gw.baseURL, path, { model: gw.model, max_tokens: 3, ...extra });
    expect(response.status).toBe(400);
    expect((await jsonBody(response)).error).toMatchObject({ param });
  });
});

describe.each(["per-slot", "batched"] as const)("n > 1 choices sharing one evaluation of the prompt (%s layout)", (layout) => {
  let gw: TestGateway;
  beforeAll(async () => {
    // No prompt cache: the three other prompts below must really push the first one out of every slot.
    gw = await startTestGateway({ engine: { slots: 3, ctxSize: 1024, layout, promptCacheMiB: 0 } }, SYNTHETIC_57M);
  });
  afterAll(() => gw.close());

  const evaluated = async () => metricValue(await (await fetch(gw.baseURL.replace(/\/v1$/, "/metrics"))).text(), "llm_gateway_prompt_tokens_total", { model: gw.model, source: "evaluated" });

  it("evaluates the prompt once for all choices, and each choice answers as if it had evaluated it itself", async () => {
    const prompt = "The little cat walked along the river bank and looked at the water. ".repeat(6);
    const body = { model: gw.model, prompt, max_tokens: 12, temperature: 0, ignore_eos: true };
    const single = await gw.client.completions.create(body);
    const promptTokens = single.usage!.prompt_tokens;
    expect(promptTokens).toBeGreaterThan(100);
    // Three unrelated prompts: two take the empty slots, the third the least recently used one, the prompt's.
    await postJson(gw.baseURL, "/completions", { ...body, prompt: "Something else entirely." });
    await postJson(gw.baseURL, "/completions", { ...body, prompt: "A dog barked at the moon." });
    await postJson(gw.baseURL, "/completions", { ...body, prompt: "Rain fell on the roof all night." });
    const before = await evaluated();
    const three = await gw.client.completions.create({ ...body, n: 3 });
    const spent = (await evaluated()) - before;
    expect(three.choices.map((c) => c.text)).toEqual([single.choices[0]!.text, single.choices[0]!.text, single.choices[0]!.text]);
    // One full evaluation plus the last prompt token per follower (whose logits pick its first answer token).
    expect(spent).toBeLessThan(promptTokens + 20);
    expect(spent).toBeGreaterThanOrEqual(promptTokens - 10);
    // Again, now that a slot holds the prompt: the followers load that slot's state instead of evaluating it.
    const cachedBefore = await evaluated();
    const again = await gw.client.completions.create({ ...body, n: 3 });
    expect(again.choices.map((c) => c.text)).toEqual(three.choices.map((c) => c.text));
    expect((await evaluated()) - cachedBefore).toBeLessThan(20);
    await waitForIdleSlots(gw);
  });
});
