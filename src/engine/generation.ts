import { isLlamaText, LlamaGrammarEvaluationState, type EvaluationPriority, type LlamaGrammar, type LlamaModel, type SequenceEvaluateOptions, type Token } from "node-llama-cpp";
import { TextAssembler } from "./text-assembler.js";
import { tokenBiasFor } from "./token-bias.js";
import type { RenderedPrompt } from "./prompt.js";
import type { Slot } from "./slot.js";
import { draftCounts } from "./speculative.js";
import { prefill } from "./prefill.js";
import type { FinishReason, GenerationEvent, GenerationRequest, SamplingParams, TokenLogprob } from "./types.js";

export const PENALTY_WINDOW = 64; // llama.cpp's default penalty_last_n

export interface SlotGeneration {
  model: LlamaModel;
  slot: Slot;
  prompt: RenderedPrompt;
  /** Prompt tokens already in the slot's cache (see Slot.keepSharedPrefix). */
  reused: number;
  request: GenerationRequest;
  signal: AbortSignal;
  evaluationPriority?: EvaluationPriority;
  /** The compiled form of request.constraint, if any. */
  grammar?: LlamaGrammar;
  /**
   * The grammar applies from the token after this text (the end of a thinking block the template opened), as
   * llama-server applies it after the reasoning: the model thinks freely, then answers in the constrained form.
   */
  grammarAfter?: string;
}

/**
 * Evaluates the uncached part of the prompt on a slot and yields text as tokens arrive. It returns
 * without a final event when `signal` aborts; the caller decides what an abort means.
 */
export async function* generateOnSlot(job: SlotGeneration): AsyncGenerator<GenerationEvent> {
  const { model, slot, prompt, reused, request, signal } = job;
  const promptTokens = prompt.tokens;
  const maxTokens = Math.min(request.maxTokens, slot.contextSize - promptTokens.length);
  const stopTokens = new Set(prompt.stopTokens);
  const assembler = new TextAssembler(
    (tokens, preceding) => model.detokenize(tokens as Token[], false, preceding as Token[]),
    [...request.stop, ...prompt.stopStrings, ...(job.grammar ? [] : prompt.turnStops), ...grammarStopStrings(job.grammar)],
    promptTokens,
  );
  const recentTokens = promptTokens.slice(-PENALTY_WINDOW);
  const constraint = job.grammar ? new GrammarAfter(new LlamaGrammarEvaluationState({ model, grammar: job.grammar }), job.grammarAfter) : undefined;
  const options: SequenceEvaluateOptions = {
    ...samplingOptions(request, recentTokens),
    tokenBias: tokenBiasFor(model, request),
    ...(constraint ? { grammarEvaluationState: constraint.option } : {}),
    evaluationPriority: job.evaluationPriority,
    yieldEogToken: false,
  };
  const logprobs = request.logprobs;
  // A token predictor (speculative decoding) drafts from the prompt or from a draft model; its counters are per sequence.
  slot.sequence.tokenPredictor?.updateInputTokens?.(promptTokens);
  const draftsBefore = draftCounts(slot.sequence);
  // A long prompt goes in chunks, the signal looked at between them; the last chunk goes with the first decode.
  const tail = await prefill(slot.sequence, slot.pacer, promptTokens.slice(reused), { signal, evaluationPriority: job.evaluationPriority });
  if (signal.aborted) return;
  const evaluation: AsyncGenerator<Token | { token: Token; probabilities: Map<Token, number> }, void> = logprobs
    ? slot.sequence.evaluateWithMetadata(tail, { probabilities: true }, options)
    : slot.sequence.evaluate(tail, options);
  const pendingLogprobs: TokenLogprob[] = [];

  let completionTokens = 0;
  let finishReason: FinishReason = "stop";
  // Pipelined: the next decode is requested before this token's text is handed on, so the decode
  // runs on its pool thread while the consumer writes to the network (measured 12% more tok/s).
  let next = evaluation.next();
  try {
    for (;;) {
      const result = await next;
      if (result.done || signal.aborted) break;
      const token = typeof result.value === "number" ? result.value : result.value.token;
      if (stopTokens.has(token)) break;
      if (logprobs && typeof result.value !== "number") pendingLogprobs.push(tokenLogprob(model, token, result.value.probabilities, logprobs.top, recentTokens.at(-1)));
      completionTokens++;
      slot.generatedTokens++;
      recentTokens.push(token);
      if (recentTokens.length > PENALTY_WINDOW) recentTokens.shift();
      const { text, stopped } = assembler.push(token);
      constraint?.read(text); // before the next token is asked for: it is the first the grammar may have to shape
      const reachedMax = completionTokens >= maxTokens;
      if (reachedMax) finishReason = "length";
      const more = !stopped && !reachedMax;
      if (more) next = evaluation.next();
      if (text) yield { type: "text", text, ...(logprobs ? { logprobs: pendingLogprobs.splice(0) } : {}) };
      if (!more) break;
    }
  } finally {
    await evaluation.return();
  }
  if (signal.aborted) return;
  const rest = assembler.flush();
  if (rest) yield { type: "text", text: rest, ...(logprobs ? { logprobs: pendingLogprobs.splice(0) } : {}) };
  const stopSequence = assembler.matchedStop !== undefined && request.stop.includes(assembler.matchedStop) ? assembler.matchedStop : undefined;
  const draftsAfter = draftCounts(slot.sequence);
  const drafts = draftsBefore && draftsAfter ? { accepted: draftsAfter.accepted - draftsBefore.accepted, rejected: draftsAfter.rejected - draftsBefore.rejected } : undefined;
  yield {
    type: "done",
    finishReason,
    usage: { promptTokens: promptTokens.length, cachedTokens: reused, completionTokens, ...(drafts ? { drafts } : {}) },
    ...(stopSequence !== undefined ? { stopSequence } : {}),
  };
}

