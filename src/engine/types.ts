import type { ErrorData } from "../errors.js";
// The engine boundary: plain, serialisable data only, so an engine can later live in another
// process without the HTTP layer noticing.

export interface ToolCall {
  id: string;
  name: string;
  /** The arguments as JSON text, as the model wrote them (OpenAI's `function.arguments`). */
  arguments: string;
}

export type ChatMessage =
  | { role: "system" | "user"; content: string }
  | { role: "assistant"; content: string; toolCalls?: ToolCall[] }
  | { role: "tool"; toolCallId: string; content: string };

/** A function the model may call; `parameters` is a JSON schema. */
export interface ToolDefinition {
  name: string;
  description?: string;
  parameters?: Record<string, unknown>;
  /** When the grammar cannot enforce all of `parameters`: the part it can, and what was left out (where: keyword). */
  enforced?: { parameters: Record<string, unknown>; relaxed: string[] };
}

/**
 * `auto`: the model decides, in its own call syntax (node-llama-cpp's function calling).
 * `required` / `function`: the answer is a call, constrained to JSON by a grammar (as vLLM does).
 */
export type ToolChoice = { mode: "auto" } | { mode: "required" } | { mode: "function"; name: string };

export interface ToolUse {
  tools: ToolDefinition[];
  choice: ToolChoice;
  parallel: boolean;
}

/** `templateArgs`: variables for the model's chat template on top of the standard ones (chat_template_kwargs, reasoning_effort). */
export type PromptInput =
  /** `param`: the request field the conversation came from, named in a too-long error (default: messages). */
  | { kind: "chat"; messages: ChatMessage[]; templateArgs?: Record<string, unknown>; param?: string }
  | { kind: "text"; text: string };

export interface SamplingParams {
  temperature: number;
  topP: number;
  /** 0 = off. */
  topK: number;
  /** 0 = off. */
  minP: number;
  /** Always set: a request without a seed gets a random one (the response reports it). */
  seed: number;
  presencePenalty: number;
  frequencyPenalty: number;
  /** llama.cpp's multiplicative repeat penalty; 1 = off. */
  repeatPenalty: number;
}

/** Defaults for omitted sampling fields, named as the request fields are. */
export interface SamplingDefaults {
  temperature?: number;
  top_p?: number;
  top_k?: number;
  min_p?: number;
  repeat_penalty?: number;
}

/** What the output must match: a GBNF grammar, any JSON object, or a JSON schema. */
export type OutputConstraint = { kind: "gbnf"; grammar: string } | { kind: "json" } | { kind: "json_schema"; schema: Record<string, unknown> };

export interface GenerationRequest {
  /** The client's session (x-session-id, or `user`): upstream routing keeps one session on one replica. */
  session?: string;
  /** W3C trace-context headers for a server this request is passed on to (an upstream), so that both are one trace. */
  traceHeaders?: Record<string, string>;
  prompt: PromptInput;
  sampling: SamplingParams;
  /** Upper bound on generated tokens; the context end may stop it sooner (finish_reason "length"). */
  maxTokens: number;
  stop: string[];
  /** Keep generating past end-of-generation tokens (fixed-length output for benchmarks). */
  ignoreEos?: boolean;
  /** OpenAI's logit_bias: token id → a value from -100 to 100 added to its logit. */
  logitBias?: Record<number, number>;
  constraint?: OutputConstraint;
  /** Absent, or with tool_choice "none": plain text. */
  tools?: ToolUse;
  /** Report each token's log-probability and this many alternatives (0 = the token's only). */
  logprobs?: { top: number };
  /** Who waits for a slot, if one must (the API key and its weight), and the request's priority (lower first). */
  tenant?: { name: string; weight: number };
  priority?: number;
  /** One of n choices of the same prompt: the engine may evaluate the prompt once for all of them. */
  share?: { group: string; index: number; size: number };
}

export type FinishReason = "stop" | "length" | "tool_calls";

export interface Usage {
  promptTokens: number;
  /** Prompt tokens whose KV cache was reused from the slot's previous request. */
  cachedTokens: number;
  completionTokens: number;
  /** Speculative decoding: drafted tokens the model accepted, and those it rejected. */
  drafts?: { accepted: number; rejected: number };
}

export type { ErrorData };

/** A generated token's log-probability and the most likely alternatives at its position. */
export interface TokenLogprob {
  token: string;
  logprob: number;
  top: { token: string; logprob: number }[];
}

