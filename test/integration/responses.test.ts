import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonBody, postJson, startTestGateway, SYNTHETIC_57M, waitForIdleSlots, type TestGateway } from "../helpers/gateway.js";
import { REDIS_URL } from "../helpers/redis.js";
import { TestSocket } from "../helpers/websocket.js";

const ALICE = "sk-alice-responses-0123456789";
const BOB = "sk-bob-responses-0123456789";
const LIMITED = "sk-limited-responses-0123456789"; // one request per minute
const GREEDY = { temperature: 0 };

// The official `openai` SDK's Responses API pointed at the gateway, on a real model.
describe("OpenAI Responses API with the openai SDK", () => {
  let gw: TestGateway;
  let alice: OpenAI;
  let bob: OpenAI;
  const auth = (key: string) => ({ headers: { "content-type": "application/json", authorization: `Bearer ${key}` } });
  beforeAll(async () => {
    gw = await startTestGateway({ engine: { slots: 1, ctxSize: 1024 }, auth: { keys: [{ name: "alice", key: ALICE }, { name: "bob", key: BOB }, { name: "limited", key: LIMITED, limits: { rpm: 1 } }] } });
    alice = new OpenAI({ baseURL: gw.baseURL, apiKey: ALICE, maxRetries: 0 });
    bob = new OpenAI({ baseURL: gw.baseURL, apiKey: BOB, maxRetries: 0 });
  });
  afterAll(() => gw.close());

  const model = "test-model";

  it("answers responses.create with a Response: a message item, output_text, usage and the settings echoed", async () => {
    const response = await alice.responses.create({ model, input: "Tell me a story", instructions: "You tell stories.", max_output_tokens: 24, metadata: { case: "plain" }, ...GREEDY });
    expect(response.id).toMatch(/^resp_/);
    expect(response).toMatchObject({ object: "response", model, instructions: "You tell stories.", max_output_tokens: 24, metadata: { case: "plain" }, temperature: 0, store: true, error: null });
    expect(["completed", "incomplete"]).toContain(response.status);
    const message = response.output[0]!;
    expect(message.type).toBe("message");
    if (message.type !== "message") throw new Error("no message");
    expect(message.id).toMatch(/^msg_/);
    expect(message.content[0]!.type).toBe("output_text");
    expect(response.output_text.length).toBeGreaterThan(0);
    expect(response.usage!.input_tokens).toBeGreaterThan(5);
    expect(response.usage!.output_tokens).toBeGreaterThan(0);
    expect(response.usage!.total_tokens).toBe(response.usage!.input_tokens + response.usage!.output_tokens);
    expect(response.usage!.output_tokens_details.reasoning_tokens).toBe(0);
  });

  it("stops at max_output_tokens with status incomplete, streamed or not", async () => {
    const response = await alice.responses.create({ model, input: "Once upon a time", max_output_tokens: 3 });
    expect(response.status).toBe("incomplete");
    expect(response.incomplete_details).toEqual({ reason: "max_output_tokens" });
    expect(response.usage!.output_tokens).toBe(3);
    const stream = await alice.responses.create({ model, input: "Once upon a time", max_output_tokens: 3, stream: true });
    const types: string[] = [];
    for await (const event of stream) types.push(event.type);
    expect(types.at(-1)).toBe("response.incomplete");
  });

  it("streams OpenAI's named events in order, each with a rising sequence_number", async () => {
    const response = await postJson(gw.baseURL, "/responses", { model, input: "Tell me a story", max_output_tokens: 8, stream: true, ...GREEDY }, auth(ALICE));
    expect(response.headers.get("content-type")).toMatch(/text\/event-stream/);
    const frames = (await response.text()).split("\n\n").filter((f) => f.startsWith("event: "));
    const events = frames.map((frame) => {
      const [eventLine, dataLine] = frame.split("\n");
      const data = JSON.parse(dataLine!.slice("data: ".length));
      expect(data.type).toBe(eventLine!.slice("event: ".length));
      return data;
    });
    const types = events.map((e) => e.type);
    expect(types.slice(0, 4)).toEqual(["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added"]);
    expect(types.filter((t) => t === "response.output_text.delta").length).toBeGreaterThan(1);
    expect(types.slice(-4, -1)).toEqual(["response.output_text.done", "response.content_part.done", "response.output_item.done"]);
    expect(["response.completed", "response.incomplete"]).toContain(types.at(-1));
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    const done = events.find((e) => e.type === "response.output_text.done");
    expect(done.text).toBe(events.filter((e) => e.type === "response.output_text.delta").map((e) => e.delta).join(""));
    expect(events[0].response.status).toBe("in_progress");
  });

  it("assembles a stream with responses.stream() into the same response GET returns", async () => {
    const stream = alice.responses.stream({ model, input: "Tell me a story about a cat", max_output_tokens: 16, ...GREEDY });
    const deltas: string[] = [];
    stream.on("response.output_text.delta", (event) => deltas.push(event.delta));
    const final = await stream.finalResponse();
    expect(deltas.length).toBeGreaterThan(1);
    expect(final.output_text).toBe(deltas.join(""));
    const stored = await alice.responses.retrieve(final.id);
    expect(stored.output_text).toBe(final.output_text);
    expect(stored.output.map((item) => item.id)).toEqual(final.output.map((item) => item.id));
    expect(stored.usage).toEqual(final.usage);
    const whole = await alice.responses.create({ model, input: "Tell me a story about a cat", max_output_tokens: 16, ...GREEDY });
    expect(whole.output_text).toBe(final.output_text);
  });

  it("continues a conversation with previous_response_id, reusing the cached prefix; GET, input_items and DELETE", async () => {
    const first = await alice.responses.create({ model, input: "Tell me a story about a dog.", instructions: "Be brief.", max_output_tokens: 20, ...GREEDY });
    // As OpenAI's, instructions are not carried over: a client sends them with every turn.
    const second = await alice.responses.create({ model, previous_response_id: first.id, instructions: "Be brief.", input: [{ role: "user", content: "What happened next?" }], max_output_tokens: 20, ...GREEDY });
    expect(second.previous_response_id).toBe(first.id);
    expect(second.usage!.input_tokens).toBeGreaterThan(first.usage!.input_tokens + first.usage!.output_tokens - 2);
    expect(second.usage!.input_tokens_details.cached_tokens).toBeGreaterThan(first.usage!.input_tokens / 2);

    expect((await alice.responses.retrieve(second.id)).output_text).toBe(second.output_text);
    const items = await alice.responses.inputItems.list(second.id);
    expect(items.data).toHaveLength(1); // this turn's input only
    expect(items.data[0]).toMatchObject({ type: "message", role: "user", content: [{ type: "input_text", text: "What happened next?" }] });

    await alice.responses.delete(first.id);
    await expect(alice.responses.retrieve(first.id)).rejects.toMatchObject({ status: 404 });
    // The second turn holds the whole conversation: it still continues after the first is deleted.
    const third = await alice.responses.create({ model, previous_response_id: second.id, input: "And then?", max_output_tokens: 4 });
    expect(third.usage!.input_tokens).toBeGreaterThan(second.usage!.input_tokens);
  });

  it("pages input_items in either order", async () => {
    const input = ["one", "two", "three"].map((text) => ({ role: "user" as const, content: text }));
    const response = await alice.responses.create({ model, input, max_output_tokens: 2 });
    const desc = await alice.responses.inputItems.list(response.id, { limit: 2 });
    expect(desc.data.map((i) => (i as { content: { text: string }[] }).content[0]!.text)).toEqual(["three", "two"]);
    expect(desc.has_more).toBe(true);
    const rest = await alice.responses.inputItems.list(response.id, { limit: 2, after: desc.data[1]!.id });
    expect(rest.data.map((i) => (i as { content: { text: string }[] }).content[0]!.text)).toEqual(["one"]);
    const asc = await alice.responses.inputItems.list(response.id, { order: "asc" });
    expect(asc.data.map((i) => (i as { content: { text: string }[] }).content[0]!.text)).toEqual(["one", "two", "three"]);
  });

  it("keeps a stored response to the key that created it", async () => {
    const response = await alice.responses.create({ model, input: "A secret story", max_output_tokens: 4 });
    await expect(bob.responses.retrieve(response.id)).rejects.toMatchObject({ status: 404 });
    await expect(bob.responses.delete(response.id)).rejects.toMatchObject({ status: 404 });
    await expect(bob.responses.create({ model, input: "go on", previous_response_id: response.id })).rejects.toMatchObject({ status: 404, error: { param: "previous_response_id", code: "previous_response_not_found" } });
    expect((await alice.responses.retrieve(response.id)).id).toBe(response.id);
  });

  it("does not keep a response sent with store: false", async () => {
    const response = await alice.responses.create({ model, input: "Not kept", max_output_tokens: 4, store: false });
    expect((response as unknown as { store: boolean }).store).toBe(false); // in the API's object, not in the SDK's type
    await expect(alice.responses.retrieve(response.id)).rejects.toMatchObject({ status: 404 });
  });

  it("forces a function call (tool_choice required) and takes its output in the next turn", async () => {
    const tools: OpenAI.Responses.FunctionTool[] = [
      { type: "function", name: "get_weather", description: "Weather in a city", strict: true, parameters: { type: "object", properties: { city: { type: "string", maxLength: 12 } }, required: ["city"], additionalProperties: false } },
    ];
    const first = await alice.responses.create({ model, input: "What is the weather in Paris?", tools, tool_choice: "required", parallel_tool_calls: false, max_output_tokens: 100, ...GREEDY });
    const call = first.output.find((item) => item.type === "function_call");
    if (!call || call.type !== "function_call") throw new Error(`no function call: ${JSON.stringify(first.output)}`);
    expect(call.name).toBe("get_weather");
    expect(call.call_id.length).toBeGreaterThan(0);
    expect(call.id).toMatch(/^fc_/);
    expect(typeof JSON.parse(call.arguments).city).toBe("string");
    expect(first.status).toBe("completed");

    const second = await alice.responses.create({
      model,
      previous_response_id: first.id,
      input: [{ type: "function_call_output", call_id: call.call_id, output: "Sunny, 21 degrees" }],
      tools,
      max_output_tokens: 8,
    });
    expect(second.output.some((item) => item.type === "message")).toBe(true);
    expect(second.usage!.input_tokens).toBeGreaterThan(first.usage!.input_tokens);

    // A named function streams its arguments.
    const stream = alice.responses.stream({ model, input: "Weather in Rome?", tools, tool_choice: { type: "function", name: "get_weather" }, parallel_tool_calls: false, max_output_tokens: 100, ...GREEDY });
    const types = new Set<string>();
    for await (const event of stream) types.add(event.type);
    const final = await stream.finalResponse();
    expect(types).toContain("response.function_call_arguments.delta");
    expect(types).toContain("response.function_call_arguments.done");
    const streamed = final.output.find((item) => item.type === "function_call");
    expect(streamed && streamed.type === "function_call" && JSON.parse(streamed.arguments)).toHaveProperty("city");
  });

  it("answers in JSON that follows text.format json_schema", async () => {
    const schema = { type: "object", properties: { name: { type: "string" }, age: { type: "integer" } }, required: ["name", "age"], additionalProperties: false };
    const response = await alice.responses.create({ model, input: "A person as JSON", text: { format: { type: "json_schema", name: "person", schema, strict: true } }, max_output_tokens: 80, ...GREEDY });
    const person = JSON.parse(response.output_text);
    expect(typeof person.name).toBe("string");
    // An integer, however long (a long one parses to a float or Infinity in JavaScript).
    expect(response.output_text).toMatch(/"age"\s*:\s*-?\d+\s*[,}]/);
    expect(Object.keys(person).sort()).toEqual(["age", "name"]);
    expect(response.text?.format).toMatchObject({ type: "json_schema", name: "person" });
  });

  it("returns token log-probabilities when include asks for them", async () => {
    const response = await alice.responses.create({ model, input: "Once", max_output_tokens: 4, include: ["message.output_text.logprobs"], top_logprobs: 2 });
    const message = response.output[0]!;
    if (message.type !== "message" || message.content[0]!.type !== "output_text") throw new Error("no text");
    const logprobs = message.content[0]!.logprobs!;
    expect(logprobs).toHaveLength(response.usage!.output_tokens);
    expect(logprobs[0]!.top_logprobs).toHaveLength(2);
  });

  it("counts input tokens as the prompt takes them", async () => {
    const response = await alice.responses.create({ model, input: "Count me", instructions: "Be brief.", max_output_tokens: 2 });
    const count = await alice.responses.inputTokens.count({ model, input: "Count me", instructions: "Be brief." });
    expect(count).toEqual({ object: "response.input_tokens", input_tokens: response.usage!.input_tokens });
  });

  it("drops the oldest turns with truncation auto; disabled answers 400 naming input", async () => {
    const long = Array.from({ length: 24 }, (_, i) => ({ role: i % 2 ? ("assistant" as const) : ("user" as const), content: `Turn ${i}: ${"once upon a time there was a little cat who liked to play ".repeat(2)}` }));
    await expect(alice.responses.create({ model, input: long, max_output_tokens: 16 })).rejects.toMatchObject({ status: 400, error: { param: "input", code: "context_length_exceeded" } });
    const response = await alice.responses.create({ model, input: long, truncation: "auto", max_output_tokens: 16 });
    expect(response.truncation).toBe("auto");
    expect(response.usage!.input_tokens + 16).toBeLessThanOrEqual(1024);
    expect(response.usage!.input_tokens).toBeGreaterThan(600); // only as many of the oldest turns as needed are dropped
  });

  it("rejects what it cannot serve with a 400 naming the parameter, and loses nothing", async () => {
    const bad: [object, string][] = [
      [{ background: true }, "background"],
      [{ tools: [{ type: "namespace", tools: [] }] }, "tools[0]"],
      [{ tools: [{ type: "function", name: "bad name!", parameters: {} }] }, "tools[0].name"],
      [{ input: [{ role: "user", content: [{ type: "input_image", image_url: "https://x/y.png" }] }] }, "input[0].content[0].type"],
      [{ input: [{ type: "item_reference", id: "msg_1" }] }, "input[0].type"],
      [{ input: [{ role: "robot", content: "hi" }] }, "input[0].role"],
      [{ input: [{ type: "function_call_output", output: "x" }] }, "input[0].call_id"],
      [{ tool_choice: "required" }, "tool_choice"],
      [{ tool_choice: { type: "file_search" } }, "tool_choice.type"],
      [{ tools: [{ type: "web_search_preview" }], tool_choice: { type: "web_search_preview" } }, "tool_choice.type"],
      [{ temperature: 3 }, "temperature"],
      [{ truncation: "sometimes" }, "truncation"],
      [{ conversation: "conv_1" }, "conversation"],
      [{ input: [] }, "input"],
      [{ text: { format: { type: "json_schema", name: "x" } } }, "text.format.schema"],
      [{ text: { format: { type: "json_schema", schema: {} } } }, "text.format.name"],
      [{ text: { format: { type: "yaml" } } }, "text.format.type"],
    ];
    for (const [fields, param] of bad) {
      const response = await postJson(gw.baseURL, "/responses", { model, input: "hi", ...fields }, auth(ALICE));
      const body = await jsonBody(response);
      expect({ param, status: response.status }).toEqual({ param, status: 400 });
      expect(body.error).toMatchObject({ type: "invalid_request_error", param });
    }
    const unknown = await postJson(gw.baseURL, "/responses", { model, input: "hi", previous_response_id: "resp_nope" }, auth(ALICE));
    expect(unknown.status).toBe(404);
    expect((await jsonBody(unknown)).error).toMatchObject({ param: "previous_response_id", code: "previous_response_not_found" });
    expect((await alice.responses.create({ model, input: "still fine", max_output_tokens: 2 })).status).toBe("incomplete");
  });

  it("charges the same rate limits as chat: a key over its rpm gets OpenAI's 429", async () => {
    const limited = new OpenAI({ baseURL: gw.baseURL, apiKey: LIMITED, maxRetries: 0 });
    await limited.responses.create({ model, input: "one", max_output_tokens: 2 });
    await expect(limited.responses.create({ model, input: "two", max_output_tokens: 2 })).rejects.toMatchObject({ status: 429, error: { type: "requests" } });
    const metrics = await (await fetch(`${gw.baseURL.replace(/\/v1$/, "")}/metrics`)).text();
    expect(metrics).toMatch(/llm_gateway_rate_limit_rejections_total\{limit="requests"\} [1-9]/);
  });

  it("streams the same events over the WebSocket as responses.create", async () => {
    const socket = await TestSocket.open(gw, { headers: { authorization: `Bearer ${ALICE}` } });
    try {
      socket.send({ type: "responses.create", id: "r1", body: { model, input: "Tell me a story", max_output_tokens: 6 } });
      const done = await socket.next((m) => m.id === "r1" && (m.type === "done" || m.type === "error"));
      expect(done.type).toBe("done");
      const types = socket.forId("r1").filter((m) => m.type === "chunk").map((m) => m.data.type);
      expect(types.slice(0, 2)).toEqual(["response.created", "response.in_progress"]);
      expect(types).toContain("response.output_text.delta");
      expect(types.at(-1)).toBe("response.incomplete");
      const id = socket.forId("r1").at(-2).data.response.id;
      expect((await alice.responses.retrieve(id)).id).toBe(id);
      socket.send({ type: "responses.create", id: "r2", body: { model, input: "hi", previous_response_id: "resp_missing" } });
      const error = await socket.next((m) => m.id === "r2" && m.type === "error");
      expect(error).toMatchObject({ status: 404, error: { param: "previous_response_id" } });
    } finally {
      socket.close();
    }
  });
});

