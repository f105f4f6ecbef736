import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fillerText } from "../../bench/workloads.js";
import { jsonBody, startTestGateway, SYNTHETIC_57M, type TestGateway } from "../helpers/gateway.js";

// Prompt batches on idle cores (engine.promptThreads) change how fast a prompt is evaluated, never what comes out.
// Prompt chunks are sized by time (engine.prefillChunkMs), and a token's logits may differ in the last bits with the
// batch it was evaluated in; a chunk longer than the prompt takes gives both gateways the same batches.
const SAME_BATCHES = { prefillChunkMs: 60_000 };
describe("prompt threads", () => {
  let both: TestGateway;
  let one: TestGateway;
  beforeAll(async () => {
    [both, one] = await Promise.all([
      startTestGateway({ engine: { slots: 1, ctxSize: 1024, layout: "per-slot", threads: 1, promptThreads: 2, ...SAME_BATCHES } }, SYNTHETIC_57M),
      startTestGateway({ engine: { slots: 1, ctxSize: 1024, layout: "per-slot", threads: 1, promptThreads: 1, ...SAME_BATCHES } }, SYNTHETIC_57M),
    ]);
  });
  afterAll(() => Promise.all([both.close(), one.close()]));

  it("says how many threads a prompt may use", async () => {
    const meta = async (gw: TestGateway) => (await jsonBody(await fetch(`${gw.baseURL}/models/${gw.model}`))).meta;
    expect(await meta(both)).toMatchObject({ threads: 1, prompt_threads: 2 });
    expect(await meta(one)).toMatchObject({ threads: 1, prompt_threads: 1 });
  });

  it("answers a long prompt exactly as with one thread", async () => {
    const body = { prompt: fillerText(400, 5), max_tokens: 24, temperature: 0, ignore_eos: true };
    const [a, b] = await Promise.all([both, one].map((gw) => gw.client.completions.create({ ...body, model: gw.model })));
    expect(a!.usage!.prompt_tokens).toBeGreaterThan(400);
    expect(a!.choices[0]!.text).toBe(b!.choices[0]!.text);
  });
});
