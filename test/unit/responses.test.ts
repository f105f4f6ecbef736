import { describe, expect, it } from "vitest";
import type { ResponsesRequest } from "../../src/api/responses/conversation.js";
import { normalizeInput, toChatMessages } from "../../src/api/responses/items.js";
import { responseShape } from "../../src/api/responses/response.js";
import { MemoryResponseStore, type StoredResponse } from "../../src/api/responses/store.js";
import { streamItems, type AnswerEvent } from "../../src/api/shared/response-shape.js";
import { thinkTextCall as answer } from "../helpers/answer-events.js";

const request = (fields: Partial<ResponsesRequest> = {}): ResponsesRequest => ({
  model: "m",
  input: "hi",
  resolved: { owner: "alice", input: normalizeInput("hi"), history: [], messages: [{ role: "user", content: "hi" }] },
  ...fields,
});


describe("the Responses API's stream of items", () => {
  it("opens an item per kind of output in order, and stores the finished response with its conversation", async () => {
    const store = new MemoryResponseStore(10, 1 << 20, 60_000);
    const shape = responseShape({ id: "resp_1", model: "m", seed: 1, request: request(), store });
    const frames = [];
    for await (const item of streamItems(answer(), shape, 1, false, { promptTokens: 7, cachedTokens: 0 })) frames.push(item);
    const chunks = frames.filter((f) => f.kind === "chunk") as { event: string; data: Record<string, unknown> }[];
    expect(chunks.map((c) => c.event)).toEqual([
      "response.created", "response.in_progress",
      "response.output_item.added", "response.content_part.added", "response.reasoning_text.delta",
      "response.reasoning_text.done", "response.content_part.done", "response.output_item.done",
      "response.output_item.added", "response.content_part.added", "response.output_text.delta",
      "response.output_text.done", "response.content_part.done", "response.output_item.done",
      "response.output_item.added", "response.function_call_arguments.delta", "response.function_call_arguments.delta",
      "response.function_call_arguments.done", "response.output_item.done",
      "response.completed",
    ]);
    expect(chunks.map((c) => c.data.sequence_number)).toEqual(chunks.map((_, i) => i));
    expect(chunks.map((c) => c.data.type)).toEqual(chunks.map((c) => c.event));
    expect(chunks.find((c) => c.event === "response.function_call_arguments.done")!.data).toMatchObject({ name: "f", arguments: '{"a":1}', output_index: 2 });
    const completed = chunks.at(-1)!.data.response as Record<string, unknown>;
    expect(completed).toMatchObject({
      id: "resp_1",
      status: "completed",
      output_text: "Hi",
      usage: { input_tokens: 7, input_tokens_details: { cached_tokens: 2 }, output_tokens: 5, output_tokens_details: { reasoning_tokens: 1 }, total_tokens: 12 },
    });
    expect((completed.output as { type: string }[]).map((i) => i.type)).toEqual(["reasoning", "message", "function_call"]);
    expect(frames.at(-1)!.kind).toBe("end");

    const stored = (await store.get("resp_1"))!;
    expect(stored.owner).toBe("alice");
    expect(stored.context.map((i) => i.type)).toEqual(["message", "reasoning", "message", "function_call"]);
    // What the next turn reads: the thinking dropped, the call attached to the assistant's message.
    expect(toChatMessages(stored.context)).toEqual([
      { role: "user", content: "hi" },
      { role: "assistant", content: "Hi", toolCalls: [{ id: "call_1", name: "f", arguments: '{"a":1}' }] },
    ]);
  });

  it("ends a stream whose generation fails with response.failed, and stores nothing", async () => {
    const store = new MemoryResponseStore(10, 1 << 20, 60_000);
    const shape = responseShape({ id: "resp_2", model: "m", seed: 1, request: request(), store });
    async function* failing(): AsyncGenerator<AnswerEvent> {
      yield { type: "choice", index: 0, event: { type: "text", text: "Hi" } };
      yield { type: "error", error: { status: 503, message: "shutting down", type: "server_error", code: "server_shutting_down", param: null } };
    }
    const frames = [];
    for await (const item of streamItems(failing(), shape, 1, false, { promptTokens: 7, cachedTokens: 0 })) frames.push(item);
    const last = frames.at(-1)!;
    if (last.kind !== "error") throw new Error(`ended with ${last.kind}`);
    const failed = shape.streamError!(last.error);
    expect(failed.event).toBe("response.failed");
    expect(failed.data).toMatchObject({ type: "response.failed", sequence_number: frames.length - 1, response: { status: "failed", error: { code: "server_error", message: "shutting down" } } });
    expect(await store.get("resp_2")).toBeUndefined();
  });
});

