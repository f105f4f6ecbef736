import { randomUUID } from "node:crypto";
import type { TSchema } from "typebox";
import { ANONYMOUS, type Identity } from "../../auth/api-keys.js";
import type { ErrorData, Generation, GenerationRequest, ModelEngine, PromptInput } from "../../engine/types.js";
import type { Admission } from "../../ratelimit/rate-limiter.js";
import { estimatePromptTokens } from "../../ratelimit/token-estimate.js";
import { ApiError, invalidRequest } from "../../errors.js";
import type { GatewayMetrics } from "../../observability/metrics.js";
import type { RequestRecord } from "../../observability/request-record.js";
import { shuttingDown, type Lifecycle } from "./lifecycle.js";
import type { ApiContext } from "../context.js";
import { samplingDefaults, toGenerationRequest, type SamplingBody } from "./sampling.js";
import type { AnswerEvent, ResponseShape } from "./response-shape.js";
import { mergeChoices } from "./choices.js";
import { checkChat } from "./request-limits.js";

const UNKNOWN_CONTEXT_RESERVE = 4_096;

/** What every generation body has: the model, and whether to stream. */
export interface GenerationBody {
  model: string;
  stream?: boolean | null;
}

/**
 * One text-generating endpoint, as both transports (HTTP and WebSocket) serve it. `Request` is what the body
 * becomes after `resolve` (the body itself for endpoints without one).
 */
export interface GenerationEndpoint<Body extends GenerationBody = SamplingBody, Request extends GenerationBody = Body> {
  /** The HTTP route, e.g. /v1/chat/completions. */
  path: string;
  /** The WebSocket message type, e.g. chat.completions.create. */
  messageType: string;
  /** GenAI's operation name for traces: chat or text_completion. */
  operation: "chat" | "text_completion";
  bodySchema: TSchema;
  /**
   * An asynchronous step between validation and preparation, knowing the caller and the model's engine
   * (the Responses API loads the conversation a previous_response_id continues, and fits it to the context).
   */
  resolve?(body: Body, caller: Identity, engine: ModelEngine): Promise<Request>;
  toPrompt(body: Request): PromptInput;
  /** A protocol whose body is not OpenAI's names its sampling fields in OpenAI's terms (chat and completions need not). */
  toSamplingBody?(body: Request): SamplingBody;
  /** The endpoint's own request fields (tools, logprobs); throws a 400 ApiError for a bad combination or one over the limits. */
  toOptions(body: Request, limits: ApiContext["limits"]): Pick<GenerationRequest, "tools" | "logprobs">;
  /** The error object of this endpoint's API inside a WebSocket error message (default: OpenAI's). */
  errorObject?(error: ErrorData): object;
  /** `seed`: the sampler's seed, reported in every response object (choice i samples with seed + i). */
  shapeFor(model: string, seed: number, body: Request, caller: Identity): ResponseShape;
}

export interface PreparedGeneration {
  operation: GenerationEndpoint["operation"];
  engine: ModelEngine;
  generation: GenerationRequest;
  /** n: how many choices to generate for the one prompt. */
  choices: number;
  shape: ResponseShape;
  includeUsage: boolean;
  /** Response headers about how the request was taken (x-max-tokens-clamped). */
  headers: Record<string, string>;
}

