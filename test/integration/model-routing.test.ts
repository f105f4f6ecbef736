import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pino from "pino";
import { jsonBody, postJson, sseData, startTestGateway, SHARED_MODELS, STORIES_260K, SYNTHETIC_57M, type TestGateway } from "../helpers/gateway.js";
import { ManagedModel } from "../../src/router/managed-model.js";

const TINY_656K = resolve(SHARED_MODELS, "TinyStories-656K-Q8_0.gguf");
const complete = (gw: TestGateway, model: string, body: object = {}) => postJson(gw.baseURL, "/completions", { model, prompt: "Once upon a time", max_tokens: 8, ...body });
const managed = (gw: TestGateway, id: string) => gw.models.find(id) as ManagedModel;

function capturedLogger() {
  const lines: Record<string, unknown>[] = [];
  return { lines, logger: pino({ level: "info" }, new Writable({ write: (chunk, _, done) => (lines.push(JSON.parse(String(chunk))), done()) })) };
}

async function until(condition: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("engine isolation: a model that crashes natively", () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({
      models: [
        { id: "fragile", path: TINY_656K, slots: 2, ctxSize: 512 },
        { id: "slow", path: SYNTHETIC_57M, slots: 1, ctxSize: 1024 },
      ],
    });
  });
  afterAll(() => gw.close());

  it("fails only the requests it was serving, while other models keep streaming, and comes back", async () => {
    const other = postJson(gw.baseURL, "/completions", { model: "slow", prompt: "Once", max_tokens: 300, ignore_eos: true, stream: true, stream_options: { include_usage: true } });
    const victim = await postJson(gw.baseURL, "/completions", { model: "fragile", prompt: "Once upon a time", max_tokens: 400, ignore_eos: true, stream: true });
    const victimText = victim.text();
    const crash = await complete(gw, "fragile", { prompt: "a # sign" }); // '#' is outside its vocabulary: llama.cpp aborts
    expect(crash.status).toBe(503);
    expect((await jsonBody(crash)).error).toMatchObject({ code: "engine_crashed", type: "server_error" });
    // The stream that shared the crashed engine ends with an error event, not a cut connection.
    const victimEvents = sseData(await victimText);
    expect(JSON.parse(victimEvents.at(-1)!).error.code).toBe("engine_crashed");
    // The other model never noticed.
    const otherEvents = sseData(await (await other).text());
    expect(otherEvents.at(-1)).toBe("[DONE]");
    expect(JSON.parse(otherEvents.at(-2)!).usage.completion_tokens).toBe(300);
    // The gateway itself is fine, and the crashed engine is restarted.
    expect((await fetch(`${gw.baseURL}/models`)).status).toBe(200);
    let status = 0;
    for (let i = 0; i < 100 && status !== 200; i++) {
      status = (await complete(gw, "fragile")).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe(200);
  });
});

describe("several models, aliases and per-model settings", () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({
      models: [
        { id: "story-greedy", aliases: ["greedy"], path: STORIES_260K, slots: 1, ctxSize: 256, sampling: { temperature: 0 } },
        { id: "story-wide", path: STORIES_260K, slots: 3, ctxSize: 512, chatTemplate: "chatML" },
        { id: "quantized-kv", path: SYNTHETIC_57M, ctxSize: 256, kvCacheType: "q8_0" }, // q8_0 blocks need a head size that is a multiple of 32
      ],
    });
  });
  afterAll(() => gw.close());

  it("serves the same file under two ids with their own settings, and routes aliases", async () => {
    const list = await jsonBody(await fetch(`${gw.baseURL}/models`));
    const byId = Object.fromEntries(list.data.map((m: { id: string }) => [m.id, m]));
    expect(byId["story-greedy"].meta).toMatchObject({ state: "loaded", slots: 1, ctx_size: 256, aliases: ["greedy"] });
    expect(byId["story-wide"].meta).toMatchObject({ state: "loaded", slots: 3, ctx_size: 512, chat_template: "ChatML" });
    expect(byId["story-greedy"].meta.chat_template).toBe("Llama2Chat"); // the model's own resolution
    const chat = await jsonBody(await postJson(gw.baseURL, "/chat/completions", { model: "story-wide", messages: [{ role: "user", content: "Hi" }], max_tokens: 5 }));
    expect(chat.usage.completion_tokens).toBeGreaterThan(0);
    expect((await jsonBody(await complete(gw, "quantized-kv", { max_tokens: 5, ignore_eos: true }))).usage.completion_tokens).toBe(5);
    // The model's default temperature 0 makes answers without a temperature deterministic.
    const answers = await Promise.all([1, 2].map(async () => (await jsonBody(await complete(gw, "greedy", { max_tokens: 24 }))).choices[0].text));
    expect(answers[0]).toBe(answers[1]);
    expect((await jsonBody(await complete(gw, "greedy"))).model).toBe("story-greedy");
    const unknown = await jsonBody(await complete(gw, "story-nope"));
    expect(unknown.error.code).toBe("model_not_found");
    expect(unknown.error.message).toContain("story-greedy, story-wide, quantized-kv");
  });
});

