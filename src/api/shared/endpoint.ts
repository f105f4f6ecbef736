import type { TSchema } from "typebox";
import type { Identity } from "../../auth/api-keys.js";
import type { Generation, GenerationEvent, GenerationRequest, ModelEngine, PromptInput } from "../../engine/types.js";
import type { Admission } from "../../ratelimit/rate-limiter.js";
import { estimatePromptTokens } from "../../ratelimit/token-estimate.js";
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
  return {
    engine: models.resolve(body.model),
    generation: toGenerationRequest(body, endpoint.toPrompt(body), limits),
    shape: endpoint.shapeFor(body.model),
    includeUsage: body.stream_options?.include_usage === true,
  };
}

/** Charges the caller's rate limits up front; throws a 429 ApiError (with its headers) when over. */
export function admitGeneration(prepared: PreparedGeneration, identity: Identity, { limiter }: ApiContext): Promise<Admission> {
  const { generation, engine } = prepared;
  return limiter.admit({ identity, model: engine.description.id, estimatedTokens: estimatePromptTokens(generation.prompt) + generation.maxTokens });
}

/**
 * Starts an admitted generation; its admission is settled with the real token count when the events
 * end (completed, failed or abandoned), and refunded when the engine turns the request away.
 */
export async function startAdmitted(prepared: PreparedGeneration, admission: Admission, signal: AbortSignal): Promise<Generation> {
  let started: Generation;
  try {
    started = await prepared.engine.start(prepared.generation, signal);
  } catch (error) {
    admission.settle(0);
    throw error;
  }
  return { ...started, events: settling(started.events, admission, started.promptTokens) };
}

async function* settling(events: AsyncIterable<GenerationEvent>, admission: Admission, promptTokens: number): AsyncGenerator<GenerationEvent> {
  let generated = 0;
  try {
    for await (const event of events) {
      if (event.type === "text") generated++;
      else if (event.type === "done") admission.settle(event.usage.promptTokens + event.usage.completionTokens);
      yield event;
    }
  } finally {
    admission.settle(promptTokens + generated); // no-op after "done"
  }
}