/** From a validated body to what the engine and the writers need; throws ApiError (404, 400). */
export async function prepareGeneration<Body extends GenerationBody, Request extends GenerationBody>(
  endpoint: GenerationEndpoint<Body, Request>,
  raw: Body,
  caller: Identity,
  { models, limits }: ApiContext,
  /** The client's session id (x-session-id), else the body's `user`: upstream replicas are chosen by it. */
  session?: string,
): Promise<PreparedGeneration> {
  const engine = models.resolve(raw.model);
  const body = endpoint.resolve ? await endpoint.resolve(raw, caller, engine) : (raw as unknown as Request);
  const sampling = endpoint.toSamplingBody?.(body) ?? (body as unknown as SamplingBody);
  const choices = sampling.n ?? 1;
  if (choices > limits.maxChoices) throw invalidRequest(`'n' is too large: ${choices}. This server allows at most ${limits.maxChoices}.`, "n", "invalid_value");
  const options = endpoint.toOptions(body, limits);
  if (options.logprobs && options.tools?.choice.mode === "auto")
    throw invalidRequest("'logprobs' with tool_choice 'auto' is not supported: the model's own call syntax is parsed apart from its tokens. Use tool_choice 'required' or a named function.", "logprobs");
  const prompt = endpoint.toPrompt(body);
  if (prompt.kind === "chat") checkChat(prompt, limits.maxMessages, prompt.param);
  const generation = { ...toGenerationRequest(sampling, prompt, limits, samplingDefaults(engine.description)), ...options };
  if (options.tools) generation.ignoreEos = false; // a call ends where its JSON ends
  // No answer outgrows its context (the rate limiter reserves max_tokens); the engine stops at the context's end anyway.
  const asked = sampling.max_completion_tokens ?? sampling.max_tokens;
  if (engine.description.ctxSize > 0) generation.maxTokens = Math.min(generation.maxTokens, engine.description.ctxSize);
  const headers: Record<string, string> = asked != null && asked > generation.maxTokens ? { "x-max-tokens-clamped": String(generation.maxTokens) } : {};
  const sessionId = session || sampling.user;
  if (sessionId) generation.session = sessionId;
  return {
    operation: endpoint.operation,
    engine,
    generation,
    choices,
    shape: endpoint.shapeFor(engine.description.id, generation.sampling.seed, body, caller), // the canonical id, also for an alias (OpenAI answers with the exact model too)
    includeUsage: sampling.stream_options?.include_usage === true,
    headers,
  };
}

/** `logprobs: {top}` within request.maxTopLogprobs; `param` names the field that asked for it. */
export function logprobsOption(top: number, param: string, limits: ApiContext["limits"]): Pick<GenerationRequest, "logprobs"> {
  if (top > limits.maxTopLogprobs) throw invalidRequest(`At most ${limits.maxTopLogprobs} top log-probabilities per token are allowed here; asked for ${top}.`, param, "invalid_value");
  return { logprobs: { top } };
}

/** Names the request's caller and model in its record, then charges the caller's rate limits; throws a 429 ApiError (with its headers) when over. */
export async function admitGeneration(prepared: PreparedGeneration, identity: Identity, record: RequestRecord, context: ApiContext): Promise<Admission> {
  const { generation, engine } = prepared;
  record.key = identity.name;
  record.model = engine.description.id;
  record.operation = prepared.operation;
  record.responseId = prepared.shape.id;
  record.request = { maxTokens: generation.maxTokens, temperature: generation.sampling.temperature, topP: generation.sampling.topP, seed: generation.sampling.seed };
  if (record.span) generation.traceHeaders = record.span.propagationHeaders();
  generation.tenant = { name: identity.name, weight: identity.weight }; // whose turn it is when requests wait for a slot
  if (record.keepContent) record.prompt = generation.prompt;
  // An upstream model's context is unknown here: an answer without max_tokens is reserved as 4,096 tokens (settled to the real count).
  const completion = Math.min(generation.maxTokens, engine.description.ctxSize || UNKNOWN_CONTEXT_RESERVE);
  return chargeLimits(identity, engine.description.id, estimatePromptTokens(generation.prompt) + prepared.choices * completion, context);
}

/** Admits a request against the caller's limits (any endpoint that costs tokens); counts a 429 in the metrics. */
export async function chargeLimits(identity: Identity, model: string, estimatedTokens: number, { limiter, metrics }: ApiContext): Promise<Admission> {
  try {
    return await limiter.admit({ identity, model, estimatedTokens });
  } catch (error) {
    if (error instanceof ApiError && error.status === 429) metrics.rateLimitRejections.inc({ limit: error.type });
    throw error;
  }
}

/** A started answer: where its first choice runs, and the events of all its choices. */
export interface Answer extends Omit<Generation, "events"> {
  events: AsyncIterable<AnswerEvent>;
}

/**
 * Starts an admitted answer: one generation per choice, each on a slot of its own (all or none: if one
 * cannot start, the others are cancelled). Its events are observed on the way (time to first token,
 * token gaps and counts into the record and the metrics); when they end, however they end, the
 * admission is settled with the real token count, the prompt counted once. A drain that cancels the
 * generation ends its events with a `server_shutting_down` error, so streams close with an error
 * event rather than a cut connection.
 */
