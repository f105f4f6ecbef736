import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { processCpu } from "../../bench/cpu-accounting.js";
import { childPids } from "../../bench/process-memory.js";
import { jsonBody, postJson, startTestGateway, SYNTHETIC_57M, waitForIdleSlots, type TestGateway } from "../helpers/gateway.js";

// A long prompt is evaluated in chunks of about engine.prefillChunkMs, and a request that goes away stops
// between two of them: its slot is free within one chunk, not when the whole prompt has been evaluated.
// The 57M model on this machine evaluates ~500 prompt tokens/s at the start of a context and far fewer
// deeper in, so a 6,400-token prompt takes over 5 s whole.
const LONG_PROMPT = "once upon a time there was a little dog who liked to run. ".repeat(320);

/** Cores the model's engine process (a child of this test process) uses over one second. */
async function engineCores(): Promise<number> {
  const [pid] = childPids(process.pid);
  const total = () => {
    const cpu = processCpu(pid!)!;
    return cpu.js + cpu.threads;
  };
  const before = total();
  await new Promise((r) => setTimeout(r, 1_000));
  return total() - before;
}

const HALF_PROMPT = LONG_PROMPT.slice(0, LONG_PROMPT.length / 2);

describe("cancellation during prompt evaluation (57M model, one slot)", () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ engine: { slots: 1, ctxSize: 8192, threads: 1, prefillChunkMs: 250 } }, SYNTHETIC_57M);
  });
  afterAll(() => gw.close());

  it("frees the slot within one chunk of the client leaving and serves the next request at once", async () => {
    const abort = new AbortController();
    const started = Date.now();
    const request = postJson(gw.baseURL, "/completions", { model: gw.model, prompt: LONG_PROMPT, max_tokens: 1 }, { signal: abort.signal }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(gw.models.all()[0]!.stats().slotsBusy).toBe(1); // still evaluating the prompt
    abort.abort();
    await request;
    const freedInMs = await waitForIdleSlots(gw, 1_000);
    expect(freedInMs).toBeLessThan(1_000);

    // The next request gets the slot at once (a short prompt: well under a second).
    const next = await postJson(gw.baseURL, "/completions", { model: gw.model, prompt: "Hi", max_tokens: 2 });
    expect(next.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(6_000);
  });

  it("a retry of a cancelled prompt reuses the part that was evaluated before the cancel", async () => {
    const abort = new AbortController();
    const request = postJson(gw.baseURL, "/completions", { model: gw.model, prompt: `${HALF_PROMPT}The end.`, max_tokens: 1 }, { signal: abort.signal }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 1_200));
    abort.abort();
    await request;
    await waitForIdleSlots(gw, 1_000);
    const retry = await postJson(gw.baseURL, "/completions", { model: gw.model, prompt: `${HALF_PROMPT}The end.`, max_tokens: 1 });
    const body = await jsonBody(retry);
    expect(retry.status).toBe(200);
    expect(body.usage.prompt_tokens_details.cached_tokens).toBeGreaterThan(100);
  });

  it("stops an embeddings request between inputs when its client leaves; another caller's embedding is served at once", async () => {
    const inputs = Array.from({ length: 300 }, (_, i) => `story ${i}: once upon a time there was a little dog who liked to run in the park.`);
    const abort = new AbortController();
    const big = postJson(gw.baseURL, "/embeddings", { model: gw.model, input: inputs }, { signal: abort.signal }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 800));
    // Inputs take turns with other requests: a one-word embedding does not wait for the 300 inputs.
    const smallStarted = Date.now();
    const small = await postJson(gw.baseURL, "/embeddings", { model: gw.model, input: "dog" });
    expect(small.status).toBe(200);
    expect(Date.now() - smallStarted).toBeLessThan(2_000);
    abort.abort();
    await big;
    // The engine process stops working on the abandoned inputs: it goes idle.
    await new Promise((r) => setTimeout(r, 500));
    expect(await engineCores()).toBeLessThan(0.3);
  });
});
