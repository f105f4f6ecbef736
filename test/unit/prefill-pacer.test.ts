import { describe, expect, it } from "vitest";
import { attentionTiles, tileEfficiency } from "../../src/engine/attention-tiles.js";
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

describe("prompt chunks that fill flash attention's tiles", () => {
  it("counts the tiles llama.cpp's CPU flash attention runs: pieces of 4 per thread cut a head's tiles", () => {
    expect(attentionTiles(128, 9, 2)).toBe(24); // 1,152 rows in 8 pieces of 144: 18 tiles would hold them
    expect(attentionTiles(512, 9, 2)).toBe(72); // pieces of 576 rows: every tile full
    expect(attentionTiles(64, 9, 2)).toBe(16);
    expect(attentionTiles(128, 8, 2)).toBe(16); // pieces of one head's 128 rows: full
    expect(attentionTiles(200, 9, 1)).toBe(36); // one thread, one piece: 4 tiles per head, the last one part-full
    expect(tileEfficiency(512, 9, 2)).toBe(1);
    expect(tileEfficiency(128, 9, 2)).toBeCloseTo(0.75);
    expect(tileEfficiency(256, 9, 2)).toBeCloseTo(0.9);
    expect(tileEfficiency(320, 9, 2)).toBeCloseTo(0.865, 2);
    expect(tileEfficiency(32, 9, 2)).toBe(1); // below a tile: row by row, not described
  });

  it("takes, of the sizes within the time target, the one whose tiles are fullest, and measures its rate in full-tile tokens", () => {
    const pacer = new PrefillPacer(500, 512);
    pacer.efficiency = (tokens) => tileEfficiency(tokens, 9, 2);
    pacer.observe(256, 400 / 0.9); // 256 tokens at 90%: 0.72 full-tile tokens per ms, 360 in 500 ms
    expect(pacer.chunk).toBe(256); // 320 (87%, 370 full-tile tokens) is over; 256 beats 192 (79%)
    pacer.observe(256, 256 / 0.9); // 500 full-tile tokens in 500 ms: 448 (90%, 498) fits, as full as 256 and 384
    expect(pacer.chunk).toBe(448);
    pacer.observe(512, 512 / 0.95); // 475: 448 no longer fits; 384 (90%, 427) does, and is fuller than 320
    expect(pacer.chunk).toBe(384);
    pacer.observe(512, 400); // fast: the whole batch, every tile full
    expect(pacer.chunk).toBe(512);
    pacer.observe(128, 1_200); // deep: the floor took 1,200 ms, over twice the target: one tile
    expect(pacer.chunk).toBe(64);
    const even = new PrefillPacer(500, 512);
    even.efficiency = (tokens) => tileEfficiency(tokens, 8, 2); // every size fills its tiles: sized by time alone
    even.observe(128, 200);
    expect(even.chunk).toBe(320);
  });
});