export async function startGeneration(prepared: PreparedGeneration, admission: Admission, record: RequestRecord, clientSignal: AbortSignal, { lifecycle, metrics }: ApiContext): Promise<Answer> {
  let run: ReturnType<Lifecycle["begin"]> | undefined;
  let started: Generation[];
  const abandonStart = new AbortController();
  try {
    run = lifecycle.begin();
    record.admittedAt = performance.now();
    const signal = AbortSignal.any([clientSignal, run.signal, abandonStart.signal]);
    const group = randomUUID();
    const attempts = await Promise.allSettled(Array.from({ length: prepared.choices }, (_, index) => prepared.engine.start(choiceRequest(prepared.generation, index, prepared.choices, group), signal)));
    const failed = attempts.find((a): a is PromiseRejectedResult => a.status === "rejected");
    if (failed) {
      abandonStart.abort(new Error("another choice could not start"));
      throw failed.reason;
    }
    started = attempts.map((a) => (a as PromiseFulfilledResult<Generation>).value);
  } catch (error) {
    admission.settle(0);
    run?.end();
    throw error;
  }
  const model = prepared.engine.description.id;
  const first = started[0]!;
  Object.assign(record, { engineProcess: first.engineProcess, slot: first.slot, queueWaitMs: Math.max(...started.map((g) => g.queueWaitMs)), promptTokens: first.promptTokens, cachedTokens: first.cachedTokens });
  for (const generation of started) {
    metrics.queueWait.observe({ model, key: record.key ?? ANONYMOUS }, generation.queueWaitMs / 1000);
    metrics.promptTokens.inc({ model, source: "cached" }, generation.cachedTokens);
    metrics.promptTokens.inc({ model, source: "evaluated" }, generation.promptTokens - generation.cachedTokens);
  }
  const events = mergeChoices(started.map((g) => g.events));
  return { ...first, events: observed(events, { model, admission, record, metrics, run: run!, promptTokens: first.promptTokens }) };
}

/**
 * Choice i of n: it samples with seed + i (n choices of one request differ from each other, and a request
 * sent again with the reported seed reproduces each), and shares the prompt's evaluation with the other choices.
 */
function choiceRequest(generation: GenerationRequest, index: number, size: number, group: string): GenerationRequest {
  if (size === 1) return generation;
  return { ...generation, share: { group, index, size }, sampling: { ...generation.sampling, seed: (generation.sampling.seed + index) % 2 ** 32 } };
}

interface Observation {
  model: string;
  admission: Admission;
  record: RequestRecord;
  metrics: GatewayMetrics;
  run: { signal: AbortSignal; end(): void };
  promptTokens: number;
}

async function* observed(events: AsyncIterable<AnswerEvent>, { model, admission, record, metrics, run, promptTokens }: Observation): AsyncGenerator<AnswerEvent> {
  const interTokenLatency = metrics.interTokenLatency.labels(model); // per token: look the series up once
  let generated = 0;
  let last = 0;
  let done = false;
  try {
    for await (const event of events) {
      if (event.type === "choice") {
        const now = performance.now();
        if (generated === 0) {
          record.ttftMs = now - record.startedAt;
          metrics.timeToFirstToken.observe({ model }, record.ttftMs / 1000);
        } else interTokenLatency.observe((now - last) / 1000);
        last = now;
        generated += event.event.type === "text" ? (event.event.tokens ?? 1) : 1;
        if (record.keepContent && event.event.type === "text") record.completion = (record.completion ?? "") + event.event.text;
      } else if (event.type === "finish") {
        if (event.index === 0) record.finishReason = event.finishReason;
      } else if (event.type === "done") {
        done = true;
        record.completionTokens = event.usage.completionTokens;
        if (event.usage.drafts) {
          record.drafts = event.usage.drafts;
          metrics.draftTokens.inc({ model, outcome: "accepted" }, event.usage.drafts.accepted);
          metrics.draftTokens.inc({ model, outcome: "rejected" }, event.usage.drafts.rejected);
        }
        admission.settle(event.usage.promptTokens + event.usage.completionTokens);
      } else {
        record.errorStatus = event.error.status;
        record.errorType = event.error.code ?? event.error.type;
      }
      yield event;
    }
    if (!done && run.signal.aborted) {
      record.errorStatus = 503;
      record.errorType = "server_shutting_down";
      yield { type: "error", error: shuttingDown().toData() };
    }
  } finally {
    metrics.generatedTokens.inc({ model }, record.completionTokens ?? generated);
    record.completionTokens ??= generated;
    admission.settle(promptTokens + generated); // no-op after "done"
    run.end();
  }
}
