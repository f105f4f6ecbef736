import { Type, type Static } from "typebox";
import type { FastifyPluginAsync } from "fastify";
import type { ApiContext } from "../context.js";
import { invalidRequest } from "../../errors.js";

// Extensions, not OpenAI API: llama-server's /tokenize and /detokenize, with a `model` since several are served.

const TokenizeBody = Type.Object({
  model: Type.String({ minLength: 1 }),
  content: Type.String(),
  add_special: Type.Optional(Type.Boolean({ description: "add BOS and parse special-token text, as for a prompt" })),
  with_pieces: Type.Optional(Type.Boolean({ description: "return {id, piece} per token" })),
});

const DetokenizeBody = Type.Object({
  model: Type.String({ minLength: 1 }),
  tokens: Type.Array(Type.Integer({ minimum: 0 }), { maxItems: 1_000_000 }),
});

export const tokenizeRoute: FastifyPluginAsync<ApiContext> = async (app, { models }) => {
  const vocabulary = (model: string) => {
    const engine = models.resolve(model);
    if (!engine.tokenize || !engine.detokenize) throw invalidRequest(`The model '${model}' has no local vocabulary.`, "model", "unsupported_model");
    return engine as Required<Pick<typeof engine, "tokenize" | "detokenize">>;
  };

  app.post("/tokenize", { schema: { body: TokenizeBody } }, async (request) => {
    const body = request.body as Static<typeof TokenizeBody>;
    const engine = vocabulary(body.model);
    const tokens = await engine.tokenize(body.content, body.add_special === true);
    if (!body.with_pieces) return { tokens };
    return { tokens: await Promise.all(tokens.map(async (id, i) => ({ id, piece: await engine.detokenize([id], tokens.slice(Math.max(0, i - 4), i)) }))) };
  });

  app.post("/detokenize", { schema: { body: DetokenizeBody } }, async (request) => {
    const body = request.body as Static<typeof DetokenizeBody>;
    return { content: await vocabulary(body.model).detokenize(body.tokens) };
  });
};
