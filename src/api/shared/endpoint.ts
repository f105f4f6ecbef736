import type { TSchema } from "typebox";
import type { Identity } from "../../auth/api-keys.js";
import type { Generation, GenerationEvent, GenerationRequest, ModelEngine, PromptInput } from "../../engine/types.js";
import type { Admission } from "../../ratelimit/rate-limiter.js";
import { estimatePromptTokens } from "../../ratelimit/token-estimate.js";
import { ApiError } from "../../errors.js";
import type { GatewayMetrics } from "../../observability/metrics.js";
import type { RequestRecord } from "../../observability/request-record.js";
import { shuttingDown, type Lifecycle } from "../../server/lifecycle.js";
import type { ApiContext } from "../context.js";
import { toGenerationRequest, type SamplingBody } from "./sampling.js";
import type { ResponseShape } from "./response-shape.js";

/** One text-generating endpoint, as both transports (HTTP and WebSocket) serve it. */
export interface GenerationEndpoint<Body extends SamplingBody = SamplingBody> {
  /** The HTTP route, e.g. /v1/chat/completions. */
  path: string;
  /** The WebSocket message type, e.g. chat.completions.create. */
  messageType: string;
  bodySchema: TSchema;
  toPrompt(body: Body): PromptInput;
  shapeFor(model: string): ResponseShape;
}

export interface PreparedGeneration {
  engine: ModelEngine;
  generation: GenerationRequest;
  shape: ResponseShape;
  includeUsage: boolean;
}

/** From a validated body to what the engine and the writers need; throws ApiError (404, 400). */
export function prepareGeneration<Body extends SamplingBody>(endpoint: GenerationEndpoint<Body>, body: Body, { models, limits }: ApiContext): PreparedGeneration {
  const engine = models.resolve(body.model);
  return {
    engine,
    generation: toGenerationRequest(body, endpoint.toPrompt(body), limits, engine.description.sampling),
    shape: endpoint.shapeFor(engine.description.id), // the canonical id, also for an alias (OpenAI answers with the exact model too)
    includeUsage: body.stream_options?.include_usage === true,
  };
}

/** Names the request's caller and model in its record, then charges the caller's rate limits; throws a 429 ApiError (with its headers) when over. */
export async function admitGeneration(prepared: PreparedGeneration, identity: Identity, record: RequestRecord, context: ApiContext): Promise<Admission> {
  const { generation, engine } = prepared;
  record.key = identity.name;
  record.model = engine.description.id;
  if (record.keepContent) record.prompt = generation.prompt;
  return chargeLimits(identity, engine.description.id, estimatePromptTokens(generation.prompt) + generation.maxTokens, context);
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

/**
 * Starts an admitted generation. Its events are observed on the way (time to first token, token gaps
 * and counts into the record and the metrics); when they end, however they end, the admission is
 * settled with the real token count. A drain that cancels the generation ends its events with a
 * `server_shutting_down` error, so streams close with an error event rather than a cut connection.
 */
export async function startGeneration(prepared: PreparedGeneration, admission: Admission, record: RequestRecord, clientSignal: AbortSignal, { lifecycle, metrics }: ApiContext): Promise<Generation> {
  let run: ReturnType<Lifecycle["begin"]> | undefined;
  let started: Generation;
  try {
    run = lifecycle.begin();
    started = await prepared.engine.start(prepared.generation, AbortSignal.any([clientSignal, run.signal]));
  } catch (error) {
    admission.settle(0);
    run?.end();
    throw error;
  }
  const model = prepared.engine.description.id;
  Object.assign(record, { slot: started.slot, queueWaitMs: started.queueWaitMs, promptTokens: started.promptTokens, cachedTokens: started.cachedTokens });
  metrics.promptTokens.inc({ model, source: "cached" }, started.cachedTokens);
  metrics.promptTokens.inc({ model, source: "evaluated" }, started.promptTokens - started.cachedTokens);
  return { ...started, events: observed(started.events, { model, admission, record, metrics, run: run!, promptTokens: started.promptTokens }) };
}

interface Observation {
  model: string;
  admission: Admission;
  record: RequestRecord;
  metrics: GatewayMetrics;
  run: { signal: AbortSignal; end(): void };
  promptTokens: number;
}

async function* observed(events: AsyncIterable<GenerationEvent>, { model, admission, record, metrics, run, promptTokens }: Observation): AsyncGenerator<GenerationEvent> {
  const interTokenLatency = metrics.interTokenLatency.labels(model); // per token: look the series up once
  let generated = 0;
  let last = 0;
  let done = false;
  try {
    for await (const event of events) {
      if (event.type === "text") {
        const now = performance.now();
        if (generated === 0) {
          record.ttftMs = now - record.startedAt;
          metrics.timeToFirstToken.observe({ model }, record.ttftMs / 1000);
        } else interTokenLatency.observe((now - last) / 1000);
        last = now;
        generated++;
        if (record.keepContent) record.completion = (record.completion ?? "") + event.text;
      } else if (event.type === "done") {
        done = true;
        record.finishReason = event.finishReason;
        record.completionTokens = event.usage.completionTokens;
        admission.settle(event.usage.promptTokens + event.usage.completionTokens);
      } else record.errorStatus = event.error.status;
      yield event;
    }
    if (!done && run.signal.aborted) {
      record.errorStatus = 503;
      yield { type: "error", error: shuttingDown().toData() };
    }
  } finally {
    metrics.generatedTokens.inc({ model }, record.completionTokens ?? generated);
    record.completionTokens ??= generated;
    admission.settle(promptTokens + generated); // no-op after "done"
    run.end();
  }
}
