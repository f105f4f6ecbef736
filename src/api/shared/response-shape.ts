import type { ErrorData, FinishReason, GenerationEvent, Usage } from "../../engine/types.js";

/** How one endpoint shapes the shared generation events into its OpenAI objects. */
export interface ResponseShape {
  /** Sent before the first token (chat sends the assistant role here). */
  streamStart?(): object;
  streamDelta(text: string): object;
  streamFinish(reason: FinishReason): object;
  streamUsage(usage: OpenAiUsage): object;
  complete(text: string, reason: FinishReason, usage: OpenAiUsage): object;
}

export interface OpenAiUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number };
}

export function toOpenAiUsage(usage: Usage): OpenAiUsage {
  return {
    prompt_tokens: usage.promptTokens,
    completion_tokens: usage.completionTokens,
    total_tokens: usage.promptTokens + usage.completionTokens,
    prompt_tokens_details: { cached_tokens: usage.cachedTokens },
  };
}

export function openAiError(error: ErrorData) {
  return { message: error.message, type: error.type, param: error.param, code: error.code };
}

export type StreamItem =
  | { kind: "chunk"; data: object }
  | { kind: "end"; usage: OpenAiUsage }
  | { kind: "error"; error: ErrorData };

/**
 * The streamed form of a generation, whatever the transport: the chunks OpenAI sends (role first,
 * one per text event, the finish chunk, the usage chunk when asked for), then an end or an error.
 */
export async function* streamItems(events: AsyncIterable<GenerationEvent>, shape: ResponseShape, includeUsage: boolean): AsyncGenerator<StreamItem> {
  const start = shape.streamStart?.();
  if (start) yield { kind: "chunk", data: start };
  for await (const event of events) {
    if (event.type === "text") yield { kind: "chunk", data: shape.streamDelta(event.text) };
    else if (event.type === "error") return yield { kind: "error", error: event.error };
    else {
      const usage = toOpenAiUsage(event.usage);
      yield { kind: "chunk", data: shape.streamFinish(event.finishReason) };
      if (includeUsage) yield { kind: "chunk", data: shape.streamUsage(usage) };
      return yield { kind: "end", usage };
    }
  }
}
