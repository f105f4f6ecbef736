import { randomUUID } from "node:crypto";
import type { FinishReason } from "../../engine/types.js";
import { anthropicErrorBody } from "../shared/error-handling.js";
import { toOpenAiUsage, type AnswerChoice, type AnswerEvent, type OpenAiUsage, type PromptCount, type ResponseShape, type StreamItem } from "../shared/response-shape.js";

// Anthropic's Message object and its stream of named events (message_start, content_block_start /
// _delta / _stop, message_delta, message_stop), as @anthropic-ai/sdk's types name them.

type StopReason = "end_turn" | "max_tokens" | "stop_sequence" | "tool_use";

function stopReason(finish: FinishReason, stopSequence: string | undefined): StopReason {
  if (finish === "length") return "max_tokens";
  if (finish === "tool_calls") return "tool_use";
  return stopSequence !== undefined ? "stop_sequence" : "end_turn";
}

const parsed = (json: string): unknown => {
  try {
    return JSON.parse(json);
  } catch {
    return {};
  }
};

export function messageResponseShape(model: string): ResponseShape {
  const id = `msg_${randomUUID().replaceAll("-", "")}`;
  const usageOf = (usage: OpenAiUsage) => anthropicUsage(usage.prompt_tokens, usage.prompt_tokens_details.cached_tokens, usage.completion_tokens);
  return {
    id,
    doneMarker: false,
    keepAliveFrame: `event: ping\ndata: ${JSON.stringify({ type: "ping" })}\n\n`, // while a long prompt is evaluated
    complete: ([choice], usage) => ({
      id,
      type: "message",
      role: "assistant",
      model,
      content: contentBlocks(choice!),
      stop_reason: stopReason(choice!.finishReason, choice!.stopSequence),
      stop_sequence: choice!.stopSequence ?? null,
      usage: usageOf(usage),
    }),
    streamError: (error) => ({ event: "error", data: anthropicErrorBody(error) }),
    streamFrames: (events, prompt) => messageStream(events, { id, model, prompt }),
  };
}

function contentBlocks(choice: AnswerChoice): object[] {
  return [
    ...(choice.reasoning ? [{ type: "thinking", thinking: choice.reasoning, signature: "" }] : []),
    ...(choice.text || choice.toolCalls.length === 0 ? [{ type: "text", text: choice.text, citations: null }] : []),
    ...choice.toolCalls.map((call) => ({ type: "tool_use", id: call.id, name: call.name, input: parsed(call.arguments) })),
  ];
}

/** The answer's events as Anthropic's stream: one content block per kind of output, opened and closed in order. */
async function* messageStream(events: AsyncIterable<AnswerEvent>, { id, model, prompt }: { id: string; model: string; prompt: PromptCount }): AsyncGenerator<StreamItem> {
  const frame = (event: string, data: object): StreamItem => ({ kind: "chunk", event, data: { type: event, ...data } });
  const startUsage = anthropicUsage(prompt.promptTokens, prompt.cachedTokens, 0);
  yield frame("message_start", { message: { id, type: "message", role: "assistant", model, content: [], stop_reason: null, stop_sequence: null, usage: startUsage } });
  yield frame("ping", {});
  let open: { kind: "text" | "thinking" | "tool"; toolIndex?: number } | undefined;
  let index = -1;
  let finish: { reason: FinishReason; stopSequence?: string } = { reason: "stop" };
  function* openBlock(kind: "text" | "thinking" | "tool", block: object, toolIndex?: number): Generator<StreamItem> {
    if (open) yield frame("content_block_stop", { index });
    open = { kind, ...(toolIndex !== undefined ? { toolIndex } : {}) };
    yield frame("content_block_start", { index: ++index, content_block: block });
  }
  for await (const event of events) {
    if (event.type === "choice") {
      const e = event.event;
      if (e.type === "text") {
        if (open?.kind !== "text") yield* openBlock("text", { type: "text", text: "", citations: null });
        yield frame("content_block_delta", { index, delta: { type: "text_delta", text: e.text } });
      } else if (e.type === "reasoning") {
        if (open?.kind !== "thinking") yield* openBlock("thinking", { type: "thinking", thinking: "", signature: "" });
        yield frame("content_block_delta", { index, delta: { type: "thinking_delta", thinking: e.text } });
      } else if (e.type === "tool_call") yield* openBlock("tool", { type: "tool_use", id: e.id, name: e.name, input: {} }, e.index);
      else if (open?.kind === "tool" && open.toolIndex === e.index) yield frame("content_block_delta", { index, delta: { type: "input_json_delta", partial_json: e.text } });
    } else if (event.type === "finish") finish = { reason: event.finishReason, ...(event.stopSequence !== undefined ? { stopSequence: event.stopSequence } : {}) };
    else if (event.type === "error") return yield { kind: "error", error: event.error };
    else {
      if (open) yield frame("content_block_stop", { index });
      yield frame("message_delta", { delta: { stop_reason: stopReason(finish.reason, finish.stopSequence), stop_sequence: finish.stopSequence ?? null }, usage: anthropicUsage(event.usage.promptTokens, event.usage.cachedTokens, event.usage.completionTokens) });
      yield frame("message_stop", {});
      return yield { kind: "end", usage: toOpenAiUsage(event.usage) };
    }
  }
}

/**
 * Usage as Anthropic counts it: `input_tokens` are the prompt tokens read from no cache (Anthropic's total input
 * is input + cache reads + cache writes); this server writes no cache entries a client pays for, so none are created.
 */
function anthropicUsage(promptTokens: number, cachedTokens: number, outputTokens: number) {
  return { input_tokens: promptTokens - cachedTokens, cache_creation_input_tokens: 0, cache_read_input_tokens: cachedTokens, output_tokens: outputTokens };
}
