import type { LlamaContext, LlamaContextSequence, LlamaEmbeddingContext, LlamaModel, Token } from "node-llama-cpp";
import { withBos } from "./prompt.js";

/** How a sequence's token states become one vector (llama-server's --pooling). */
export type Pooling = "mean" | "cls" | "last" | "rank";
export type PoolingSetting = "auto" | Exclude<Pooling, "rank">;

/** Which pooling a model embeds with, and where that came from. */
export interface PoolingChoice {
  pooling: Pooling;
  /** gguf: the model's own (its <arch>.pooling_type); config: models[].pooling; fallback: the model declares none, so its last token. */
  source: "gguf" | "config" | "fallback";
}

const GGUF_POOLING: Record<number, Pooling | undefined> = { 1: "mean", 2: "cls", 3: "last", 4: "rank" };

/**
 * The pooling a model embeds with. A model that declares its pooling (an embedding model) is pooled by
 * llama.cpp its own way, which node-llama-cpp cannot change, so a different setting is a load error. A plain
 * decoder declares none: it takes the setting, or its last token (the only state that saw the whole input).
 */
export function choosePooling(model: LlamaModel, setting: PoolingSetting): PoolingChoice {
  const metadata = model.fileInfo.metadata as unknown as Record<string, { pooling_type?: number } | undefined>;
  const declared = GGUF_POOLING[metadata[model.fileInfo.metadata.general.architecture]?.pooling_type ?? 0];
  if (declared) {
    if (setting !== "auto" && setting !== declared)
      throw new Error(`pooling '${setting}' cannot be used: this model's GGUF declares '${declared}' pooling, which llama.cpp applies itself (set pooling: auto)`);
    return { pooling: declared, source: "gguf" };
  }
  return setting === "auto" ? { pooling: "last", source: "fallback" } : { pooling: setting, source: "config" };
}

/** One vector per token list, pooled as chosen; inputs are evaluated one at a time on a context of its own. */
export class Embedder {
  private constructor(
    readonly choice: PoolingChoice,
    private readonly model: LlamaModel,
    private readonly pooled: LlamaEmbeddingContext | undefined,
    private readonly perToken: { context: LlamaContext; sequence: LlamaContextSequence } | undefined,
  ) {}

  static async create(model: LlamaModel, choice: PoolingChoice, options: { contextSize: number; threads: number }): Promise<Embedder> {
    // Mean over a model without pooling needs every token's state; llama.cpp's embedding context returns the
    // last one only, so each token is decoded alone on an embeddings context (node-llama-cpp's internal
    // option, the one its own LlamaEmbeddingContext uses) and its state read after it.
    if (choice.pooling === "mean" && choice.source === "config") {
      const context = await model.createContext({ ...options, _embeddings: true } as Parameters<LlamaModel["createContext"]>[0]);
      return new Embedder(choice, model, undefined, { context, sequence: context.getSequence() });
    }
    return new Embedder(choice, model, await model.createEmbeddingContext(options), undefined);
  }

  /** The raw (unnormalized) vector of `tokens` (without BOS: it is added as the model wants). */
  async embed(tokens: Token[]): Promise<number[]> {
    if (this.perToken) return this.meanOfTokenStates(tokens);
    const input = this.choice.pooling === "cls" && this.choice.source === "config" ? withBos(this.model, tokens).slice(0, 1) : tokens;
    return [...(await this.pooled!.getEmbeddingFor(input)).vector];
  }

  private async meanOfTokenStates(tokens: Token[]): Promise<number[]> {
    const { context, sequence } = this.perToken!;
    await sequence.clearHistory();
    let sum: number[] | undefined;
    const input = withBos(this.model, tokens);
    for (const token of input) {
      for await (const _ of sequence.evaluate([token], { _noSampling: true } as never)) break;
      const state = (context as unknown as { _ctx: { getEmbedding(length: number): Float64Array } })._ctx.getEmbedding(1);
      sum ??= new Array<number>(state.length).fill(0);
      for (let i = 0; i < state.length; i++) sum[i]! += state[i]!;
    }
    return (sum ?? []).map((value) => value / input.length);
  }

  async dispose(): Promise<void> {
    await this.pooled?.dispose();
    await this.perToken?.context.dispose();
  }
}

/**
 * llama-server's embd_normalize: -1 none, 0 max-absolute scaled to int16's range, 1 taxicab, 2 Euclidean
 * (unit length, as OpenAI's embeddings are), p > 2 the p-norm.
 */
export function normalizeVector(vector: readonly number[], norm: number): number[] {
  if (norm < 0) return [...vector];
  const size =
    norm === 0 ? Math.max(...vector.map(Math.abs)) / 32760
    : norm === 2 ? Math.sqrt(vector.reduce((sum, v) => sum + v * v, 0))
    : vector.reduce((sum, v) => sum + Math.abs(v) ** norm, 0) ** (1 / norm);
  return size > 0 ? vector.map((v) => v / size) : [...vector];
}
