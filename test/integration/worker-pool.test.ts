import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { childPids } from "../../bench/process-memory.js";
import { workerPoolSize } from "../../src/engine/worker-pool.js";
import { startTestGateway, waitForIdleSlots, type TestGateway } from "../helpers/gateway.js";

// engine.workerThreads: the libuv pool of an engine process bounds how many per-slot decodes run at once. With
// fewer pool threads than slots, every slot still streams its whole answer, the same answer it gives alone.
const engineEnv = (pid: number) =>
  Object.fromEntries(readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
const enginePids = () => childPids(process.pid).filter((pid) => readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("engine-host"));
const meta = async (gw: TestGateway) => {
  const models = (await (await fetch(`${gw.baseURL}/models`)).json()) as { data: { meta: Record<string, unknown> }[] };
  return models.data[0]!.meta;
};

describe("engine worker pool", () => {
  let auto: TestGateway;
  let two: TestGateway;
  beforeAll(async () => {
    auto = await startTestGateway({ engine: { slots: 8, isolation: "process" } });
    two = await startTestGateway({ engine: { slots: 6, ctxSize: 256, isolation: "process", workerThreads: 2, layout: "per-slot" } });
  });
  afterAll(async () => {
    await auto?.close();
    await two?.close();
  });

  it("sizes each engine process's pool from the slots and the CPUs, and reports it", async () => {
    const expected = workerPoolSize({ slots: 8, layout: "auto", threads: 0, workerThreads: 0 });
    expect(await meta(auto)).toMatchObject({ worker_threads: expected, slots: 8 });
    expect(await meta(two)).toMatchObject({ worker_threads: 2, slots: 6 });
    const sizes = enginePids().map((pid) => engineEnv(pid).UV_THREADPOOL_SIZE).sort();
    expect(sizes).toEqual([String(expected), "2"].sort());
  });

  it("streams every slot's whole answer through a pool smaller than the slots, and frees them all", async () => {
    const prompts = Array.from({ length: 6 }, (_, i) => `Once upon a time there was a ${["cat", "dog", "bird", "fish", "girl", "boy"][i]}`);
    const request = (prompt: string) => ({ model: two.model, prompt, max_tokens: 24, temperature: 0 });
    const alone = [];
    for (const prompt of prompts.slice(0, 2)) alone.push((await two.client.completions.create(request(prompt))).choices[0]!.text);

    // One more client leaves after three chunks (breaking out of the stream closes its connection).
    const abandoned = (async () => {
      const stream = await two.client.completions.create({ ...request("The sun was"), max_tokens: 200, stream: true });
      let chunks = 0;
      for await (const _chunk of stream) if (++chunks === 3) break;
      return chunks;
    })();
    const streamed = await Promise.all(
      prompts.map(async (prompt) => {
        const stream = await two.client.completions.create({ ...request(prompt), stream: true, stream_options: { include_usage: true } });
        let text = "";
        let tokens = 0;
        for await (const chunk of stream) {
          text += chunk.choices[0]?.text ?? "";
          tokens = chunk.usage?.completion_tokens ?? tokens;
        }
        return { text, tokens };
      }),
    );
    expect(await abandoned).toBe(3);
    expect(streamed.map((s) => s.tokens)).toEqual(prompts.map(() => 24));
    expect(streamed.slice(0, 2).map((s) => s.text)).toEqual(alone);
    await waitForIdleSlots(two, 5_000);
  });
});
