import { stat } from "node:fs/promises";
import { readGgufFileInfo } from "node-llama-cpp";
import type { EngineConfig } from "../config/schema.js";

const MiB = 1024 * 1024;
const KV_BYTES_PER_ELEMENT: Record<EngineConfig["kvCacheType"], number> = { f16: 2, q8_0: 34 / 32, q4_0: 18 / 32 };
const COMPUTE_BATCH = 512; // node-llama-cpp's default batch size

/**
 * About how much memory a model takes once loaded with these engine settings, read from its GGUF header
 * without loading it: the weights (the file's size), the KV cache of every slot, and a compute buffer per
 * context (logits and activations for one batch). An estimate for deciding what fits, not an accounting.
 */
export async function estimateModelMemory(path: string, engine: Pick<EngineConfig, "slots" | "ctxSize" | "layout" | "kvCacheType" | "batchSize">): Promise<number> {
  const [{ size }, info] = await Promise.all([stat(path), readGgufFileInfo(path, { readTensorInfo: false })]);
  const arch = info.architectureMetadata as {
    block_count?: number; context_length?: number; embedding_length?: number; vocab_size?: number;
    attention?: { head_count?: number; head_count_kv?: number; key_length?: number; value_length?: number };
  };
  const layers = arch.block_count ?? 0;
  const embedding = arch.embedding_length ?? 0;
  const heads = arch.attention?.head_count || 1;
  const kvHeads = arch.attention?.head_count_kv ?? heads;
  const headDim = embedding / heads;
  const keyValueWidth = kvHeads * ((arch.attention?.key_length ?? headDim) + (arch.attention?.value_length ?? headDim));
  const ctxSize = engine.ctxSize || Math.min(arch.context_length ?? 4096, 4096);
  const kvCache = engine.slots * ctxSize * layers * keyValueWidth * KV_BYTES_PER_ELEMENT[engine.kvCacheType];
  const vocabulary = arch.vocab_size ?? info.metadata.tokenizer?.ggml?.tokens?.length ?? 0;
  const contexts = engine.layout === "batched" ? 1 : engine.slots;
  const compute = contexts * (vocabulary + 8 * embedding) * Math.min(engine.batchSize || COMPUTE_BATCH, ctxSize) * 4;
  return Math.ceil(size + kvCache + compute);
}

export const toMiB = (bytes: number): string => `${Math.round(bytes / MiB)} MiB`;
