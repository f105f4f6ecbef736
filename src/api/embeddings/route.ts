import { Type, type Static } from "typebox";
import type { FastifyPluginAsync } from "fastify";
import type { ApiContext } from "../context.js";
import { invalidRequest } from "../../errors.js";
import { estimatePromptTokens } from "../../ratelimit/token-estimate.js";
import { chargeLimits } from "../shared/endpoint.js";
import { clientSignal } from "../shared/client-signal.js";
import { normalizeVector } from "../../engine/embedder.js";

const EmbeddingsBody = Type.Object({
  model: Type.String({ minLength: 1 }),
  input: Type.Union([Type.String(), Type.Array(Type.String(), { minItems: 1 })]), // at most request.maxEmbeddingInputs
  encoding_format: Type.Optional(Type.Union([Type.Literal("float"), Type.Literal("base64")])),
  dimensions: Type.Optional(Type.Integer({ minimum: 1 })),
  user: Type.Optional(Type.String()),
  // Extension (llama-server's): -1 raw vectors, 0 max-absolute (int16 range), 1 taxicab, 2 Euclidean (unit length, the default), p > 2 p-norm.
  embd_normalize: Type.Optional(Type.Integer({ minimum: -1 })),
});

/** OpenAI's base64 form: the float32 vector's little-endian bytes. */
const toBase64 = (vector: number[]) => Buffer.from(new Float32Array(vector).buffer).toString("base64");

/** POST /v1/embeddings: one vector per input, counted against the caller's limits like a completion. */
export const embeddingsRoute: FastifyPluginAsync<ApiContext> = async (app, context) => {
  const { models } = context;
  app.post("/v1/embeddings", { schema: { body: EmbeddingsBody } }, async (request, reply) => {
    const body = request.body as Static<typeof EmbeddingsBody>;
    const engine = models.resolve(body.model);
    if (!engine.embed) throw invalidRequest(`The model '${body.model}' cannot produce embeddings here.`, "model", "unsupported_model");
    const inputs = typeof body.input === "string" ? [body.input] : body.input;
    if (inputs.length > context.limits.maxEmbeddingInputs)
      throw invalidRequest(`'input' has ${inputs.length} items; this server embeds at most ${context.limits.maxEmbeddingInputs} per request (request.maxEmbeddingInputs).`, "input", "too_many_inputs");
    const { record } = request;
    record.model = engine.description.id;
    record.key = request.identity.name;
    record.operation = "embeddings";
    const estimatedTokens = inputs.reduce((sum, text) => sum + estimatePromptTokens({ kind: "text", text }), 0);
    const admission = await chargeLimits(request.identity, record.model, estimatedTokens, context);
    let promptTokens = 0;
    const client = clientSignal(reply);
    try {
      const result = await engine.embed(inputs, client.signal);
      promptTokens = result.promptTokens;
      const size = result.vectors[0]?.length ?? 0;
      if (body.dimensions !== undefined && body.dimensions !== size)
        throw invalidRequest(`'dimensions' is not supported: this model's embeddings have ${size} dimensions and cannot be shortened.`, "dimensions", "unsupported_value");
      record.promptTokens = promptTokens;
      return {
        object: "list",
        model: record.model,
        data: result.vectors.map((raw, index) => {
          const vector = normalizeVector(raw, body.embd_normalize ?? 2);
          return { object: "embedding", index, embedding: body.encoding_format === "base64" ? toBase64(vector) : vector };
        }),
        usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
      };
    } finally {
      client.done();
      admission.settle(promptTokens);
    }
  });
};
