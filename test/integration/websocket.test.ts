import { once } from "node:events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { jsonBody, postJson, sseData, startTestGateway, SYNTHETIC_57M, waitForIdleSlots, type TestGateway } from "../helpers/gateway.js";
import { TestSocket, type Message } from "../helpers/websocket.js";
import { until } from "../helpers/until.js";

const completion = (id: string, body: object) => ({ type: "completions.create", id, body });

describe("WebSocket streaming on a real model", () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ engine: { slots: 2, ctxSize: 512 }, ws: { maxMessageBytes: 2048, closeAboveBytes: 8192 } });
  });
  afterAll(() => gw.close());

  it("streams two interleaved requests on one socket, each tagged with its id", async () => {
    const socket = await TestSocket.open(gw);
    socket.send(completion("a", { model: gw.model, prompt: "Once upon a time", max_tokens: 150, ignore_eos: true, temperature: 0 }));
    socket.send({ type: "chat.completions.create", id: "b", body: { model: gw.model, messages: [{ role: "user", content: "Hi" }], max_tokens: 150, ignore_eos: true, temperature: 0 } });
    const [doneA, doneB] = await Promise.all([socket.next((m) => m.type === "done" && m.id === "a"), socket.next((m) => m.type === "done" && m.id === "b")]);
    expect(doneA.usage.completion_tokens).toBe(150);
    expect(doneB.usage.completion_tokens).toBe(150);
    const chunksA = socket.forId("a").filter((m) => m.type === "chunk");
    const chunksB = socket.forId("b").filter((m) => m.type === "chunk");
    expect(chunksA.every((m) => m.data.object === "text_completion")).toBe(true);
    expect(chunksB.every((m) => m.data.object === "chat.completion.chunk")).toBe(true);
    expect(chunksB[0].data.choices[0].delta.role).toBe("assistant");
    // Interleaved: b's chunks arrive before a finishes.
    const order = socket.messages.filter((m) => m.type === "chunk").map((m) => m.id);
    expect(order.indexOf("b")).toBeLessThan(order.lastIndexOf("a"));
    socket.close();
  });

  it("sends exactly the chunks the SSE stream sends for the same greedy request", async () => {
    const body = { model: gw.model, prompt: "Once upon a time", max_tokens: 24, temperature: 0, seed: 7, stream_options: { include_usage: true } };
    const sse = sseData(await (await postJson(gw.baseURL, "/completions", { ...body, stream: true })).text())
      .filter((d) => d !== "[DONE]")
      .map((d) => JSON.parse(d));
    const socket = await TestSocket.open(gw);
    socket.send(completion("same", body));
    const done = await socket.next((m) => m.type === "done");
    const ws = socket.forId("same").filter((m) => m.type === "chunk").map((m) => m.data);
    // How much of the prompt came from a slot's cache depends on which slot each request got.
    const withoutCache = (usage: Message) => usage && { ...usage, prompt_tokens_details: undefined };
    const comparable = (c: Message) => ({ ...c, id: undefined, created: undefined, usage: withoutCache(c.usage) });
    expect(ws.map(comparable)).toEqual(sse.map(comparable));
    expect(withoutCache(done.usage)).toEqual(withoutCache(sse.at(-1).usage));
    socket.close();
  });

  it("answers bad messages with error messages and keeps the socket working", async () => {
    const socket = await TestSocket.open(gw);
    socket.send("{not json");
    socket.send({ type: "teleport", id: "t1" });
    socket.send({ type: "completions.create", body: {} });
    socket.send(completion("bad-body", { model: gw.model, prompt: 5 }));
    socket.send(completion("no-model", { model: "gpt-4o", prompt: "x" }));
    socket.send(completion("too-big", { model: gw.model, prompt: "x".repeat(3000) }));
    socket.send({ type: "ping" });
    const errors = () => socket.messages.filter((m) => m.type === "error");
    await socket.next((m) => m.type === "pong");
    await until(() => errors().length >= 6, "six errors", () => errors());
    const byId = (id: string | null) => errors().filter((m) => m.id === id);
    expect(byId(null).map((m) => m.error.code)).toEqual(expect.arrayContaining(["invalid_message", "message_too_large"]));
    expect(byId("t1")[0].error).toMatchObject({ code: "invalid_message", param: "type" });
    expect(byId("bad-body")[0]).toMatchObject({ status: 400, error: { type: "invalid_request_error", param: "prompt" } });
    expect(byId("no-model")[0]).toMatchObject({ status: 404, error: { code: "model_not_found" } });
    for (const message of errors()) expect(Object.keys(message.error).sort()).toEqual(["code", "message", "param", "type"]);

    socket.send(completion("ok", { model: gw.model, prompt: "Hello", max_tokens: 3 }));
    expect((await socket.next((m) => m.type === "done" && m.id === "ok")).usage.completion_tokens).toBe(3);
    socket.close();
  });

  it("rejects a second request with an id already in flight, and only that one", async () => {
    const socket = await TestSocket.open(gw);
    socket.send(completion("dup", { model: gw.model, prompt: "Once", max_tokens: 200, ignore_eos: true }));
    socket.send(completion("dup", { model: gw.model, prompt: "Twice", max_tokens: 2 }));
    const error = await socket.next((m) => m.type === "error" && m.id === "dup");
    expect(error.error.code).toBe("duplicate_id");
    expect((await socket.next((m) => m.type === "done" && m.id === "dup")).usage.completion_tokens).toBe(200);
    socket.close();
  });

  it("closes the socket with 1009 when a frame is far over the limit", async () => {
    const socket = await TestSocket.open(gw);
    socket.send("x".repeat(10_000));
    const [code] = await once(socket.ws, "close");
    expect(code).toBe(1009);
  });
});

