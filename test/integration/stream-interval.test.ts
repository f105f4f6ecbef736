import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestGateway, STORIES_260K, type TestGateway } from "../helpers/gateway.js";

// engine.streamInterval on a real model, through the engine process: the same greedy text and usage in fewer
// chunks, the first token still alone.
describe("stream interval", () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ models: [{ id: "every", path: STORIES_260K }, { id: "grouped", path: STORIES_260K, streamInterval: 4 }] });
  });
  afterAll(() => gw.close());

  async function streamed(model: string) {
    const stream = await gw.client.chat.completions.create({
      model,
      messages: [{ role: "user", content: "Once upon a time" }],
      max_tokens: 41,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
      ignore_eos: true,
    } as never);
    const pieces: string[] = [];
    let usage: { completion_tokens: number } | undefined;
    for await (const chunk of stream as unknown as AsyncIterable<{ choices: { delta?: { content?: string | null } }[]; usage?: { completion_tokens: number } | null }>) {
      const content = chunk.choices[0]?.delta?.content;
      if (content) pieces.push(content);
      if (chunk.usage) usage = chunk.usage;
    }
    return { pieces, usage };
  }

  it("sends the same text and usage in about a quarter of the chunks", async () => {
    const every = await streamed("every");
    const grouped = await streamed("grouped");
    expect(grouped.pieces.join("")).toBe(every.pieces.join(""));
    expect(grouped.usage?.completion_tokens).toBe(41);
    expect(every.usage?.completion_tokens).toBe(41);
    expect(every.pieces.length).toBeGreaterThan(30); // about one chunk per token
    // The first token alone, then 40 tokens four at a time (a multi-byte character held back may shift one).
    expect(grouped.pieces.length).toBeGreaterThanOrEqual(10);
    expect(grouped.pieces.length).toBeLessThanOrEqual(12);
    expect(grouped.pieces[0]).toBe(every.pieces[0]);
  });

  it("leaves a non-streamed answer as it was", async () => {
    const ask = (model: string) => gw.client.chat.completions.create({ model, messages: [{ role: "user", content: "Lily saw a dog" }], max_tokens: 24, temperature: 0 });
    const [every, grouped] = [await ask("every"), await ask("grouped")];
    expect(grouped.choices[0]!.message.content).toBe(every.choices[0]!.message.content);
    expect(grouped.usage).toEqual(every.usage);
  });
});
