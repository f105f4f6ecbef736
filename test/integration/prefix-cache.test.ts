import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGateway, type TestGateway } from "../helpers/gateway.js";
import { fillerText } from "../../bench/workloads.js";

// Which slot a request lands on decides how much of its prompt comes from cache. Real model, real slots.
describe.each(["per-slot", "batched"] as const)("slot choice keeps useful caches (%s layout)", (layout) => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ engine: { slots: 4, ctxSize: 1024, layout } });
  });
  afterAll(() => gw.close());

  const complete = async (prompt: string) => {
    const answer = await gw.client.completions.create({ model: gw.model, prompt, max_tokens: 4, temperature: 0 });
    return answer.usage as { prompt_tokens: number; prompt_tokens_details: { cached_tokens: number } } & typeof answer.usage;
  };

  it("A, B, A: the second A reuses A's cache although B came between", async () => {
    const a = fillerText(150, 1);
    const b = fillerText(150, 2);
    const first = await complete(a);
    expect(first.prompt_tokens).toBeGreaterThan(150);
    await complete(b);
    const again = await complete(a);
    expect(again.prompt_tokens_details.cached_tokens).toBe(again.prompt_tokens - 1);
  });

  it("interleaved conversations (one per slot, a shared system prompt) each keep their own cache", async () => {
    const system = { role: "system" as const, content: "You are a storyteller." };
    const conversations = [0, 1, 2, 3].map((c) => [system, { role: "user" as const, content: fillerText(40, 100 + c) }]);
    let prompt = 0;
    let cached = 0;
    for (let turn = 0; turn < 3; turn++) {
      for (const messages of conversations) {
        const answer = await gw.client.chat.completions.create({ model: gw.model, messages, max_tokens: 12, temperature: 0 });
        if (turn > 0) {
          prompt += answer.usage!.prompt_tokens;
          cached += answer.usage!.prompt_tokens_details!.cached_tokens!;
        }
        messages.push({ role: "assistant", content: answer.choices[0]!.message.content ?? "" } as never, { role: "user", content: fillerText(10, turn) });
      }
    }
    expect(cached / prompt).toBeGreaterThan(0.6); // was 0.08 when every new prompt took the most recent cache
  });
});

describe("the prompt cache keeps more conversations warm than there are slots", () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ engine: { slots: 2, ctxSize: 1024, promptCacheMiB: 64 } });
  });
  afterAll(() => gw.close());

  it("A, B, C on two slots, then A: A's evicted cache is loaded back", async () => {
    const complete = (prompt: string) => gw.client.completions.create({ model: gw.model, prompt, max_tokens: 4, temperature: 0 });
    const [a, b, c] = [11, 12, 13].map((seed) => fillerText(150, seed));
    await complete(a!);
    await complete(b!);
    await complete(c!); // both slots held: A's, the least recently used, is saved and overwritten
    const again = await complete(a!);
    expect(again.usage!.prompt_tokens_details!.cached_tokens).toBe(again.usage!.prompt_tokens - 1);
    const slotsBusy = gw.models.all()[0]!.stats().slotsBusy;
    expect(slotsBusy).toBe(0);
  });

  it("with the prompt cache off, the evicted conversation is evaluated again", async () => {
    const off = await startTestGateway({ engine: { slots: 2, ctxSize: 1024, promptCacheMiB: 0 } });
    try {
      const complete = (prompt: string) => off.client.completions.create({ model: off.model, prompt, max_tokens: 4, temperature: 0 });
      const [a, b, c] = [21, 22, 23].map((seed) => fillerText(150, seed));
      await complete(a!);
      await complete(b!);
      await complete(c!);
      expect((await complete(b!)).usage!.prompt_tokens_details!.cached_tokens).toBeGreaterThan(100); // B was not the least recently used
      expect((await complete(a!)).usage!.prompt_tokens_details!.cached_tokens).toBeLessThan(10);
    } finally {
      await off.close();
    }
  });
});