describe("Responses API: a client that leaves, and a conversation across instances", () => {
  it("frees the only slot when a streamed response is aborted", async () => {
    const gw = await startTestGateway({ engine: { slots: 1 } }, SYNTHETIC_57M);
    try {
      const engine = gw.models.all()[0]!;
      const before = engine.stats().generatedTokens;
      const controller = new AbortController();
      const stream = await gw.client.responses.create({ model: gw.model, input: "Tell me a long story", max_output_tokens: 400, temperature: 0, stream: true }, { signal: controller.signal });
      let deltas = 0;
      for await (const event of stream) if (event.type === "response.output_text.delta" && ++deltas === 3) controller.abort();
      // The SDK ends the iteration quietly on abort.
      expect(deltas).toBeGreaterThanOrEqual(3);
      expect(deltas).toBeLessThan(20);
      await waitForIdleSlots(gw, 1_000);
      // Had the generation run on, it would have produced all 400 tokens (random weights rarely end sooner).
      expect(engine.stats().generatedTokens - before).toBeLessThan(200);
      const next = await gw.client.responses.create({ model: gw.model, input: "Next", max_output_tokens: 2 });
      expect(next.status).toBe("incomplete");
    } finally {
      await gw.close();
    }
  });

  it("continues a conversation on a second instance sharing one Redis", async () => {
    const responses = { store: "redis", redisUrl: REDIS_URL, keyPrefix: `test:resp:${process.pid}:${Date.now()}:` };
    const [a, b] = await Promise.all([startTestGateway({ responses }), startTestGateway({ responses })]);
    try {
      const first = await a.client.responses.create({ model: a.model, input: "Tell me a story about a bird.", max_output_tokens: 12, ...GREEDY });
      const second = await b.client.responses.create({ model: b.model, previous_response_id: first.id, input: "What did the bird do?", max_output_tokens: 12, ...GREEDY });
      expect(second.usage!.input_tokens).toBeGreaterThan(first.usage!.input_tokens + first.usage!.output_tokens);
      expect((await a.client.responses.retrieve(second.id)).output_text).toBe(second.output_text);
      await b.client.responses.delete(first.id);
      await expect(a.client.responses.retrieve(first.id)).rejects.toMatchObject({ status: 404 });
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
