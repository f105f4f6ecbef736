import type { FastifyPluginAsync } from "fastify";
import type { TSchema } from "typebox";
import type { PromptInput } from "../../engine/types.js";
import type { ApiContext } from "../context.js";
import { toGenerationRequest, type SamplingBody } from "./sampling.js";
import { serveGeneration, type ResponseShape } from "./serve-generation.js";

/** A POST endpoint that generates text: chat and legacy completions differ only in prompt and shape. */
export function generationRoute<Body extends SamplingBody>(
  path: string,
  bodySchema: TSchema,
  toPrompt: (body: Body) => PromptInput,
  shapeFor: (model: string) => ResponseShape,
): FastifyPluginAsync<ApiContext> {
  return async (app, { models, limits }) => {
    app.post(path, { schema: { body: bodySchema } }, async (request, reply) => {
      const body = request.body as Body;
      const engine = models.resolve(body.model);
      await serveGeneration(request, reply, {
        engine,
        generation: toGenerationRequest(body, toPrompt(body), limits),
        shape: shapeFor(body.model),
        stream: body.stream === true,
        includeUsage: body.stream_options?.include_usage === true,
        sseKeepAliveMs: limits.sseKeepAliveMs,
      });
    });
  };
}
