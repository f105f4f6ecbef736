import { describe, expect, it } from "vitest";
import type { BatchItem, Token } from "node-llama-cpp";
import { BatchFill, slotPriority } from "../../src/engine/batch-fill.js";

const item = (slot: number, tokens: number): BatchItem => ({ tokens: Array.from({ length: tokens }, (_, i) => i as Token), logits: [], evaluationPriority: slotPriority(slot) });

describe("BatchFill", () => {
  it("holds the decode until every active generation has queued, for a bounded number of turns", () => {
    const fill = new BatchFill();
    fill.begin();
    fill.begin();
    const one = [item(1, 1)];
    const holds = Array.from({ length: 40 }, () => fill.strategy({ items: one, size: 512 }).length);
    expect(holds.slice(0, 32).every((n) => n === 0)).toBe(true);
    expect(holds[32]).toBe(1); // the cap: a stalled generation cannot hold the others back for long
    expect(fill.strategy({ items: [item(1, 1), item(0, 1)], size: 512 }).length).toBe(2);
    fill.end();
    expect(fill.strategy({ items: one, size: 512 }).length).toBe(1);
  });

  it("decodes generation tokens first in slot order, then prompt tokens within the batch size", () => {
    const fill = new BatchFill();
    const batch = fill.strategy({ items: [item(3, 300), item(2, 1), item(0, 400), item(1, 1)], size: 512 });
    expect(batch.map((b) => [Math.round((5 - b.item.evaluationPriority) * 1000), b.processAmount])).toEqual([[1, 1], [2, 1], [0, 400], [3, 110]]);
  });
});
