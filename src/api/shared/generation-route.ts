import type { FastifyPluginAsync } from "fastify";
import type { ApiContext } from "../context.js";
import type { GenerationBody, GenerationEndpoint } from "./endpoint.js";
import { admitGeneration, prepareGeneration } from "./endpoint.js";
import { serveGeneration } from "./serve-generation.js";

/** The HTTP POST route of a generation endpoint: JSON, or SSE when `stream` is true. */
export function generationRoute<Body extends GenerationBody, Request extends GenerationBody>(endpoint: GenerationEndpoint<Body, Request>): FastifyPluginAsync<ApiContext> {
  return async (app, context) => {
    app.post(endpoint.path, { schema: { body: endpoint.bodySchema } }, async (request, reply) => {
      const body = request.body as Body;
      const session = request.headers["x-session-id"];
      const prepared = await prepareGeneration(endpoint, body, request.identity, context, typeof session === "string" ? session : undefined);
      const admission = await admitGeneration(prepared, request.identity, request.record, context);
      await serveGeneration(reply, { ...prepared, admission, record: request.record, stream: body.stream === true, context });
    });
  };
}
