import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonBody, postJson, sseData, startTestGateway, type TestGateway } from "../helpers/gateway.js";
import { TestSocket } from "../helpers/websocket.js";

const MOOD_SCHEMA = {
  type: "object",
  properties: { happy: { type: "boolean" }, mood: { enum: ["sad", "glad", "calm"] } },
  required: ["happy", "mood"],
  additionalProperties: false,
};

describe("grammar-constrained output and sampling extensions", () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ engine: { slots: 2, ctxSize: 512 } });
  });
  afterAll(() => gw.close());
  const messages = [{ role: "user", content: "How is the cat?" }];

  it("makes json_schema output parse and validate, streamed and not", async () => {
    const response_format = { type: "json_schema", json_schema: { name: "mood", schema: MOOD_SCHEMA, strict: true } } as const;
    const completion = await gw.client.chat.completions.create({ model: gw.model, messages: messages as never, response_format, max_tokens: 60, temperature: 0.9, seed: 3 });
    const parsed = JSON.parse(completion.choices[0]!.message.content!);
    expect(Object.keys(parsed).sort()).toEqual(["happy", "mood"]);
    expect(typeof parsed.happy).toBe("boolean");
    expect(["sad", "glad", "calm"]).toContain(parsed.mood);
    expect(completion.choices[0]!.finish_reason).toBe("stop");

    const stream = await gw.client.chat.completions.create({ model: gw.model, messages: messages as never, response_format, max_tokens: 60, stream: true });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    expect(["sad", "glad", "calm"]).toContain(JSON.parse(text).mood);
  });

  it("constrains output over WebSocket too (json_schema and GBNF)", async () => {
    const socket = await TestSocket.open(gw);
    const response_format = { type: "json_schema", json_schema: { name: "mood", schema: MOOD_SCHEMA } };
    socket.send({ type: "chat.completions.create", id: "j", body: { model: gw.model, messages, response_format, max_tokens: 60, stream: true } });
    socket.send({ type: "completions.create", id: "g", body: { model: gw.model, prompt: "Is the sky blue?", grammar: 'root ::= "yes" | "no"', max_tokens: 8 } });
    await Promise.all(["j", "g"].map((id) => socket.next((m) => m.type === "done" && m.id === id)));
    const text = (id: string) => socket.forId(id).filter((m) => m.type === "chunk").map((m) => m.data.choices[0]?.delta?.content ?? m.data.choices[0]?.text ?? "").join("");
    socket.close();
    expect(["sad", "glad", "calm"]).toContain(JSON.parse(text("j")).mood);
    expect(["yes", "no"]).toContain(text("g"));
  });

  it("enforces anyOf, nullable and free-form objects (node-llama-cpp alone would turn them into null)", async () => {
    const schema = {
      type: "object",
      properties: { pick: { anyOf: [{ type: "boolean" }, { enum: ["x", "y"] }] }, note: { type: "string", maxLength: 8, nullable: true }, extra: { type: "object" } },
      required: ["pick", "note", "extra"],
    };
    for (const seed of [1, 2, 3]) {
      const completion = await gw.client.chat.completions.create({ model: gw.model, messages: messages as never, response_format: { type: "json_schema", json_schema: { name: "s", schema } }, max_tokens: 80, temperature: 1, seed });
      const parsed = JSON.parse(completion.choices[0]!.message.content!);
      expect(typeof parsed.pick === "boolean" || ["x", "y"].includes(parsed.pick)).toBe(true);
      expect(parsed.note === null || (typeof parsed.note === "string" && parsed.note.length <= 8)).toBe(true);
      expect(typeof parsed.extra === "object" && parsed.extra !== null && !Array.isArray(parsed.extra)).toBe(true);
    }
  });

  it("applies logit_bias as OpenAI does: +100 forces a token, -100 bans one, even end-of-text", async () => {
    const base = { model: gw.model, prompt: "Once upon a time", max_tokens: 6, temperature: 0 };
    const greedy = await gw.client.completions.create(base);
    const root = gw.baseURL.replace(/\/v1$/, "");
    const tokenize = async (content: string) => (await jsonBody(await postJson(root, "/tokenize", { model: gw.model, content }))).tokens as number[];
    const promptTokens = await tokenize(base.prompt);
    const firstAnswerToken = async (text: string) => (await tokenize(base.prompt + text))[promptTokens.length];
    const first = await firstAnswerToken(greedy.choices[0]!.text);
    const banned = await gw.client.completions.create({ ...base, logit_bias: { [String(first)]: -100 } });
    expect(await firstAnswerToken(banned.choices[0]!.text)).not.toBe(first);
    const forced = await gw.client.completions.create({ ...base, logit_bias: { "300": 100 }, logprobs: 0 });
    const tokens = forced.choices[0]!.logprobs!.tokens!;
    expect(tokens).toHaveLength(6);
    expect(new Set(tokens.slice(1)).size).toBe(1); // the same token every time (the first may differ by its leading space)
    expect((await jsonBody(await postJson(root, "/detokenize", { model: gw.model, tokens: [300] }))).content.trim()).toBe(tokens[1]!.trim());
    // Banning end-of-text (token 2 in this vocabulary) keeps a short-answering model going to max_tokens.
    const endless = await gw.client.completions.create({ ...base, max_tokens: 200, logit_bias: { "2": -100 } });
    expect(endless.usage!.completion_tokens).toBe(200);
    for (const logit_bias of [{ x: 1 }, { "5": 101 }, { "999999": 1 }]) {
      const response = await postJson(gw.baseURL, "/completions", { ...base, logit_bias });
      expect(response.status).toBe(400);
      expect((await jsonBody(response)).error.param).toMatch(/^logit_bias/);
    }
  });

  it("refuses a schema keyword it cannot enforce, naming it", async () => {
    const schema = { type: "object", properties: { name: { type: "string", pattern: "^[a-z]+$" } } };
    const response = await postJson(gw.baseURL, "/chat/completions", { model: gw.model, messages, response_format: { type: "json_schema", json_schema: { name: "x", schema } } });
    expect(response.status).toBe(400);
    const { error } = await jsonBody(response);
    expect(error).toMatchObject({ code: "unsupported_schema", param: "response_format.json_schema.schema.properties.name" });
    expect(error.message).toContain("'pattern'");
  });

  it("follows a GBNF grammar, and rejects one that does not compile", async () => {
    for (const seed of [1, 2, 3]) {
      const body = await jsonBody(await postJson(gw.baseURL, "/completions", { model: gw.model, prompt: "Is the sky blue?", grammar: 'root ::= "yes" | "no"', max_tokens: 8, seed }));
      expect(["yes", "no"]).toContain(body.choices[0].text);
    }
    const bad = await postJson(gw.baseURL, "/completions", { model: gw.model, prompt: "x", grammar: "root ::= (" });
    expect(bad.status).toBe(400);
    expect((await jsonBody(bad)).error).toMatchObject({ code: "invalid_grammar", param: "grammar" });
  });

  it("applies top_k (top_k 1 is greedy whatever the temperature) and validates the extensions", async () => {
    const base = { model: gw.model, prompt: "Once upon a time", max_tokens: 30 };
    const greedy = (await jsonBody(await postJson(gw.baseURL, "/completions", { ...base, temperature: 0 }))).choices[0].text;
    const topK = (await jsonBody(await postJson(gw.baseURL, "/completions", { ...base, temperature: 1.5, top_k: 1, seed: 9 }))).choices[0].text;
    expect(topK).toBe(greedy);
    const penalized = await postJson(gw.baseURL, "/completions", { ...base, temperature: 0, repeat_penalty: 1.3, min_p: 0.05, stream: true });
    expect(sseData(await penalized.text()).at(-1)).toBe("[DONE]");
    for (const extra of [{ top_k: -1 }, { min_p: 2 }, { repeat_penalty: -1 }]) {
      const response = await postJson(gw.baseURL, "/completions", { ...base, ...extra });
      expect(response.status).toBe(400);
      expect((await jsonBody(response)).error.param).toBe(Object.keys(extra)[0]);
    }
  });

  it("tokenizes and detokenizes with the model's vocabulary (/tokenize, /detokenize extensions)", async () => {
    const root = gw.baseURL.replace(/\/v1$/, "");
    const post = (path: string, body: object) => postJson(root, path, body);
    const plain = (await jsonBody(await post("/tokenize", { model: gw.model, content: "Once upon a time" }))).tokens as number[];
    const special = (await jsonBody(await post("/tokenize", { model: gw.model, content: "Once upon a time", add_special: true }))).tokens as number[];
    expect(plain.length).toBeGreaterThan(2);
    expect(special).toEqual([1, ...plain]); // BOS first
    expect((await jsonBody(await post("/detokenize", { model: gw.model, tokens: plain }))).content.trim()).toBe("Once upon a time");
    const pieces = (await jsonBody(await post("/tokenize", { model: gw.model, content: "a cat", with_pieces: true }))).tokens;
    expect(pieces.map((p: { piece: string }) => p.piece).join("").trim()).toBe("a cat");
    const bad = await post("/detokenize", { model: gw.model, tokens: [1, 99_999] });
    expect(bad.status).toBe(400);
    expect((await jsonBody(bad)).error).toMatchObject({ param: "tokens", code: "invalid_value" });
    expect((await post("/tokenize", { model: "nope", content: "x" })).status).toBe(404);
  });

  it("embeds a string or a batch with the openai SDK, as floats or base64", async () => {
    const batch = await gw.client.embeddings.create({ model: gw.model, input: ["Once upon a time", "A cat sat on the mat", "Once upon a time"] });
    expect(batch.data.map((d) => d.index)).toEqual([0, 1, 2]);
    const [a, b, again] = batch.data.map((d) => d.embedding);
    expect(a!.length).toBeGreaterThan(8);
    expect(b!.length).toBe(a!.length);
    expect(again).toEqual(a); // the same text, the same vector
    expect(b).not.toEqual(a);
    expect(batch.usage.prompt_tokens).toBeGreaterThan(6);
    const single = await postJson(gw.baseURL, "/embeddings", { model: gw.model, input: "Once upon a time", encoding_format: "base64" });
    const encoded = (await jsonBody(single)).data[0].embedding as string;
    const bytes = Buffer.from(encoded, "base64");
    const decoded = [...new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4)];
    expect(decoded).toEqual(a!.map((x) => Math.fround(x)));
    const resized = await postJson(gw.baseURL, "/embeddings", { model: gw.model, input: "x", dimensions: 3 });
    expect(resized.status).toBe(400);
    expect((await jsonBody(resized)).error.param).toBe("dimensions");
  });

  it("never lets a stop string leak, even one that spans two tokens of a stream", async () => {
    const root = gw.baseURL.replace(/\/v1$/, "");
    const base = { model: gw.model, prompt: "Once upon a time", max_tokens: 40, temperature: 0 };
    const free = (await jsonBody(await postJson(gw.baseURL, "/completions", base))).choices[0].text as string;
    // A stop string made of the end of one generated token and the start of the next.
    const { tokens } = await jsonBody(await postJson(root, "/tokenize", { model: gw.model, content: free, with_pieces: true }));
    const boundary = tokens.slice(0, 8).reduce((length: number, t: { piece: string }) => length + t.piece.length, 0);
    const stop = free.slice(boundary - 2, boundary + 2);
    expect(stop.length).toBe(4);
    const expected = free.slice(0, free.indexOf(stop));
    const whole = await jsonBody(await postJson(gw.baseURL, "/completions", { ...base, stop }));
    expect(whole.choices[0]).toMatchObject({ text: expected, finish_reason: "stop" });
    const streamed = sseData(await (await postJson(gw.baseURL, "/completions", { ...base, stop, stream: true })).text())
      .filter((d) => d !== "[DONE]")
      .map((d) => JSON.parse(d).choices[0]?.text ?? "")
      .join("");
    expect(streamed).toBe(expected);
  });
});
