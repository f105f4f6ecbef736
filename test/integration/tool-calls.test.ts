import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChatCompletionMessageParam, ChatCompletionTool } from "openai/resources/chat/completions";
import { jsonBody, postJson, startTestGateway, SYNTHETIC_57M, waitForIdleSlots, type TestGateway } from "../helpers/gateway.js";
import { TestSocket } from "../helpers/websocket.js";

// The story model cannot choose tools on its own; with tool_choice "required" or a named function the
// gateway's grammar holds it to the call format, so every call it makes must parse and match its schema.
const WEATHER: ChatCompletionTool = {
  type: "function",
  function: {
    name: "get_weather",
    description: "The weather in a city",
    parameters: {
      type: "object",
      properties: { city: { type: "string", maxLength: 12 }, unit: { enum: ["c", "f"] } },
      required: ["city", "unit"],
      additionalProperties: false,
    },
  },
};
const CLOCK: ChatCompletionTool = {
  type: "function",
  function: { name: "get_time", parameters: { type: "object", properties: { zone: { type: "string", maxLength: 8 } }, required: ["zone"] } },
};
const TOOLS = [WEATHER, CLOCK];
const ASK: ChatCompletionMessageParam[] = [{ role: "user", content: "What is the weather in Paris?" }];
const NAMED = { type: "function", function: { name: "get_weather" } } as const;

function expectWeatherArguments(text: string): void {
  const args = JSON.parse(text);
  expect(Object.keys(args).sort()).toEqual(["city", "unit"]);
  expect(typeof args.city).toBe("string");
  expect(args.city.length).toBeLessThanOrEqual(12);
  expect(["c", "f"]).toContain(args.unit);
}

function expectValidCall(call: { function: { name: string; arguments: string } }): void {
  if (call.function.name === "get_weather") return expectWeatherArguments(call.function.arguments);
  expect(call.function.name).toBe("get_time");
  expect(typeof JSON.parse(call.function.arguments).zone).toBe("string");
}

/** The tool calls a stream carries, put together from its delta.tool_calls as OpenAI's clients do. */
async function collectStreamedCalls(stream: AsyncIterable<{ choices: { delta: { tool_calls?: { index: number; id?: string; type?: string; function?: { name?: string; arguments?: string } }[] }; finish_reason: string | null }[] }>) {
  const calls: { id: string; name: string; arguments: string }[] = [];
  let finish: string | null = null;
  let firstDeltas = 0;
  for await (const chunk of stream) {
    const choice = chunk.choices[0];
    if (!choice) continue;
    finish ??= choice.finish_reason;
    for (const delta of choice.delta.tool_calls ?? []) {
      if (delta.id) {
        firstDeltas++;
        expect(delta).toMatchObject({ type: "function", function: { arguments: "" } });
        calls[delta.index] = { id: delta.id, name: delta.function!.name!, arguments: "" };
      } else calls[delta.index]!.arguments += delta.function?.arguments ?? "";
    }
  }
  return { calls, finish, firstDeltas };
}

