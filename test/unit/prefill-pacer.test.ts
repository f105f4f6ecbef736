import { describe, expect, it } from "vitest";
import { PrefillPacer } from "../../src/engine/prefill.js";

describe("prompt chunks sized by time", () => {
  it("sizes chunks from the measured rate in whole 64-token tiles, at least the floor while it takes at most twice the target, within one batch", () => {
    const pacer = new PrefillPacer(500, 512);
    expect(pacer.chunk).toBe(128); // no rate yet: the floor
    pacer.observe(128, 200); // 0.64 tokens/ms: 320 tokens in 500 ms, 5 tiles
    expect(pacer.chunk).toBe(320);
    pacer.observe(128, 150); // 0.853 tokens/ms: 426 tokens, rounded down to 6 tiles
    expect(pacer.chunk).toBe(384);
    pacer.observe(320, 100); // fast: capped at the batch size
    expect(pacer.chunk).toBe(512);
    pacer.observe(128, 900); // deeper: 71 tokens in 500 ms, but the floor (128) takes 900 ms, within twice the target
    expect(pacer.chunk).toBe(128);
    pacer.observe(128, 1_200); // deeper still: the floor would take 1.2 s, so one tile (600 ms) keeps cancellation prompt
    expect(pacer.chunk).toBe(64);
    pacer.observe(64, 5_000); // a tile at 5 s: still one tile, never less
    expect(pacer.chunk).toBe(64);
    const small = new PrefillPacer(500, 512, 1, 1); // engine.prefillMinChunk 1: time decides alone
    small.observe(100, 50_000);
    expect(small.chunk).toBe(1);
    expect(new PrefillPacer(500, 32).chunk).toBe(32); // a batch smaller than the floor
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
