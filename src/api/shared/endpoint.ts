import type { TSchema } from "typebox";
import type { GenerationRequest, ModelEngine, PromptInput } from "../../engine/types.js";
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