export type GenerationEvent =
  /** `tokens`: how many generated tokens the text holds, when more than one (engine.streamInterval). */
  | { type: "text"; text: string; logprobs?: TokenLogprob[]; tokens?: number }
  /** Thinking, when the chat template separates it from the answer (OpenAI-compatible servers' reasoning_content). */
  | { type: "reasoning"; text: string }
  /** A tool call begins; its arguments follow as fragments of JSON text. */
  | { type: "tool_call"; index: number; id: string; name: string }
  | { type: "tool_arguments"; index: number; text: string }
  /** `stopSequence`: which of the request's stop strings ended the answer, if one did. */
  | { type: "done"; finishReason: FinishReason; usage: Usage; stopSequence?: string }
  | { type: "error"; error: ErrorData };

/** An admitted generation: it holds a slot until its events end or its signal aborts. */
export interface Generation {
  promptTokens: number;
  cachedTokens: number;
  /** Which slot runs it, and how long it waited in the queue for one. */
  slot: number;
  queueWaitMs: number;
  /** The id of the process that runs it, when that is an engine process of its own. */
  engineProcess?: number;
  events: AsyncIterable<GenerationEvent>;
}

export interface EngineStats {
  slotsTotal: number;
  slotsBusy: number;
  queuedRequests: number;
  queuedTokens: number;
  /** Requests waiting for a slot, by API key name. */
  queuedByKey?: Record<string, number>;
  generatedTokens: number;
  /** Models served by upstreams. */
  upstream?: {
    /** Requests sent again after a pooled connection closed under them. */
    retries: number;
    /** Prompt tokens the replicas reported, and how many of them they served from cache. */
    promptTokens: number;
    cachedTokens: number;
    replicas: { url: string; outstanding: number; healthy: boolean }[];
  };
}

export interface ModelDescription {
  id: string;
  path: string;
  slots: number;
  ctxSize: number;
  layout: "batched" | "per-slot";
  gpu: string | false;
  /** GPU device names and their memory in bytes (absent on CPU). */
  gpuDevices?: string[];
  vram?: { total: number; used: number };
  gpuLayers: number;
  threads: number;
  /** Threads a prompt batch may use when no other slot is busy (per-slot layout on CPU; else = threads). */
  promptThreads?: number;
  /** libuv pool threads of the process the engine runs in: per-slot decodes running at once (engine.workerThreads). */
  workerThreads?: number;
  chatTemplate: string;
  created: number;
  /** Sampling defaults for requests that do not set them, from the model's config entry. */
  sampling?: SamplingDefaults;
  /** The publisher's recommended sampling, from the GGUF's general.sampling.* keys. */
  modelSampling?: SamplingDefaults;
  /** How embeddings are pooled, and whether the GGUF, the config or the fallback (last token) chose it. Local models only. */
  pooling?: { pooling: "mean" | "cls" | "last" | "rank"; source: "gguf" | "config" | "fallback" };
  /** Speculative decoding, when on. */
  speculative?: "lookup" | "draft";
}

export interface ModelEngine {
  readonly description: ModelDescription;
  /**
   * Validates and tokenizes the prompt, waits for a slot, then resolves with the running generation.
   * Rejects with an ApiError (400 too long, 503 queue full or timed out) before any output exists.
   */
  start(request: GenerationRequest, signal: AbortSignal): Promise<Generation>;
  /** The model's tokens for a text (`special`: parse special-token text and add BOS as the model wants). Absent for engines without a local vocabulary. */
  tokenize?(text: string, special: boolean): Promise<number[]>;
  /** `preceding`: the tokens before these, so a piece keeps the space it has inside a text. */
  detokenize?(tokens: number[], preceding?: number[]): Promise<string>;
  /** Each token's text as it reads inside this token list (up to 4 tokens before it as context), in one call. */
  pieces?(tokens: number[]): Promise<string[]>;
  /** A conversation as the engine renders it: the prompt text (BOS included as text) and its tokens. Absent without a local vocabulary. */
  renderChat?(input: ChatRenderInput, signal?: AbortSignal): Promise<RenderedChat>;
  /** One vector per input, and the tokens they took; stops between inputs once `signal` aborts. Absent for engines that cannot embed. */
  embed?(inputs: string[], signal?: AbortSignal): Promise<Embeddings>;
  stats(): EngineStats;
  /** The gateway is shutting down: an engine process that stops from now on is not started again. */
  stopRestarts?(): void;
  close(): Promise<void>;
}

export interface ChatRenderInput {
  messages: ChatMessage[];
  tools?: ToolDefinition[];
  templateArgs?: Record<string, unknown>;
}

export interface RenderedChat {
  prompt: string;
  tokens: number[];
}

export interface Embeddings {
  vectors: number[][];
  promptTokens: number;
}
