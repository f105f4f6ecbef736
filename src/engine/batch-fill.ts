import type { BatchItem, CustomBatchingPrioritizationStrategy, EvaluationPriority, PrioritizedBatchItem } from "node-llama-cpp";

// node-llama-cpp's batch loop decodes whatever is queued the moment the previous decode ends; the
// sequence whose sampled token resolves last misses every batch, so N streams make decodes of fewer than
// N tokens, and more of them (../shared/notes/engine-performance.md, cause 2). This strategy holds a
// decode for a few microtask turns until every active generation has queued its token, then decodes them
// all in slot order (consecutive sequence ids make fewer ubatches, cause 3). Generation tokens go first;
// prompt tokens fill what is left of the batch.

const MAX_HOLDS = 32; // microtask turns; an unbounded hold would spin the event loop

/** There is no public sequence id on a batch item: the slot index rides in the priority's fraction. */
export const slotPriority = (slot: number): EvaluationPriority => (5 - slot / 1000) as EvaluationPriority;
const slotOf = (item: BatchItem) => Math.round((5 - item.evaluationPriority) * 1000);

export class BatchFill {
  /** Generations running on the context (each queues one item per decode step). */
  private active = 0;
  private holds = 0;

  begin(): void {
    this.active++;
  }

  end(): void {
    this.active--;
  }

  readonly strategy: CustomBatchingPrioritizationStrategy = ({ items, size }) => {
    if (items.length < this.active && this.holds++ < MAX_HOLDS) return [];
    this.holds = 0;
    const ordered = [...items].sort((a, b) => Number(b.tokens.length === 1) - Number(a.tokens.length === 1) || slotOf(a) - slotOf(b));
    const batch: PrioritizedBatchItem[] = [];
    let left = size;
    for (const item of ordered) {
      if (left === 0) break;
      const processAmount = Math.min(item.tokens.length, left);
      batch.push({ item, processAmount });
      left -= processAmount;
    }
    return batch;
  };
}
