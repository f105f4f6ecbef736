import { TokenBias, type LlamaModel, type Token } from "node-llama-cpp";
import type { GenerationRequest } from "./types.js";

// TokenBias.set() silently skips end-of-generation tokens, which ignore_eos must ban and logit_bias may
// target (OpenAI lets a client bias its end-of-text token), so biases go into its map directly. The
// ignore_eos and logit_bias tests catch it if node-llama-cpp ever changes that map.
const biasMap = (bias: TokenBias) => (bias as unknown as { _biases: Map<Token, number> })._biases;

export const vocabularySize = (model: LlamaModel): number => model.fileInfo.metadata.tokenizer?.ggml?.tokens?.length ?? 0;

const endOfGenerationBans = new WeakMap<LlamaModel, Map<Token, number>>();

/** Every end-of-generation token, banned: llama-server's ignore_eos. Listed once per model. */
function endOfGenerationBan(model: LlamaModel): Map<Token, number> {
  let bans = endOfGenerationBans.get(model);
  if (!bans) {
    bans = new Map();
    for (let token = 0; token < vocabularySize(model); token++) if (model.isEogToken(token as Token)) bans.set(token as Token, -Infinity);
    endOfGenerationBans.set(model, bans);
  }
  return bans;
}

/** The request's logit_bias (added to the logits, as OpenAI does) and ignore_eos ban, or undefined when it has neither. */
export function tokenBiasFor(model: LlamaModel, request: Pick<GenerationRequest, "ignoreEos" | "logitBias">): TokenBias | undefined {
  const own = Object.entries(request.logitBias ?? {});
  if (!request.ignoreEos && own.length === 0) return undefined;
  const bias = TokenBias.for(model);
  const map = biasMap(bias);
  for (const [token, logit] of own) map.set(Number(token) as Token, logit);
  if (request.ignoreEos) for (const [token, ban] of endOfGenerationBan(model)) map.set(token, ban);
  return bias;
}