describe("tool calls on a real model", () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ engine: { slots: 2, ctxSize: 1024 } });
  });
  afterAll(() => gw.close());

  it("calls a named function with arguments that match its schema, streamed the same as not", async () => {
    const body = { model: gw.model, messages: ASK, tools: TOOLS, tool_choice: NAMED, max_tokens: 60, temperature: 0 };
    const completion = await gw.client.chat.completions.create(body);
    const choice = completion.choices[0]!;
    expect(choice.finish_reason).toBe("tool_calls");
    expect(choice.message.content).toBeNull();
    expect(choice.message.tool_calls).toHaveLength(1);
    const call = choice.message.tool_calls![0]!;
    expect(call.id).toMatch(/^call_\w+$/);
    expect(call).toMatchObject({ type: "function", function: { name: "get_weather" } });
    expectWeatherArguments((call as { function: { arguments: string } }).function.arguments);

    const streamed = await collectStreamedCalls(await gw.client.chat.completions.create({ ...body, stream: true }));
    expect(streamed.finish).toBe("tool_calls");
    expect(streamed.firstDeltas).toBe(1);
    expect(streamed.calls.map((c) => [c.name, c.arguments])).toEqual([["get_weather", (call as { function: { arguments: string } }).function.arguments]]);
  });

  it("makes exactly one call with tool_choice required and parallel_tool_calls false", async () => {
    for (const seed of [1, 2]) {
      const completion = await gw.client.chat.completions.create({ model: gw.model, messages: ASK, tools: TOOLS, tool_choice: "required", parallel_tool_calls: false, max_tokens: 80, temperature: 1, seed });
      const calls = completion.choices[0]!.message.tool_calls!;
      expect(calls).toHaveLength(1);
      expectValidCall(calls[0] as never);
      expect(completion.choices[0]!.finish_reason).toBe("tool_calls");
    }
  });

  it("streams parallel calls with tool_choice required, each with its own index and id", async () => {
    const stream = await gw.client.chat.completions.create({ model: gw.model, messages: ASK, tools: TOOLS, tool_choice: "required", max_tokens: 150, temperature: 0, stream: true });
    const { calls, finish, firstDeltas } = await collectStreamedCalls(stream);
    expect(calls.length).toBeGreaterThanOrEqual(1);
    expect(firstDeltas).toBe(calls.length);
    expect(new Set(calls.map((c) => c.id)).size).toBe(calls.length);
    // The model may keep calling until max_tokens: only a call cut off by the limit may be incomplete.
    const complete = finish === "length" ? calls.slice(0, -1) : calls;
    expect(finish === "length" || finish === "tool_calls").toBe(true);
    for (const call of complete) expectValidCall({ function: call });
  });

  it("answers in text with tool_choice auto when the model writes no call, with the tools in its prompt", async () => {
    const plain = await gw.client.chat.completions.create({ model: gw.model, messages: ASK, max_tokens: 20, temperature: 0 });
    const auto = await gw.client.chat.completions.create({ model: gw.model, messages: ASK, tools: TOOLS, max_tokens: 20, temperature: 0 });
    expect(auto.choices[0]!.message.tool_calls ?? []).toEqual([]);
    expect(auto.choices[0]!.message.content!.length).toBeGreaterThan(0);
    expect(["stop", "length"]).toContain(auto.choices[0]!.finish_reason);
    expect(auto.usage!.prompt_tokens).toBeGreaterThan(plain.usage!.prompt_tokens + 20);
    const none = await gw.client.chat.completions.create({ model: gw.model, messages: ASK, tools: TOOLS, tool_choice: "none", max_tokens: 20, temperature: 0 });
    expect(none.usage!.prompt_tokens).toBe(plain.usage!.prompt_tokens);
    expect(none.choices[0]!.message.content).toBe(plain.choices[0]!.message.content);
  });

  it("completes a round trip with the SDK's runTools (streamed), then answers the tool's result in text", async () => {
    const seen: unknown[] = [];
    const runner = gw.client.chat.completions.runTools({
      model: gw.model,
      messages: ASK,
      tool_choice: NAMED,
      max_tokens: 60,
      temperature: 0,
      stream: true,
      tools: [
        {
          type: "function",
          function: {
            name: "get_weather",
            description: WEATHER.function.description!,
            parameters: WEATHER.function.parameters!,
            function: (args: unknown) => (seen.push(args), { temperature: 21, sky: "clear" }),
            parse: JSON.parse,
          },
        },
      ],
    });
    await runner.done();
    expect(seen).toHaveLength(1);
    expectWeatherArguments(JSON.stringify(seen[0]));
    const messages = runner.messages;
    expect(messages.map((m) => m.role)).toEqual(["user", "assistant", "tool"]);

    const withResult = await gw.client.chat.completions.create({ model: gw.model, messages: messages, tools: TOOLS, tool_choice: "none", max_tokens: 20, temperature: 0 });
    expect(withResult.choices[0]!.finish_reason).not.toBe("tool_calls");
    expect(withResult.choices[0]!.message.content!.length).toBeGreaterThan(0);
    // The result is part of the prompt: a longer result costs more prompt tokens.
    const longer = messages.map((m) => (m.role === "tool" ? { ...m, content: JSON.stringify({ temperature: 21, sky: "clear", wind: "light from the west", rain: "none today" }) } : m));
    const withLonger = await gw.client.chat.completions.create({ model: gw.model, messages: longer, tools: TOOLS, tool_choice: "none", max_tokens: 5, temperature: 0 });
    expect(withLonger.usage!.prompt_tokens).toBeGreaterThan(withResult.usage!.prompt_tokens + 5);
  });

  it("streams tool calls over WebSocket in the same chunks as SSE", async () => {
    const body = { model: gw.model, messages: ASK, tools: TOOLS, tool_choice: NAMED, max_tokens: 60, temperature: 0, stream: true as const };
    const sse = await collectStreamedCalls(await gw.client.chat.completions.create(body));
    const socket = await TestSocket.open(gw);
    socket.send({ type: "chat.completions.create", id: "t", body });
    await socket.next((m) => m.type === "done" && m.id === "t");
    async function* chunks() {
      for (const m of socket.forId("t")) if (m.type === "chunk") yield m.data;
    }
    const ws = await collectStreamedCalls(chunks());
    socket.close();
    expect(ws.finish).toBe("tool_calls");
    expect(ws.calls.map((c) => [c.name, c.arguments])).toEqual(sse.calls.map((c) => [c.name, c.arguments]));
  });

  it("relaxes schema keywords the grammar cannot enforce (pattern, minimum, allOf) instead of refusing the tool", async () => {
    const parameters = {
      $schema: "https://json-schema.org/draft/2020-12/schema",
      allOf: [
        { type: "object", properties: { city: { type: "string", pattern: "^[A-Z]", maxLength: 12 } }, required: ["city"] },
        { type: "object", properties: { days: { type: "integer", minimum: 1, maximum: 7 } }, required: ["days"] },
      ],
    };
    const response = await postJson(gw.baseURL, "/chat/completions", { model: gw.model, messages: ASK, max_tokens: 200, temperature: 0, tools: [{ type: "function", function: { name: "forecast", parameters } }], tool_choice: "required" });
    expect(response.status).toBe(200);
    const [call] = (await jsonBody(response)).choices[0].message.tool_calls;
    const args = JSON.parse(call.function.arguments);
    // The merged allOf held: both required properties, with their types.
    expect(typeof args.city).toBe("string");
    expect(Number.isInteger(args.days)).toBe(true);
  });

  it.each([
    ["tool_choice naming a function that is not offered", { tools: TOOLS, tool_choice: { type: "function", function: { name: "nope" } } }, "tool_choice.function.name"],
    ["tool_choice without tools", { tool_choice: "required" }, "tool_choice"],
    ["tools together with response_format", { tools: TOOLS, response_format: { type: "json_object" } }, "tools"],
    ["logprobs with tool_choice auto", { tools: TOOLS, logprobs: true }, "logprobs"],
    ["a tool result for a call never made", { messages: [...ASK, { role: "tool", tool_call_id: "call_x", content: "{}" }] }, "messages[1].tool_call_id"],
  ])("answers %s with 400", async (_name, extra, param) => {
    const response = await postJson(gw.baseURL, "/chat/completions", { model: gw.model, messages: ASK, max_tokens: 5, ...extra });
    expect(response.status).toBe(400);
    expect((await jsonBody(response)).error).toMatchObject({ type: "invalid_request_error", param });
  });
});

describe("tool calls on a slow model", () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ engine: { slots: 1, ctxSize: 2048 } }, SYNTHETIC_57M);
  });
  afterAll(() => gw.close());

  it.each([
    ["auto (node-llama-cpp's function calling)", "auto"],
    ["required (grammar-constrained JSON)", "required"],
  ])("frees the slot when a client leaves mid-stream with tool_choice %s", async (_name, tool_choice) => {
    const controller = new AbortController();
    const response = await postJson(gw.baseURL, "/chat/completions", { model: gw.model, messages: ASK, tools: TOOLS, tool_choice, max_tokens: 1500, stream: true }, { signal: controller.signal });
    const reader = response.body!.getReader();
    await reader.read();
    await reader.read();
    const before = gw.models.all()[0]!.stats().generatedTokens;
    controller.abort();
    await waitForIdleSlots(gw, 3_000);
    expect(gw.models.all()[0]!.stats().generatedTokens - before).toBeLessThan(200);
  });
});
