import { describe, expect, it } from "vitest";
import { messageResponseShape } from "../../src/api/messages/response.js";
import { streamItems } from "../../src/api/shared/response-shape.js";
import { thinkTextCall as answer } from "../helpers/answer-events.js";


describe("Anthropic's stream of content blocks", () => {
  it("opens a block per kind of output, in order, and ends with message_delta and message_stop", async () => {
    const shape = messageResponseShape("m");
    const frames = [];
    for await (const item of streamItems(answer(), shape, 1, false, { promptTokens: 7, cachedTokens: 3 })) frames.push(item);
    const chunks = frames.filter((f) => f.kind === "chunk") as { event: string; data: Record<string, unknown> }[];
    expect(chunks.map((c) => c.event)).toEqual([
      "message_start", "ping",
      "content_block_start", "content_block_delta",
      "content_block_stop", "content_block_start", "content_block_delta",
      "content_block_stop", "content_block_start", "content_block_delta", "content_block_delta",
      "content_block_stop", "message_delta", "message_stop",
    ]);
    // Anthropic's input_tokens leave out cache reads: 7 prompt tokens of which 3 were cached.
    expect(chunks[0]!.data).toMatchObject({ type: "message_start", message: { usage: { input_tokens: 4, cache_read_input_tokens: 3, cache_creation_input_tokens: 0 } } });
    expect(chunks.filter((c) => c.event === "content_block_start").map((c) => (c.data.content_block as { type: string }).type)).toEqual(["thinking", "text", "tool_use"]);
    expect(chunks.filter((c) => c.event === "content_block_delta").map((c) => (c.data.delta as { type: string }).type)).toEqual(["thinking_delta", "text_delta", "input_json_delta", "input_json_delta"]);
    expect(chunks.at(-2)!.data).toMatchObject({ delta: { stop_reason: "tool_use", stop_sequence: null }, usage: { output_tokens: 5, input_tokens: expect.any(Number), cache_read_input_tokens: expect.any(Number), cache_creation_input_tokens: 0 } });
    expect(frames.at(-1)!.kind).toBe("end");
  });

  it("writes a whole answer as thinking, text and tool_use blocks", () => {
    const message = messageResponseShape("m").complete(
      [{ text: "Hi", reasoning: "hmm", reasoningTokens: 1, toolCalls: [{ id: "call_1", name: "f", arguments: '{"a":1}' }], logprobs: null, finishReason: "tool_calls" }],
      { prompt_tokens: 7, completion_tokens: 5, total_tokens: 12, prompt_tokens_details: { cached_tokens: 2 } },
    );
    expect(message).toMatchObject({
      type: "message",
      content: [{ type: "thinking", thinking: "hmm" }, { type: "text", text: "Hi" }, { type: "tool_use", id: "call_1", name: "f", input: { a: 1 } }],
      stop_reason: "tool_use",
      usage: { input_tokens: 5, output_tokens: 5, cache_read_input_tokens: 2 },
    });
  });
});