/** A grammar that applies from the start, or only after a given text has been generated. */
export class GrammarAfter {
  private seen = "";
  private active: boolean;

  constructor(
    private readonly grammar: LlamaGrammarEvaluationState,
    private readonly after: string | undefined,
  ) {
    this.active = !after;
  }

  /** For node-llama-cpp: the grammar itself when it applies from the start (a draft model then shares it), else asked before each token is sampled. */
  get option(): LlamaGrammarEvaluationState | (() => LlamaGrammarEvaluationState | undefined) {
    return this.after ? () => this.state() : this.grammar;
  }

  state(): LlamaGrammarEvaluationState | undefined {
    return this.active ? this.grammar : undefined;
  }

  read(text: string): void {
    if (this.active || !text) return;
    this.seen = (this.seen + text).slice(-(this.after!.length + text.length));
    this.active = this.seen.includes(this.after!);
  }
}

function samplingOptions(request: GenerationRequest, recentTokens: Token[]): SequenceEvaluateOptions {
  const { repeatPenalty, presencePenalty, frequencyPenalty } = request.sampling;
  return {
    ...samplerSettings(request.sampling),
    ...(penalizes(request.sampling) ? { repeatPenalty: { punishTokens: () => recentTokens, penalty: repeatPenalty, presencePenalty, frequencyPenalty } } : {}),
  };
}

/** Every value explicit: node-llama-cpp's defaults are not OpenAI's. */
export function samplerSettings({ temperature, topP, topK, minP, seed }: SamplingParams) {
  return { temperature, topP, topK, minP, seed };
}

export const penalizes = ({ presencePenalty, frequencyPenalty, repeatPenalty }: SamplingParams): boolean => presencePenalty !== 0 || frequencyPenalty !== 0 || repeatPenalty !== 1;

/**
 * The token's natural log-probability and the `top` likeliest tokens at its position, from the
 * distribution the sampler drew from (after top_k/top_p/min_p/temperature, like llama-server's
 * post-sampling probabilities; at temperature 0 or 1 without truncation it is the model's own).
 */
function tokenLogprob(model: LlamaModel, token: Token, probabilities: Map<Token, number>, top: number, previous: Token | undefined): TokenLogprob {
  // With the token before it, a piece keeps its leading space (SentencePiece drops it at a text's start).
  const piece = (t: Token) => model.detokenize([t], false, previous === undefined ? [] : [previous]);
  const alternatives: TokenLogprob["top"] = [];
  for (const [candidate, probability] of probabilities) {
    if (alternatives.length >= top) break;
    alternatives.push({ token: piece(candidate), logprob: Math.log(probability) });
  }
  return { token: piece(token), logprob: Math.log(probabilities.get(token) ?? 0), top: alternatives };
}

/**
 * A grammar whose root is complete may still allow trailing whitespace (node-llama-cpp's JSON grammars
 * do); its stop triggers end the answer there instead of at max_tokens.
 */
function grammarStopStrings(grammar: LlamaGrammar | undefined): string[] {
  if (!grammar) return [];
  return grammar.stopGenerationTriggers.flatMap((trigger) => {
    const values: readonly unknown[] = typeof trigger === "string" ? [trigger] : isLlamaText(trigger) ? trigger.values : trigger;
    return values.every((v) => typeof v === "string") ? [values.join("")] : [];
  });
}
