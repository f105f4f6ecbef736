import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonBody, postJson, readSse, startTestGateway, SYNTHETIC_57M, waitForIdleSlots, type TestGateway } from "../helpers/gateway.js";

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
    const streams = [0, 1, 2, 3].map(async (i) => {
      const response = await postJson(gw.baseURL, "/completions", {
        model: gw.model,
        prompt: `Story number ${i}:`,
        max_tokens: 150, // long enough that all four still run when the last one starts, on a busy machine too
        ignore_eos: true,
        temperature: 0,
        stream: true,
      });
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
      return finish;
    });
    const engine = gw.models.all()[0]!;
    while (started.size < 4) await new Promise((r) => setTimeout(r, 2));
    expect(engine.stats().slotsBusy).toBe(4);

    const fifth = postJson(gw.baseURL, "/completions", { model: gw.model, prompt: "Fifth", max_tokens: 3, ignore_eos: true }); // random weights may end at once
    while (engine.stats().queuedRequests < 1) await new Promise((r) => setTimeout(r, 2));

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
