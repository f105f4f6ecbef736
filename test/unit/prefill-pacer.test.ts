import { describe, expect, it } from "vitest";
import { PrefillPacer } from "../../src/engine/prefill.js";

describe("prompt chunks sized by time", () => {
  it("starts small, then sizes chunks from the measured rate, within one batch", () => {
    const pacer = new PrefillPacer(500, 512);
    expect(pacer.chunk).toBe(64);
    pacer.observe(64, 100); // 0.64 tokens/ms: 320 tokens in 500 ms
    expect(pacer.chunk).toBe(320);
    pacer.observe(320, 100); // fast: capped at the batch size
    expect(pacer.chunk).toBe(512);
    pacer.observe(512, 100_000); // deep in a long prompt: a token costs 200 ms, still at least one per chunk
    expect(pacer.chunk).toBe(2);
  });

  it("pauses after a chunk only while other slots generate, to keep the prompt to its share of the time", () => {
    const pacer = new PrefillPacer(500, 512, 0.5);
    let others = false;
    pacer.othersGenerating = () => others;
    expect(pacer.pauseAfter(200)).toBe(0);
    others = true;
    expect(pacer.pauseAfter(200)).toBe(200);
    expect(new PrefillPacer(500, 512, 0.25).pauseAfter(100)).toBe(0); // no scheduler told it others run
    const quarter = new PrefillPacer(500, 512, 0.25);
    quarter.othersGenerating = () => true;
    expect(quarter.pauseAfter(100)).toBe(300);
  });
});
