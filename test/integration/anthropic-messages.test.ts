import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonBody, postJson, startTestGateway, SYNTHETIC_57M, waitForIdleSlots, type TestGateway } from "../helpers/gateway.js";
import { TestSocket } from "../helpers/websocket.js";

const KEY = "sk-claude-client-0123456789";
const LIMITED = "sk-limited-0123456789"; // one request per minute

// The official @anthropic-ai/sdk pointed at the gateway, on a real model.
describe("Anthropic Messages API with @anthropic-ai/sdk", () => {
  let gw: TestGateway;
  let client: Anthropic;
  beforeAll(async () => {
    gw = await startTestGateway({ engine: { slots: 2, ctxSize: 1024 }, auth: { keys: [{ name: "claude", key: KEY }, { name: "limited", key: LIMITED, limits: { rpm: 1 } }] } });
    client = new Anthropic({ baseURL: gw.baseURL.replace(/\/v1$/, ""), apiKey: KEY, maxRetries: 0 });
  });
  afterAll(() => gw.close());

  const ask = { model: "test-model", max_tokens: 16, messages: [{ role: "user" as const, content: "Tell me a story about a cat." }] };
  // temperature is part of the Messages API the gateway serves, though this SDK version's types leave it out.
  const GREEDY = { temperature: 0 };

  it("answers messages.create with a Message: text content, stop reason and usage", async () => {
    const message = await client.messages.create({ ...ask, system: [{ type: "text", text: "You tell stories.", cache_control: { type: "ephemeral" } }], ...GREEDY });
    expect(message).toMatchObject({ type: "message", role: "assistant", model: "test-model" });
    expect(message.id).toMatch(/^msg_/);
    expect(message.content[0]!.type).toBe("text");
    expect(["end_turn", "max_tokens"]).toContain(message.stop_reason);
    expect(message.usage.input_tokens).toBeGreaterThan(5);
    expect(message.usage.output_tokens).toBeGreaterThan(0);
  });

  it("streams events the SDK assembles with messages.stream() and finalMessage(), equal to the unstreamed answer", async () => {
    const whole = await client.messages.create({ ...ask, ...GREEDY, max_tokens: 24 });
    const stream = client.messages.stream({ ...ask, ...GREEDY, max_tokens: 24 });
    const deltas: string[] = [];
    stream.on("text", (text) => deltas.push(text));
    const final = await stream.finalMessage();
    expect(deltas.length).toBeGreaterThan(1);
    expect(final.content).toEqual(whole.content);
    expect(final.stop_reason).toBe(whole.stop_reason);
    expect(final.usage.output_tokens).toBe(whole.usage.output_tokens);
  });

  it("sends Anthropic's named SSE events in order", async () => {
    const response = await postJson(gw.baseURL, "/messages", { ...ask, stream: true }, { headers: { "content-type": "application/json", "x-api-key": KEY, "anthropic-version": "2023-06-01" } });
    const events = (await response.text()).split("\n\n").filter(Boolean).map((frame) => frame.split("\n")[0]!.replace("event: ", ""));
    expect(events.slice(0, 4)).toEqual(["message_start", "ping", "content_block_start", "content_block_delta"]);
    expect(events.slice(-3)).toEqual(["content_block_stop", "message_delta", "message_stop"]);
    expect(events).not.toContain("error");
  });

  it("stops at a stop sequence, never leaking it, with stop_reason stop_sequence", async () => {
    const free = await client.messages.create({ ...ask, ...GREEDY, max_tokens: 60 });
    const text = (free.content[0] as { text: string }).text;
    const stop = text.slice(10, 14);
    const stopped = await client.messages.create({ ...ask, ...GREEDY, max_tokens: 60, stop_sequences: [stop] });
    expect(stopped.stop_reason).toBe("stop_sequence");
    expect(stopped.stop_sequence).toBe(stop);
    expect((stopped.content[0] as { text: string }).text).toBe(text.slice(0, text.indexOf(stop)));
  });

  it("forces a tool call with tool_choice any, whose input matches the schema, then takes its tool_result", async () => {
    const tools = [{ name: "get_weather", description: "Weather in a city", input_schema: { type: "object" as const, properties: { city: { type: "string", enum: ["Paris", "Rome"] } }, required: ["city"] } }];
    const message = await client.messages.create({ ...ask, ...GREEDY, max_tokens: 100, tools, tool_choice: { type: "any", disable_parallel_tool_use: true } });
    expect(message.stop_reason).toBe("tool_use");
    const call = message.content.find((b) => b.type === "tool_use")!;
    expect(call).toMatchObject({ type: "tool_use", name: "get_weather" });
    expect(["Paris", "Rome"]).toContain((call as { input: { city: string } }).input.city);
    const next = await client.messages.create({
      ...ask,
      tools,
      messages: [...ask.messages, { role: "assistant", content: message.content }, { role: "user", content: [{ type: "tool_result", tool_use_id: (call as { id: string }).id, content: "21 degrees" }] }],
    });
    expect(next.content.length).toBeGreaterThan(0);
  });

  it("streams the same events over the WebSocket (messages.create)", async () => {
    const socket = await TestSocket.open(gw, { headers: { "x-api-key": KEY } });
    socket.send({ type: "messages.create", id: "m1", body: { ...ask, temperature: 0 } });
    const done = await socket.next((m) => m.type === "done" && m.id === "m1");
    const types = socket.forId("m1").filter((m) => m.type === "chunk").map((m) => m.data.type);
    expect(types[0]).toBe("message_start");
    expect(types.slice(-2)).toEqual(["message_delta", "message_stop"]);
    expect(done.usage.completion_tokens).toBeGreaterThan(0);
    socket.send({ type: "messages.create", id: "bad", body: { model: "test-model", messages: ask.messages } }); // no max_tokens
    const error = await socket.next((m) => m.type === "error" && m.id === "bad");
    expect(error.status).toBe(400);
    expect(Object.keys(error.error).sort()).toEqual(["message", "type"]); // Anthropic's error object, not OpenAI's
    expect(error.error.type).toBe("invalid_request_error");
    socket.close();
  });

  it("counts tokens as the engine evaluates them", async () => {
    const counted = await client.messages.countTokens({ model: "test-model", messages: ask.messages });
    const answered = await client.messages.create({ ...ask, max_tokens: 1 });
    // Anthropic's input_tokens leave out cache reads; count_tokens counts the whole prompt.
    expect(counted.input_tokens).toBe(answered.usage.input_tokens + (answered.usage.cache_read_input_tokens ?? 0));
  });

  it("answers a wrong key with 401 and a rate limit with 429, in Anthropic's error shape, as the SDK reads them", async () => {
    const wrong = await new Anthropic({ baseURL: gw.baseURL.replace(/\/v1$/, ""), apiKey: "sk-wrong-0123456789", maxRetries: 0 }).messages.create(ask).catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(Anthropic.AuthenticationError);
    expect((wrong as InstanceType<typeof Anthropic.AuthenticationError>).error).toMatchObject({ type: "error", error: { type: "authentication_error" } });
    const limited = new Anthropic({ baseURL: gw.baseURL.replace(/\/v1$/, ""), apiKey: LIMITED, maxRetries: 0 });
    await limited.messages.create({ ...ask, max_tokens: 1 });
    const refused = await limited.messages.create({ ...ask, max_tokens: 1 }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(Anthropic.RateLimitError);
    expect((refused as InstanceType<typeof Anthropic.RateLimitError>).headers?.get("retry-after")).toBeTruthy();
  });

  it.each([
    ["missing max_tokens", { model: "test-model", messages: ask.messages }, /max_tokens/],
    ["an image block", { ...ask, messages: [{ role: "user", content: [{ type: "image", source: { type: "base64", media_type: "image/png", data: "AAAA" } }] }] }, /image/],
    ["an unknown role", { ...ask, messages: [{ role: "wizard", content: "x" }] }, /role/],
    ["tool_choice naming no tool", { ...ask, tools: [{ name: "a", input_schema: { type: "object" } }], tool_choice: { type: "tool", name: "b" } }, /tool_choice/],
  ])("answers %s with 400 in Anthropic's shape", async (_, body, message) => {
    const response = await postJson(gw.baseURL, "/messages", body, { headers: { "content-type": "application/json", "x-api-key": KEY } });
    expect(response.status).toBe(400);
    const error = await jsonBody(response);
    expect(Object.keys(error).sort()).toEqual(["error", "type"]);
    expect(error).toMatchObject({ type: "error", error: { type: "invalid_request_error" } });
    expect(error.error.message).toMatch(message);
  });
});

describe("an Anthropic client leaving mid-stream", () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ engine: { slots: 1, ctxSize: 2048 } }, SYNTHETIC_57M);
  });
  afterAll(() => gw.close());

  it("frees the only slot", async () => {
    const client = new Anthropic({ baseURL: gw.baseURL.replace(/\/v1$/, ""), apiKey: "unused", maxRetries: 0 });
    // Greedy: with random weights, a sampled answer ends at once now and then (an end-of-text token drawn first).
    const greedy = { temperature: 0 }; // in the Messages API, though this SDK version's types leave it out
    const stream = client.messages.stream({ model: "test-model", max_tokens: 1500, messages: [{ role: "user", content: "Once" }], ...greedy });
    const ended = stream.done().then(() => "completed", (error: Error) => error.name); // the SDK rejects its promise on abort
    const first = await Promise.race([new Promise<string>((resolve) => stream.on("text", () => resolve("text"))), ended]);
    expect(first).toBe("text");
    stream.abort();
    expect(await ended).toBe("APIUserAbortError");
    await waitForIdleSlots(gw, 3_000);
    const next = await client.messages.create({ model: "test-model", max_tokens: 3, messages: [{ role: "user", content: "Hi" }], ...greedy });
    expect(next.usage.output_tokens).toBeGreaterThan(0);
  });
});