describe("input items", () => {
  it("become chat messages: developer as system, calls on the assistant turn, outputs as tool messages", () => {
    const items = normalizeInput([
      { role: "developer", content: "Be brief." },
      { type: "message", role: "user", content: [{ type: "input_text", text: "Weather?" }] },
      { type: "function_call", call_id: "c1", name: "w", arguments: "{}" },
      { type: "function_call_output", call_id: "c1", output: [{ type: "input_text", text: "Sunny" }] },
      { type: "reasoning", summary: [] },
    ]);
    expect(items.every((i) => i.id.length > 3)).toBe(true);
    expect(toChatMessages(items)).toEqual([
      { role: "system", content: "Be brief." },
      { role: "user", content: "Weather?" },
      { role: "assistant", content: "", toolCalls: [{ id: "c1", name: "w", arguments: "{}" }] },
      { role: "tool", toolCallId: "c1", content: "Sunny" },
    ]);
  });
});

describe("the in-memory response store", () => {
  const entry = (text: string): StoredResponse => ({ owner: "a", response: { text }, input: [], context: [] });

  it("evicts the least recently used entry past its count", async () => {
    const store = new MemoryResponseStore(2, 1 << 20, 60_000);
    await store.put("a", entry("a"));
    await store.put("b", entry("b"));
    await store.get("a"); // a is now more recent than b
    await store.put("c", entry("c"));
    expect(await store.get("b")).toBeUndefined();
    expect((await store.get("a"))!.response).toEqual({ text: "a" });
    expect(store.size).toBe(2);
  });

  it("evicts past its bytes, never keeps an entry larger than the whole store, and forgets entries past the TTL", async () => {
    const store = new MemoryResponseStore(100, 400, 60_000);
    await store.put("a", entry("x".repeat(150)));
    await store.put("b", entry("y".repeat(150)));
    expect(await store.get("a")).toBeUndefined();
    expect(await store.get("b")).toBeDefined();
    await store.put("huge", entry("z".repeat(1000)));
    expect(await store.get("huge")).toBeUndefined();
    expect(await store.get("b")).toBeDefined();

    const short = new MemoryResponseStore(10, 1 << 20, 1);
    await short.put("a", entry("a"));
    await new Promise((r) => setTimeout(r, 5));
    expect(await short.get("a")).toBeUndefined();
    expect(await short.delete("a")).toBe(false);
  });

  it("keeps each API key within its quota by evicting that key's own oldest responses, never another key's", async () => {
    const store = new MemoryResponseStore(100, 1 << 20, 60_000, { entries: 3, bytes: 1 << 20 });
    await store.put("alice-1", { ...entry("a"), owner: "alice" });
    for (let i = 1; i <= 5; i++) await store.put(`mallory-${i}`, { ...entry("m"), owner: "mallory" });
    expect(await store.get("alice-1")).toBeDefined();
    expect(await store.get("mallory-1")).toBeUndefined();
    expect(await store.get("mallory-2")).toBeUndefined();
    expect(await store.get("mallory-5")).toBeDefined();
    expect(store.size).toBe(4);

    const byBytes = new MemoryResponseStore(100, 1 << 20, 60_000, { entries: 100, bytes: 300 });
    await byBytes.put("alice", { ...entry("a"), owner: "alice" });
    await byBytes.put("m1", { ...entry("x".repeat(150)), owner: "mallory" });
    await byBytes.put("m2", { ...entry("y".repeat(150)), owner: "mallory" });
    expect(await byBytes.get("m1")).toBeUndefined();
    expect(await byBytes.get("m2")).toBeDefined();
    expect(await byBytes.get("alice")).toBeDefined();
  });

  it("hands out copies: a caller changing what it got changes nothing stored", async () => {
    const store = new MemoryResponseStore(10, 1 << 20, 60_000);
    await store.put("a", entry("a"));
    (await store.get("a"))!.response.text = "changed";
    expect((await store.get("a"))!.response).toEqual({ text: "a" });
  });
});
