import type { ErrorData, FinishReason, GenerationEvent, TokenLogprob, ToolCall, Usage } from "../../engine/types.js";

/**
 * The events of a whole answer, all choices together: each choice's generation events tagged with
 * its index, a finish per choice, then one done with the usage of them all (or one error).
 */
export type AnswerEvent =
  | { type: "choice"; index: number; event: Extract<GenerationEvent, { type: "text" | "reasoning" | "tool_call" | "tool_arguments" }> }
  | { type: "finish"; index: number; finishReason: FinishReason; stopSequence?: string }
  | { type: "done"; usage: Usage }
  | { type: "error"; error: ErrorData };

/** One streamed piece of a choice: text, thinking, the start of a tool call (id and name) or a fragment of its arguments. */
export interface ChoiceDelta {
  text?: string;
  reasoning?: string;
  toolCall?: { index: number; id?: string; name?: string; arguments?: string };
  logprobs?: TokenLogprob[];
}

/** One choice of a finished answer. */
export interface AnswerChoice {
  text: string;
  reasoning: string;
  toolCalls: ToolCall[];
  logprobs: TokenLogprob[] | null;
  finishReason: FinishReason;
  /** How many of its tokens were thinking. */
  reasoningTokens: number;
  /** The request's stop string that ended it, if one did. */
  stopSequence?: string;
}

interface ShapeBase {
  /** The response object's id (chatcmpl-…, cmpl-…, msg_…, resp_…). */
  id: string;
  /** The whole answer's response object (a protocol that stores responses stores it first). */
  complete(choices: AnswerChoice[], usage: OpenAiUsage): object | Promise<object>;
  /** A stream's error event (default: OpenAI's `{"error": {...}}`). */
  streamError?(error: ErrorData): { event?: string; data: object };
  /** Whether an SSE stream ends with `data: [DONE]` (OpenAI's; default true). */
  doneMarker?: boolean;
  /** The SSE frame a stream silent for a while gets (default: a `: keep-alive` comment). */
  keepAliveFrame?: string;
}

/** OpenAI's streams: one chunk object per answer event. */
export interface ChunkShape extends ShapeBase {
  /** Sent before a choice's first token (chat sends the assistant role here). */
  streamStart?(index: number): object;
  streamDelta(index: number, delta: ChoiceDelta): object;
  streamFinish(index: number, reason: FinishReason): object;
  streamUsage(usage: OpenAiUsage): object;
  streamFrames?: undefined;
}

/** The prompt's size and how much of it came from cache: known before the first token. */
export interface PromptCount {
  promptTokens: number;
  cachedTokens: number;
}

/**
 * A protocol whose stream is not one chunk per event (Anthropic's content blocks and named events) writes its
 * own stream items from the answer's events; the prompt's count is known before the first one.
 */
export interface FramedShape extends ShapeBase {
  streamFrames(events: AsyncIterable<AnswerEvent>, prompt: PromptCount): AsyncIterable<StreamItem>;
}

/** How one endpoint shapes the shared answer events into its protocol's objects. */
export type ResponseShape = ChunkShape | FramedShape;

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

const bytesOf = (text: string) => [...Buffer.from(text, "utf8")];

/** Chat's logprobs entry: the token, its log-probability, its UTF-8 bytes and the top alternatives. */
export function toOpenAiLogprob({ token, logprob, top }: TokenLogprob) {
  return { token, logprob, bytes: bytesOf(token), top_logprobs: top.map((t) => ({ token: t.token, logprob: t.logprob, bytes: bytesOf(t.token) })) };
}

export function openAiError(error: ErrorData) {
  return { message: error.message, type: error.type, param: error.param, code: error.code };
}

export type StreamItem =
  /** `event`: the SSE event name, for protocols that name them. */
  | { kind: "chunk"; data: object; event?: string }
  | { kind: "end"; usage: OpenAiUsage }
  | { kind: "error"; error: ErrorData };

/**
 * The streamed form of an answer, whatever the transport: the chunks OpenAI sends (role first for each
 * choice, one per event, a finish chunk per choice, the usage chunk when asked for), then an end or an error.
 */
export async function* streamItems(events: AsyncIterable<AnswerEvent>, shape: ResponseShape, choices: number, includeUsage: boolean, prompt: PromptCount): AsyncGenerator<StreamItem> {
  if (shape.streamFrames) return yield* shape.streamFrames(events, prompt);
  if (shape.streamStart) for (let index = 0; index < choices; index++) yield { kind: "chunk", data: shape.streamStart(index) };
  for await (const event of events) {
    if (event.type === "choice") yield { kind: "chunk", data: shape.streamDelta(event.index, toDelta(event.event)) };
    else if (event.type === "finish") yield { kind: "chunk", data: shape.streamFinish(event.index, event.finishReason) };
    else if (event.type === "error") return yield { kind: "error", error: event.error };
    else {
      const usage = toOpenAiUsage(event.usage);
      if (includeUsage) yield { kind: "chunk", data: shape.streamUsage(usage) };
      return yield { kind: "end", usage };
    }
  }
}

function toDelta(event: Extract<AnswerEvent, { type: "choice" }>["event"]): ChoiceDelta {
  switch (event.type) {
    case "text":
      return { text: event.text, ...(event.logprobs ? { logprobs: event.logprobs } : {}) };
    case "reasoning":
      return { reasoning: event.text };
    case "tool_call":
      return { toolCall: { index: event.index, id: event.id, name: event.name } };
    case "tool_arguments":
      return { toolCall: { index: event.index, arguments: event.text } };
  }
}

/** Collects a whole answer for a JSON response; an error event becomes the thrown ApiError's data. */
export async function collectAnswer(events: AsyncIterable<AnswerEvent>, choices: number, withLogprobs: boolean, signal: AbortSignal): Promise<{ choices: AnswerChoice[]; usage: Usage } | { error: ErrorData } | undefined> {
  const answers: AnswerChoice[] = Array.from({ length: choices }, () => ({ text: "", reasoning: "", reasoningTokens: 0, toolCalls: [], logprobs: withLogprobs ? [] : null, finishReason: "stop" }));
  for await (const event of events) {
    if (signal.aborted) return undefined;
    if (event.type === "error") return { error: event.error };
    if (event.type === "done") return { choices: answers, usage: event.usage };
    const answer = answers[event.index]!;
    if (event.type === "finish") {
      answer.finishReason = event.finishReason;
      if (event.stopSequence !== undefined) answer.stopSequence = event.stopSequence;
      continue;
    }
    const { event: e } = event;
    if (e.type === "text") {
      answer.text += e.text;
      if (e.logprobs) answer.logprobs?.push(...e.logprobs);
    } else if (e.type === "reasoning") {
      answer.reasoning += e.text;
      answer.reasoningTokens++;
    } else if (e.type === "tool_call") answer.toolCalls[e.index] = { id: e.id, name: e.name, arguments: "" };
    else answer.toolCalls[e.index]!.arguments += e.text;
  }
  return undefined;
}
