import { DraftSequenceTokenPredictor, InputLookupTokenPredictor, type Llama, type LlamaContext, type LlamaContextSequence, type LlamaModel, type TokenPredictor } from "node-llama-cpp";
import type { EngineConfig } from "../config/schema.js";
import { vocabularySize } from "./token-bias.js";

// Speculative decoding with node-llama-cpp's token predictors: a slot's sequence gets a predictor that drafts the
// next few tokens, and node-llama-cpp validates them in one decode with the model's own sampling, so the output is
// what the model would have generated token by token (the same text for greedy decoding), in fewer decode round trips
// when the drafts are right.

/** A model's token predictors: one per slot, and what they need (a draft model) until the engine closes. */
export interface Speculation {
  /** A new predictor for one slot's sequence, or undefined when speculative decoding is off. */
  predictor(): TokenPredictor | undefined;
  dispose(): Promise<void>;
}

const OFF: Speculation = { predictor: () => undefined, dispose: async () => {} };

/** A probe the draft model must tokenize exactly as the model does (same vocabulary, same tokenizer). */
const VOCABULARY_PROBE = "Once upon a time, 42 cats said: \"Hello!\"";

/** `ctxSize`: the model's context per slot (a draft sequence holds what its slot holds). */
export async function speculationFor(llama: Llama, model: LlamaModel, engine: EngineConfig, slots: number, ctxSize: number): Promise<Speculation> {
  if (engine.speculative === "off") return OFF;
  if (engine.speculative === "lookup")
    // A pattern of at least 2 tokens: single-token matches are mostly wrong and cost a wider decode each time.
    return { predictor: () => new InputLookupTokenPredictor({ patternLength: { min: 2 }, predictionLength: { max: engine.draftTokens } }), dispose: async () => {} };
  if (!engine.draftModel) throw new Error("engine.speculative is draft but no engine.draftModel is set");
  const draft = await llama.loadModel({ modelPath: engine.draftModel, gpuLayers: engine.gpuLayers });
  let context: LlamaContext | undefined;
  try {
    if (vocabularySize(draft) !== vocabularySize(model) || draft.tokenize(VOCABULARY_PROBE).join() !== model.tokenize(VOCABULARY_PROBE).join())
      throw new Error(`the draft model ${engine.draftModel} does not share the model's vocabulary (${vocabularySize(draft)} vs ${vocabularySize(model)} tokens)`);
    context = await draft.createContext({ sequences: slots, contextSize: ctxSize, threads: engine.threads || 1 });
  } catch (error) {
    await draft.dispose();
    throw error;
  }
  return {
    // minTokens: the model waits for a draft token rather than decoding alone while the draft model catches up.
    // tokenBias: a request's bias (logit_bias, ignore_eos) is built for the model and node-llama-cpp refuses it on
    // another model's sequence; the draft drafts without it, and the model's own sampling still applies it.
    predictor: () => new DraftSequenceTokenPredictor(context.getSequence(), { minTokens: 1, maxTokens: engine.draftTokens, evaluateOptions: { tokenBias: undefined } }),
    dispose: async () => {
      await context.dispose();
      await draft.dispose();
    },
  };
}

/** What a sequence's predictor achieved so far: drafted tokens the model accepted, and those it rejected. */
export function draftCounts(sequence: LlamaContextSequence): { accepted: number; rejected: number } | undefined {
  if (!sequence.tokenPredictor) return undefined;
  const { used, refuted } = sequence.tokenPredictions;
  return { accepted: used, rejected: refuted };
}
