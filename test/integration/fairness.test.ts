import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonBody, postJson, startTestGateway, SYNTHETIC_57M, waitForIdleSlots, type TestGateway } from "../helpers/gateway.js";
import { metricValue } from "../helpers/metrics.js";

const FLOOD = "sk-flood-0123456789";
const SINGLE = "sk-single-0123456789";

// One slot, two keys: one key's flood must not make the other's request wait behind all of it.
describe("fair scheduling between API keys on a real model", () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ engine: { slots: 1, ctxSize: 256 }, auth: { keys: [{ name: "flood", key: FLOOD }, { name: "single", key: SINGLE }] } }, SYNTHETIC_57M);
  });
  afterAll(() => gw.close());

  const complete = (key: string, extra: object = {}) =>
    postJson(gw.baseURL, "/completions", { model: gw.model, prompt: "Once", max_tokens: 24, ignore_eos: true, ...extra }, { headers: { "content-type": "application/json", authorization: `Bearer ${key}` } });

  it("serves the second key's request next, not after the first key's whole backlog, and shows the queue by key", async () => {
    const done: string[] = [];
    // The first holds the slot long enough (~0.7 s) for the other four to arrive and queue even on a loaded machine.
    const flood = [0, 1, 2, 3, 4].map((i) => complete(FLOOD, { max_tokens: i === 0 ? 200 : 64 }).then(async (r) => (await r.text(), done.push(`flood${i}`))));
    const engine = gw.models.all()[0]!;
    const deadline = Date.now() + 15_000;
    while (engine.stats().queuedRequests < 4) {
      if (Date.now() > deadline || done.length > 0) throw new Error(`the flood never queued behind its first request: ${JSON.stringify(engine.stats())}, done ${done}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    const metrics = await (await fetch(gw.baseURL.replace(/\/v1$/, "/metrics"))).text();
    expect(metricValue(metrics, "llm_gateway_queued_requests", { model: gw.model, key: "flood" })).toBe(4);
    const single = complete(SINGLE).then(async (r) => (await r.text(), done.push("single")));
    await Promise.all([...flood, single]);
    expect(done.indexOf("single")).toBe(1); // right after the flood's running request: the flood had its turn
    const after = await (await fetch(gw.baseURL.replace(/\/v1$/, "/metrics"))).text();
    expect(metricValue(after, "llm_gateway_queue_wait_seconds_count", { model: gw.model, key: "single" })).toBe(1);
    await waitForIdleSlots(gw);
  });

  it("refuses a priority out of range with 400 naming it", async () => {
    const response = await complete(SINGLE, { priority: 5000 });
    expect(response.status).toBe(400);
    expect((await jsonBody(response)).error.param).toBe("priority");
  });
});
