import { describe, expect, it } from "vitest";
import { streamEvery } from "../../src/engine/stream-interval.js";
import type { GenerationEvent } from "../../src/engine/types.js";

async function collect(events: GenerationEvent[], interval: number): Promise<GenerationEvent[]> {
  async function* source() {
    yield* events;
  }
  const out: GenerationEvent[] = [];
  for await (const event of streamEvery(source(), interval)) out.push(event);
  return out;
}

const text = (t: string, logprob?: number): GenerationEvent => ({ type: "text", text: t, ...(logprob !== undefined ? { logprobs: [{ token: t, logprob, top: [] }] } : {}) });
const done: GenerationEvent = { type: "done", finishReason: "length", usage: { promptTokens: 1, cachedTokens: 0, completionTokens: 6 } };

describe("streamEvery (engine.streamInterval)", () => {
  it("passes every event through unchanged at interval 1", async () => {
    const events = [text("a"), text("b"), done];
    expect(await collect(events, 1)).toEqual(events);
  });

  it("sends the first token alone, then the text of `interval` tokens per event, and the rest before the end", async () => {
    const out = await collect([text("a"), text("b"), text("c"), text("d"), text("e"), text("f"), done], 2);
    expect(out).toEqual([
      { type: "text", text: "a" },
      { type: "text", text: "bc", tokens: 2 },
      { type: "text", text: "de", tokens: 2 },
      { type: "text", text: "f", tokens: 1 },
      done,
    ]);
  });

  it("keeps each token's logprobs, in order", async () => {
    const out = await collect([text("a", -1), text("b", -2), text("c", -3), done], 4);
    expect(out[1]).toEqual({ type: "text", text: "bc", tokens: 2, logprobs: [{ token: "b", logprob: -2, top: [] }, { token: "c", logprob: -3, top: [] }] });
  });

  it("never merges thinking or tool calls, and flushes held text before them", async () => {
    const call: GenerationEvent = { type: "tool_call", index: 0, id: "call_1", name: "f" };
    const out = await collect([{ type: "reasoning", text: "r1" }, { type: "reasoning", text: "r2" }, text("a"), text("b"), call, { type: "tool_arguments", index: 0, text: "{}" }, done], 8);
    expect(out).toEqual([
      { type: "reasoning", text: "r1" },
      { type: "reasoning", text: "r2" },
      { type: "text", text: "a" },
      { type: "text", text: "b", tokens: 1 },
      call,
      { type: "tool_arguments", index: 0, text: "{}" },
      done,
    ]);
  });

  it("sends the text held when a generation ends without a done (cancelled)", async () => {
    expect(await collect([text("a"), text("b"), text("c")], 4)).toEqual([{ type: "text", text: "a" }, { type: "text", text: "bc", tokens: 2 }]);
  });
});
