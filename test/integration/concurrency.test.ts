import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonBody, postJson, readSse, startTestGateway, SYNTHETIC_57M, waitForIdleSlots, type TestGateway } from "../helpers/gateway.js";
import { until } from "../helpers/until.js";

// Four slots, both engine layouts, on the 57M model (slow enough that streams overlap for a while).
describe.each(["per-slot", "batched"] as const)("four slots in the %s layout", (layout) => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ engine: { slots: 4, ctxSize: 256, layout }, queue: { maxRequests: 1, retryAfterMs: 1500 } }, SYNTHETIC_57M);
  });
  afterAll(() => gw.close());

  it("runs four streams at once, queues a fifth request and turns away a sixth with 503", async () => {
    expect(gw.models.all()[0]!.description.layout).toBe(layout);
    const arrivals: number[] = []; // stream index of every token chunk, in arrival order
    const started = new Set<number>();
    const ended: string[] = []; // how each stream ended, as they end: the waits below say it if one ends too soon
    const streams = [0, 1, 2, 3].map(async (i) => {
      const response = await postJson(gw.baseURL, "/completions", {
        model: gw.model,
        prompt: `Story number ${i}:`,
        max_tokens: 200, // long enough that all four still run when the fifth request comes, on a busy machine too
        ignore_eos: true,
        temperature: 0,
        stream: true,
      });
      if (response.status !== 200) ended.push(`${i}: ${response.status}`);
      expect(response.status).toBe(200);
      let finish: string | null = null;
      await readSse(response, (data) => {
        if (data === "[DONE]") return;
        const chunk = JSON.parse(data);
        if (chunk.choices[0]?.text) {
          arrivals.push(i);
          started.add(i);
        }
        finish = chunk.choices[0]?.finish_reason ?? finish;
      });
      ended.push(`${i}: ${finish}`);
      return finish;
    });
    const engine = gw.models.all()[0]!;
    const state = () => ({ started: [...started], ended, stats: engine.stats() });
    await until(() => started.size === 4 || ended.length > 0, "four streams", state);
    expect(ended).toEqual([]);
    expect(engine.stats().slotsBusy).toBe(4);

    const fifth = postJson(gw.baseURL, "/completions", { model: gw.model, prompt: "Fifth", max_tokens: 3, ignore_eos: true }); // random weights may end at once
    await until(() => engine.stats().queuedRequests >= 1 || ended.length > 0, "the fifth request in the queue", state);
    expect(ended).toEqual([]);

    const sixth = await postJson(gw.baseURL, "/completions", { model: gw.model, prompt: "Sixth", max_tokens: 3 });
    expect(sixth.status).toBe(503);
    expect(sixth.headers.get("retry-after")).toBe("2");
    expect(sixth.headers.get("retry-after-ms")).toBe("1500");
    expect((await jsonBody(sixth)).error).toMatchObject({ type: "server_error", code: "server_overloaded" });

    const finishes = await Promise.all(streams);
    expect(finishes).toEqual(["length", "length", "length", "length"]);
    const queued = await fifth;
    expect(queued.status).toBe(200);
    expect((await jsonBody(queued)).usage.completion_tokens).toBe(3);

    // Progress at the same time: every stream got tokens before any stream got its last one,
    // and the chunks interleave rather than arriving stream after stream.
    const lastOfAny = Math.min(...[0, 1, 2, 3].map((i) => arrivals.lastIndexOf(i)));
    for (const i of [0, 1, 2, 3]) expect(arrivals.indexOf(i)).toBeLessThan(lastOfAny);
    const switches = arrivals.filter((stream, k) => k > 0 && stream !== arrivals[k - 1]).length;
    expect(switches).toBeGreaterThan(40);
    await waitForIdleSlots(gw);
  });
});