describe("WebSocket liveness", () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ engine: { slots: 1, ctxSize: 256 }, ws: { pingIntervalMs: 100 } });
  });
  afterAll(() => gw.close());

  it("keeps an idle socket whose client answers pings, and closes one that does not", async () => {
    const answering = await TestSocket.open(gw);
    const silent = await TestSocket.open(gw, { autoPong: false });
    const [code] = await once(silent.ws, "close");
    expect(code).toBe(1006); // terminated: no close handshake with a dead peer
    expect(answering.ws.readyState).toBe(WebSocket.OPEN);
    answering.send({ type: "ping" });
    expect(await answering.next((m) => m.type === "pong")).toEqual({ type: "pong" });
    answering.close();
  });
});

describe("WebSocket cancellation on a slow model with one slot", () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ engine: { slots: 1, ctxSize: 2048 } }, SYNTHETIC_57M);
  });
  afterAll(() => gw.close());

  const long = (id: string) => completion(id, { model: gw.model, prompt: "Once", max_tokens: 1500, ignore_eos: true });

  it("stops a generation on cancel and frees its slot for the next request", async () => {
    const engine = gw.models.all()[0]!;
    const before = engine.stats().generatedTokens;
    const socket = await TestSocket.open(gw);
    socket.send(long("c1"));
    await socket.next((m) => m.type === "chunk" && m.id === "c1" && m.data.choices[0]?.text);
    socket.send({ type: "cancel", id: "c1" });
    // Exactly one terminal message: a done that says it was cancelled, with the usage of what was generated.
    const done = await socket.next((m) => m.type === "done" && m.id === "c1");
    expect(done.cancelled).toBe(true);
    const chunks = socket.forId("c1").filter((m) => m.type === "chunk" && m.data.choices[0]?.text).length;
    // What was generated and charged: the chunks sent, and at most the token in flight when the cancel came.
    expect(done.usage.completion_tokens).toBeGreaterThanOrEqual(chunks);
    expect(done.usage.completion_tokens).toBeLessThanOrEqual(chunks + 1);
    expect(done.usage.prompt_tokens).toBeGreaterThan(0);
    await waitForIdleSlots(gw);
    expect(engine.stats().generatedTokens - before).toBeLessThan(300);
    const next = await postJson(gw.baseURL, "/completions", { model: gw.model, prompt: "Hi", max_tokens: 3, ignore_eos: true });
    expect((await jsonBody(next)).usage.completion_tokens).toBe(3);
    await new Promise((r) => setTimeout(r, 50));
    expect(socket.forId("c1").filter((m) => m.type === "done" || m.type === "error")).toHaveLength(1);
    socket.close();
  });

  it("answers a cancel of a queued request with a cancelled done and no usage, and the queue forgets it", async () => {
    const engine = gw.models.all()[0]!;
    const socket = await TestSocket.open(gw);
    socket.send(long("q1"));
    socket.send(long("q2"));
    await socket.next((m) => m.type === "chunk" && m.id === "q1" && m.data.choices[0]?.text);
    await until(() => engine.stats().queuedRequests >= 1, "a queued request", () => engine.stats());
    socket.send({ type: "cancel", id: "q2" });
    const done = await socket.next((m) => m.type === "done" && m.id === "q2");
    expect(done).toMatchObject({ cancelled: true, usage: { completion_tokens: 0 } });
    expect(engine.stats().queuedRequests).toBe(0);
    socket.send({ type: "cancel", id: "q1" });
    expect((await socket.next((m) => m.type === "done" && m.id === "q1")).cancelled).toBe(true);
    await waitForIdleSlots(gw);
    socket.close();
  });

  it("frees every slot a socket held, queued requests too, when the socket closes", async () => {
    const engine = gw.models.all()[0]!;
    const before = engine.stats().generatedTokens;
    const socket = await TestSocket.open(gw);
    socket.send(long("x1"));
    socket.send(long("x2")); // waits in the queue behind x1
    await socket.next((m) => m.type === "chunk" && m.id === "x1" && m.data.choices[0]?.text);
    await until(() => engine.stats().queuedRequests >= 1, "a queued request", () => engine.stats());
    socket.ws.terminate();
    await waitForIdleSlots(gw);
    expect(engine.stats().queuedRequests).toBe(0);
    expect(engine.stats().generatedTokens - before).toBeLessThan(300);
  });
});
