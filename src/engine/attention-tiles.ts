import type { LlamaModel } from "node-llama-cpp";

// llama.cpp's CPU flash attention (ggml-cpu ops.cpp, flash_attn_ext_f16) on a prompt batch of N tokens works on
// N x heads query rows, numbered token by token within each head. It cuts them into 4 pieces per thread and runs
// each piece in tiles of 64 rows, starting a new tile at each piece's start and at each head's start; every tile
// reads the whole KV cache, however few rows it holds. So a batch whose pieces cut its heads' tiles pays for tiles
// it does not fill: the 57M model (9 heads) on 2 threads runs 24 tiles for 128 tokens where 18 would do, 72 (all
// full) for 512. Deep in a context, where attention is most of a chunk's time, that is its cost per token.

/** Query rows in one tile of llama.cpp's CPU flash attention (GGML_FA_TILE_Q). */
export const ATTENTION_TILE = 64;

/** How many tiles llama.cpp's CPU flash attention runs for a prompt batch of `tokens` (at least one tile's rows). */
export function attentionTiles(tokens: number, heads: number, threads: number): number {
  const rows = tokens * heads;
  let pieces = Math.ceil(rows / Math.ceil(rows / (threads * 4)));
  if (threads === 1 || pieces < threads) pieces = threads;
  const perPiece = Math.ceil(rows / pieces);
  let tiles = 0;
  for (let piece = 0; piece < pieces; piece++) {
    const end = Math.min((piece + 1) * perPiece, rows);
    for (let row = piece * perPiece; row < end; tiles++) row += Math.min(ATTENTION_TILE, end - row, tokens - (row % tokens));
  }
  return tiles;
}

/**
 * The share of the attention work of a batch of `tokens` that fills its tiles (1: every tile full). Below one
 * tile's rows llama.cpp goes row by row, which this does not describe: 1.
 */
export function tileEfficiency(tokens: number, heads: number, threads: number): number {
  if (tokens < ATTENTION_TILE || heads < 1 || threads < 1) return 1;
  return (tokens * heads) / ATTENTION_TILE / attentionTiles(tokens, heads, threads);
}

/**
 * The query heads of `model` where its prompt batches take the tiled path (flash attention on, a CPU context, a
 * head size the tiles' vectors divide); undefined elsewhere (GPU, flash attention off, heads per layer).
 */
export function tiledAttentionHeads(model: LlamaModel, onCpu: boolean, flashAttention: boolean): number | undefined {
  if (!onCpu || !flashAttention) return undefined;
  const metadata = model.fileInfo.metadata as unknown as Record<string, { attention?: { head_count?: unknown; value_length?: unknown }; embedding_length?: unknown } | undefined> & { general?: { architecture?: string } };
  const architecture = metadata.general?.architecture;
  const hparams = architecture ? metadata[architecture] : undefined;
  const heads = hparams?.attention?.head_count;
  if (typeof heads !== "number" || !Number.isInteger(heads) || heads < 1) return undefined;
  const embedding = hparams?.embedding_length;
  const valueLength = hparams?.attention?.value_length ?? (typeof embedding === "number" ? embedding / heads : undefined);
  // The tiled path needs a head size that is a whole number of SIMD vectors (16 floats covers AVX-512 and below).
  return typeof valueLength === "number" && valueLength % 16 === 0 ? heads : undefined;
}
