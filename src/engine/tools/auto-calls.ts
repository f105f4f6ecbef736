import { LlamaChat, type EvaluationPriority, type LlamaModel, type Token } from "node-llama-cpp";
import { generationFailed } from "../../errors.js";
import { EventQueue } from "../event-queue.js";
import { PENALTY_WINDOW, penalizes, samplerSettings } from "../generation.js";
import { prefill } from "../prefill.js";
import { toFunctions, type PromptRenderer, type RenderedPrompt } from "../prompt.js";
import type { ReasoningMode } from "../reasoning.js";
import type { Slot } from "../slot.js";
import { tokenBiasFor } from "../token-bias.js";
import type { ChatMessage, FinishReason, GenerationEvent, GenerationRequest, ToolUse } from "../types.js";
import { newToolCallId } from "./tool-call-id.js";

export interface AutoCallJob {
  model: LlamaModel;
  slot: Slot;
  renderer: PromptRenderer;
  messages: ChatMessage[];
  /** The prompt as rendered for this request: its long part is evaluated in chunks before LlamaChat takes over. */
  prompt: RenderedPrompt;
  tools: ToolUse;
  request: GenerationRequest;
  promptTokens: number;
  reused: number;
  reasoning: ReasoningMode;
  signal: AbortSignal;
  evaluationPriority?: EvaluationPriority;
}

/**
 * tool_choice "auto": node-llama-cpp's function calling on the slot's sequence. The model writes calls
 * in its template's own syntax; once it starts one, grammars hold the name to the offered functions and
 * the arguments to their schema. Text, thinking and argument fragments stream as they are generated.
 */
export async function* generateWithAutoCalls(job: AutoCallJob): AsyncGenerator<GenerationEvent> {
  const { slot, renderer, request, tools } = job;
  const stop = new AbortController();
  const signal = AbortSignal.any([job.signal, stop.signal]);
  const queue = new EventQueue<GenerationEvent>(() => stop.abort(new Error("reader stopped")));
  const chat = new LlamaChat({ contextSequence: slot.sequence, chatWrapper: renderer.chatWrapper, autoDisposeSequence: false });
  const callIds: string[] = [];
  let completionTokens = 0;
  const openCall = (index: number, name: string) => {
    if (callIds[index]) return;
    callIds[index] = newToolCallId();
    queue.push({ type: "tool_call", index, id: callIds[index], name });
  };
  const markers = renderer.thoughtMarkers;
  const { presencePenalty, frequencyPenalty, repeatPenalty } = request.sampling;
  const tokenBias = tokenBiasFor(job.model, request);

  // LlamaChat evaluates its prompt in one go: the prompt is evaluated in chunks first (the signal looked at
  // between them), and LlamaChat finds it in the sequence and evaluates only the rest.
  const run = prefill(slot.sequence, slot.pacer, job.prompt.tokens.slice(job.reused), { signal, evaluationPriority: job.evaluationPriority })
    .then(() => signal.aborted ? undefined : chat.generateResponse(renderer.chatHistory(job.messages), {
      functions: toFunctions(tools.tools),
      documentFunctionParams: true,
      ...(tools.parallel ? {} : { maxParallelFunctionCalls: 1 }),
      maxTokens: Math.max(1, Math.min(request.maxTokens, slot.contextSize - job.promptTokens)),
      ...samplerSettings(request.sampling),
      repeatPenalty: penalizes(request.sampling) ? { lastTokens: PENALTY_WINDOW, penalty: repeatPenalty, presencePenalty, frequencyPenalty } : false,
      customStopTriggers: [...request.stop.filter((s) => s.length > 0), ...job.prompt.turnStops],
      ...(tokenBias ? { tokenBias } : {}),
      evaluationPriority: job.evaluationPriority,
      signal,
      stopOnAbortSignal: true,
      onToken: (tokens: Token[]) => {
        completionTokens += tokens.length;
        slot.generatedTokens += tokens.length;
      },
      onResponseChunk: (chunk) => {
        if (chunk.type === undefined) {
          if (chunk.text) queue.push({ type: "text", text: chunk.text });
        } else if (chunk.segmentType === "thought") {
          if (job.reasoning === "separate") {
            if (chunk.text) queue.push({ type: "reasoning", text: chunk.text });
          } else {
            const text = `${chunk.segmentStartTime && markers ? markers.prefix : ""}${chunk.text}${chunk.segmentEndTime && markers ? markers.suffix : ""}`;
            if (text) queue.push({ type: "text", text });
          }
        }
      },
      onFunctionCallParamsChunk: ({ callIndex, functionName, paramsChunk }) => {
        openCall(callIndex, functionName);
        if (paramsChunk) queue.push({ type: "tool_arguments", index: callIndex, text: paramsChunk });
      },
    }))
    .then(
      (response) => {
        if (!response || signal.aborted) return;
        // Calls without parameters stream no chunks: announce them from the final answer.
        for (const [index, call] of (response.functionCalls ?? []).entries()) {
          if (callIds[index]) continue;
          openCall(index, call.functionName);
          queue.push({ type: "tool_arguments", index, text: JSON.stringify(call.params ?? {}) });
        }
        const reason = response.metadata.stopReason;
        const finishReason: FinishReason = callIds.length > 0 ? "tool_calls" : reason === "maxTokens" ? "length" : "stop";
        queue.push({ type: "done", finishReason, usage: { promptTokens: job.promptTokens, cachedTokens: job.reused, completionTokens } });
      },
      (error: unknown) => {
        if (!signal.aborted) queue.push({ type: "error", error: generationFailed(error).toData() });
      },
    )
    .finally(() => queue.end());
  try {
    yield* queue.iterate();
  } finally {
    stop.abort(new Error("generation ended"));
    await run;
    chat.dispose({ disposeSequence: false });
  }
}
