import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonBody, SHARED_MODELS, startTestGateway, type TestGateway } from "../helpers/gateway.js";
import { TestSocket } from "../helpers/websocket.js";

const SAMPLING_MODEL = resolve(SHARED_MODELS, "stories260K-sampling.gguf");
const messages = [{ role: "user" as const, content: "Tell me a story." }];

describe("seeds: a fresh one per request without a seed, reproducible with one", () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ engine: { slots: 4, ctxSize: 256 }, request: { maxChoices: 4 } });
  });
  afterAll(() => gw.close());

  const chat = (extra: object = {}) => gw.client.chat.completions.create({ model: gw.model, messages, max_tokens: 16, temperature: 1, ...extra } as never);

  it("the same request without a seed gives different answers", async () => {
    const texts = [];
    for (let i = 0; i < 4; i++) texts.push((await chat()).choices[0]!.message.content);
    expect(new Set(texts).size).toBeGreaterThanOrEqual(2);
  });

  it("n = 4 without a seed gives different choices", async () => {
    const answer = await chat({ n: 4 });
    expect(new Set(answer.choices.map((c) => c.message.content)).size).toBeGreaterThanOrEqual(2);
  });

  it("reports the seed it drew, and that seed replays the answer exactly", async () => {
    const first = (await chat()) as unknown as { seed: number; choices: { message: { content: string } }[] };
    expect(Number.isInteger(first.seed)).toBe(true);
    const replay = (await chat({ seed: first.seed })) as unknown as typeof first;
    expect(replay.seed).toBe(first.seed);
    expect(replay.choices[0]!.message.content).toBe(first.choices[0]!.message.content);
  });

  it("a given seed reproduces, streamed or not", async () => {
    const whole = await gw.client.completions.create({ model: gw.model, prompt: "Once upon a time", max_tokens: 16, temperature: 1, seed: 42 });
    let streamed = "";
    const seeds = new Set<number>();
    for await (const chunk of await gw.client.completions.create({ model: gw.model, prompt: "Once upon a time", max_tokens: 16, temperature: 1, seed: 42, stream: true })) {
      streamed += chunk.choices[0]?.text ?? "";
      seeds.add((chunk as unknown as { seed: number }).seed);
    }
    expect(streamed).toBe(whole.choices[0]!.text);
    expect([...seeds]).toEqual([42]);
  });

  it("over the WebSocket too: two requests without a seed draw different seeds", async () => {
    const socket = await TestSocket.open(gw);
    for (const id of ["a", "b"]) socket.send({ type: "completions.create", id, body: { model: gw.model, prompt: "Once upon a time", max_tokens: 4, temperature: 1 } });
    await Promise.all(["a", "b"].map((id) => socket.next((m) => m.type === "done" && m.id === id)));
    const seedOf = (id: string) => socket.forId(id).find((m) => m.type === "chunk").data.seed;
    expect(Number.isInteger(seedOf("a"))).toBe(true);
    expect(seedOf("a")).not.toBe(seedOf("b"));
    socket.close();
  });
});

describe("a model's recommended sampling (GGUF general.sampling.*) as the defaults", () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ engine: { slots: 1, ctxSize: 256 } }, SAMPLING_MODEL);
  });
  afterAll(() => gw.close());

  it("shows the effective defaults in /v1/models", async () => {
    const model = await jsonBody(await fetch(`${gw.baseURL}/models/${gw.model}`));
    expect(model.meta.sampling_defaults).toEqual({ temperature: 0, top_p: 0.5, top_k: 1, min_p: 0, repeat_penalty: 1 });
  });

  it("answers a request without sampling fields greedily, and an explicit temperature still wins", async () => {
    const plain = { model: gw.model, prompt: "Once upon a time", max_tokens: 24 };
    const greedy = (await gw.client.completions.create({ ...plain, temperature: 0 })).choices[0]!.text;
    for (let i = 0; i < 3; i++) expect((await gw.client.completions.create(plain)).choices[0]!.text).toBe(greedy);
    // temperature 1.5 with the truncation lifted as well (the GGUF's top_k 1 would make any temperature greedy)
    const hot = [];
    for (const seed of [1, 2, 3, 4]) hot.push((await gw.client.completions.create({ ...plain, temperature: 1.5, top_k: 0, top_p: 1, seed } as never)).choices[0]!.text);
    expect(hot.some((text) => text !== greedy)).toBe(true);
  });

  it("a model's config entry overrides the GGUF's defaults", async () => {
    const configured = await startTestGateway({ engine: { slots: 1, ctxSize: 256 }, models: [{ id: "test-model", path: SAMPLING_MODEL, sampling: { temperature: 0.7, top_k: 40 } }] });
    try {
      const model = await jsonBody(await fetch(`${configured.baseURL}/models/${configured.model}`));
      expect(model.meta.sampling_defaults).toEqual({ temperature: 0.7, top_p: 0.5, top_k: 40, min_p: 0, repeat_penalty: 1 });
    } finally {
      await configured.close();
    }
  });
});
