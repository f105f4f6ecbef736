import type { LlamaContextSequence, Token } from "node-llama-cpp";
import { PrefillPacer } from "./prefill.js";
import type { PrefixCache } from "./slot-scheduler.js";

/** One KV-cache slot: a context sequence that keeps its tokens between requests for prefix reuse. */
export class Slot implements PrefixCache {
  /** Tokens this slot has generated since it was created. */
  generatedTokens = 0;
  /** Sizes this slot's prompt chunks from its measured prompt rate (prefill.ts). */
  readonly pacer: PrefillPacer;

  constructor(
    readonly index: number,
    readonly sequence: LlamaContextSequence,
    /** engine.prefixCache: off makes every request evaluate its whole prompt (for comparisons). */
    readonly reusesPrefixes = true,
    /** engine.prefillChunkMs, prefillShare and prefillMinChunk: how long one prompt chunk should take, its share of the time beside other generations, its fewest tokens. */
    prefill: { chunkMs: number; share: number; minChunk?: number } = { chunkMs: 500, share: 1 },
  ) {
    this.pacer = new PrefillPacer(prefill.chunkMs, sequence.context.batchSize, prefill.share, prefill.minChunk);
  }

  get contextSize(): number {
    return this.sequence.contextSize;
  }

  get cachedLength(): number {
    return this.reusesPrefixes ? this.sequence.nextTokenIndex : 0;
  }

  cachedPrefixLength(tokens: readonly number[]): number {
    if (this.cachedLength === 0) return 0;
    return this.sequence.compareContextTokens(tokens as Token[]).firstDifferentIndex;
  }

  /**
   * Drops whatever the cache holds beyond the shared prefix and returns how many prompt tokens are
   * reused. At least one prompt token is always evaluated again: its logits choose the first answer token.
   */
  async keepSharedPrefix(tokens: readonly Token[]): Promise<number> {
    const reused = Math.min(this.cachedPrefixLength(tokens), tokens.length - 1);
    const end = this.sequence.nextTokenIndex;
    if (end > reused) await this.sequence.eraseContextTokenRanges([{ start: reused, end }]);
    return reused;
  }
}
