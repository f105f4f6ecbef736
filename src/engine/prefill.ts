import { setTimeout as sleep } from "node:timers/promises";
import type { EvaluationPriority, LlamaContextSequence, Token } from "node-llama-cpp";
import { ATTENTION_TILE } from "./attention-tiles.js";

// node-llama-cpp evaluates a prompt handed to one call in one go (its batches follow one another with no
// way out), so a long prompt is handed over a chunk at a time and the request's signal is looked at in
// between, as llama-server checks for cancellation between prompt batches. Chunks are sized by time, not
// tokens: a token late in a long prompt costs many times one early in it (attention over everything
// before it: on the 57M model on 2 vCPUs, 0.26 s per 128 tokens at the start, 1.8 s at 16k). What was
// evaluated stays in the sequence: a retry of the same prompt reuses it.
// Sizes are whole tiles of llama.cpp's CPU flash attention (64 query rows; fewer go row by row) and at least
// `minChunk` while that takes at most twice the time target (one tile beyond, so that cancellation stays prompt):
// deep in a context a chunk below two tiles costs far more per token (57M model at 12k tokens, 2 threads:
// 16 tokens 15 ms each, 64 tokens 7.8 ms, 128 tokens 6.0 ms, 512 tokens 5.5 ms), and a chunk sized from the rate of
// a smaller one shrinks further, until the prompt runs at half the rate llama-server's 512-token batches reach.
// Of the sizes within the time target, the one whose tiles are fullest (attention-tiles.ts): with 9 heads on 2
// threads 256 tokens fill 90% of theirs and 320 87%, so 256 is taken; where every size fills them (8 or 32 heads on
// 2 threads), the largest.

/**
 * A slot's prompt rate, measured on its own chunks, and the chunk size it gives for a time budget; and, while other
 * slots generate, the pause after each chunk that keeps the prompt to `share` of the time (their tokens keep
 * flowing on a machine whose cores the prompt would otherwise take).
 */
export class PrefillPacer {
  /** Cost units (tokens over their tile efficiency) per ms, measured on the last chunk. */
  private rate?: number;
  /** Whether other slots are generating now; set by the engine once its scheduler exists. */
  othersGenerating: () => boolean = () => false;
  /**
   * The share of a chunk's attention work that fills llama.cpp's flash-attention tiles, by the chunk's size and the
   * threads it would run on now (attention-tiles.ts); set by the engine on CPU with flash attention, 1 elsewhere.
   */
  efficiency: (tokens: number) => number = () => 1;

  constructor(
    /** How long a chunk should take: the time a cancelled request may keep its slot (up to twice it for `minChunk`). */
    private readonly targetMs: number,
    /** The context's batch size: a larger chunk gains nothing (node-llama-cpp splits it into batches). */
    private readonly maxChunk: number,
    private readonly share = 1,
    /** The smallest chunk while it takes at most twice `targetMs` (engine.prefillMinChunk); the first chunk, before a rate is measured. */
    private readonly minChunk = 2 * ATTENTION_TILE,
  ) {}

  /** How long to wait after a chunk that took `ms`. */
  pauseAfter(ms: number): number {
    return this.share < 1 && this.othersGenerating() ? ms * (1 / this.share - 1) : 0;
  }

  /** What a chunk of `tokens` costs in tokens at full tile efficiency: deep in a context its time is about this over the rate. */
  private cost(tokens: number): number {
    return tokens / this.efficiency(tokens);
  }

  get chunk(): number {
    const rate = this.rate;
    if (rate === undefined) return Math.max(1, Math.min(this.maxChunk, this.minChunk));
    // Of the whole-tile sizes expected within the time target, the one whose tiles are fullest (the larger of equals).
    let size = 0;
    let best = 0;
    for (let tokens = ATTENTION_TILE; tokens <= this.maxChunk; tokens += ATTENTION_TILE) {
      const efficiency = this.efficiency(tokens);
      if (tokens / efficiency <= rate * this.targetMs && efficiency >= best - 1e-9) [size, best] = [tokens, efficiency];
    }
    // Below the floor: the floor while it takes at most twice the target, else one tile (the cancellation bound
    // holds deep in a long context, where a chunk of two tiles would take seconds).
    if (size < this.minChunk) size = this.cost(this.minChunk) <= 2 * rate * this.targetMs ? this.minChunk : Math.min(this.minChunk, Math.max(ATTENTION_TILE, size));
    return Math.max(1, Math.min(this.maxChunk, size));
  }

  observe(tokens: number, ms: number): void {
    if (ms > 0) this.rate = this.cost(tokens) / ms;
  }
}

export interface PrefillOptions {
  signal: AbortSignal;
  evaluationPriority?: EvaluationPriority;
  /** Evaluate every token; without it the last chunk (at most one chunk, at least one token) is returned unevaluated. */
  all?: boolean;
}

/**
 * Evaluates `tokens` into the sequence a chunk at a time and stops between chunks once `signal` aborts.
 * Returns the tokens not evaluated: unless `all`, the last chunk is left for the caller's generating
 * evaluation (its last token's logits pick the first answer token, and a short prompt costs no extra decode).
 */
export async function prefill(sequence: LlamaContextSequence, pacer: PrefillPacer, tokens: readonly Token[], { signal, evaluationPriority, all = false }: PrefillOptions): Promise<Token[]> {
  let rest = tokens as Token[];
  while (rest.length > 0 && !signal.aborted) {
    const size = pacer.chunk;
    if (!all && rest.length <= size) break;
    const chunk = rest.slice(0, size);
    const started = performance.now();
    await sequence.evaluateWithoutGeneratingNewTokens(chunk, { evaluationPriority });
    const ms = performance.now() - started;
    pacer.observe(chunk.length, ms);
    rest = rest.slice(chunk.length);
    const pause = pacer.pauseAfter(ms);
    if (pause > 0 && rest.length > 0) await sleep(pause, undefined, { signal }).catch(() => {});
  }
  return rest;
}