describe("loading on demand, keepAlive and LRU eviction", () => {
  let gw: TestGateway;
  const { lines, logger } = capturedLogger();
  beforeAll(async () => {
    gw = await startTestGateway(
      {
        router: { maxLoadedModels: 1 },
        models: [
          { id: "resident", path: STORIES_260K, ctxSize: 256 },
          { id: "lazy-a", path: STORIES_260K, ctxSize: 256, preload: false, keepAliveMs: 400 },
          { id: "lazy-b", path: TINY_656K, ctxSize: 256, preload: false },
        ],
      },
      undefined,
      logger,
    );
  });
  afterAll(() => gw.close());
  const loads = (id: string) => lines.filter((l) => String(l.msg).startsWith(`loaded ${id}:`)).length;

  it("loads a lazy model once for concurrent first requests, and unloads it after keepAlive", async () => {
    expect(managed(gw, "lazy-a").state).toBe("unloaded");
    const statuses = await Promise.all([1, 2, 3].map(async () => (await complete(gw, "lazy-a")).status));
    expect(statuses).toEqual([200, 200, 200]);
    expect(loads("lazy-a")).toBe(1);
    expect(managed(gw, "lazy-a").state).toBe("loaded");
    await until(() => managed(gw, "lazy-a").state === "unloaded", 5_000); // idle past its 400 ms keepAlive
  });

  it("unloads the least recently used idle model to make room for another", async () => {
    // maxLoadedModels 1: "resident" (loaded at start) is the idle one to go.
    await complete(gw, "lazy-a");
    expect(managed(gw, "resident").state).toBe("unloaded");
    expect(managed(gw, "lazy-a").state).toBe("loaded");
    expect((await complete(gw, "lazy-b")).status).toBe(200);
    expect(managed(gw, "lazy-a").state).toBe("unloaded");
    expect((await complete(gw, "resident")).status).toBe(200); // and back on demand
    expect(managed(gw, "lazy-b").state).toBe("unloaded");
  });
});

describe("a memory budget (router.memoryBudgetMiB)", () => {
  let gw: TestGateway;
  beforeAll(async () => {
    // Each 57M entry is estimated at ~67 MiB (58 MiB of weights, KV cache, compute buffer); stories260K at ~2.
    gw = await startTestGateway({
      router: { memoryBudgetMiB: 100 },
      models: [
        { id: "big-a", path: SYNTHETIC_57M, slots: 1, ctxSize: 256 },
        { id: "big-b", path: SYNTHETIC_57M, slots: 1, ctxSize: 256, preload: false },
        { id: "small", path: STORIES_260K, slots: 1, ctxSize: 256, preload: false },
        { id: "huge", path: SYNTHETIC_57M, slots: 8, ctxSize: 2048, preload: false },
      ],
    });
  });
  afterAll(() => gw.close());

  it("keeps models that fit together, and unloads the least recently used idle one when the next does not fit", async () => {
    expect(managed(gw, "big-a").state).toBe("loaded");
    expect((await complete(gw, "small")).status).toBe(200);
    expect(managed(gw, "big-a").state).toBe("loaded"); // 67 + 2 MiB fit in 100
    expect((await complete(gw, "big-b")).status).toBe(200);
    expect(managed(gw, "big-a").state).toBe("unloaded"); // 67 + 67 do not: the least recently used goes
    expect(managed(gw, "small").state).toBe("loaded"); // and only as much as needed
  });

  it("answers 503 model_capacity while the model in the way is busy", async () => {
    const stream = await complete(gw, "big-b", { max_tokens: 1500, ignore_eos: true, stream: true });
    const reader = stream.body!.getReader();
    await reader.read();
    const refused = await complete(gw, "big-a");
    expect(refused.status).toBe(503);
    expect((await jsonBody(refused)).error.code).toBe("model_capacity");
    await reader.cancel();
  });

  it("refuses a model larger than the whole budget, saying how large", async () => {
    const response = await complete(gw, "huge");
    expect(response.status).toBe(503);
    const { error } = await jsonBody(response);
    expect(error.code).toBe("model_too_large");
    expect(error.message).toMatch(/needs about \d+ MiB.*router\.memoryBudgetMiB \(100 MiB\)/);
    expect(managed(gw, "huge").state).toBe("failed");
    expect((await complete(gw, "huge")).status).toBe(503);
  });
});

describe("a broken model file", () => {
  let gw: TestGateway;
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), "gateway-"));
    const junk = join(dir, "junk.gguf");
    writeFileSync(junk, "this is not a GGUF file");
    gw = await startTestGateway({
      models: [
        { id: "good", path: STORIES_260K, ctxSize: 256 },
        { id: "junk", path: junk },
        { id: "missing", path: join(dir, "absent.gguf") },
      ],
    });
  });
  afterAll(() => gw.close());

  it("does not stop the server: the others serve, its requests get 503 with the reason, /ready reports it", async () => {
    expect((await complete(gw, "good")).status).toBe(200);
    for (const id of ["junk", "missing"]) {
      const response = await complete(gw, id);
      expect(response.status).toBe(503);
      const { error } = await jsonBody(response);
      expect(error.code).toBe("model_unavailable");
      expect(error.message).toContain(`'${id}' is not available:`);
    }
    const ready = await jsonBody(await fetch(`${gw.baseURL.replace(/\/v1$/, "")}/ready`));
    expect(ready.status).toBe("ready");
    expect(Object.keys(ready.failed).sort()).toEqual(["junk", "missing"]);
    const list = await jsonBody(await fetch(`${gw.baseURL}/models`));
    expect(list.data.find((m: { id: string }) => m.id === "junk").meta.state).toBe("failed");
  });
});
