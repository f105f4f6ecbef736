import { Type, type Static } from "typebox";
import type { FastifyPluginAsync } from "fastify";
import type { ApiContext } from "../context.js";
import { invalidRequest } from "../../errors.js";
import { ChatRenderFields, toChatRenderInput } from "../chat/protocol.js";

// Extensions, not OpenAI API: llama-server's /tokenize, /detokenize and /apply-template, with a `model` since
// several are served. Given `messages`, /tokenize returns the exact tokens the engine evaluates for that chat.

const TokenizeBody = Type.Object({
  model: Type.String({ minLength: 1 }),
  content: Type.Optional(Type.String()),
  add_special: Type.Optional(Type.Boolean({ description: "add BOS and parse special-token text, as for a prompt" })),
  with_pieces: Type.Optional(Type.Boolean({ description: "return {id, piece} per token" })),
  ...ChatRenderFields,
  messages: Type.Optional(ChatRenderFields.messages),
});

const ApplyTemplateBody = Type.Object({ model: Type.String({ minLength: 1 }), ...ChatRenderFields });

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

  const renderer = (model: string) => {
    const engine = models.resolve(model);
    if (!engine.renderChat) throw invalidRequest(`The model '${model}' has no local chat template.`, "model", "unsupported_model");
    return engine as Required<Pick<typeof engine, "renderChat">>;
  };

  app.post("/apply-template", { schema: { body: ApplyTemplateBody } }, async (request) => {
    const body = request.body as Static<typeof ApplyTemplateBody>;
    return { prompt: (await renderer(body.model).renderChat(toChatRenderInput(body))).prompt };
  });

  app.post("/tokenize", { schema: { body: TokenizeBody } }, async (request) => {
    const body = request.body as Static<typeof TokenizeBody>;
    const engine = vocabulary(body.model);
    if ((body.content === undefined) === (body.messages === undefined)) throw invalidRequest("Give either 'content' (a text) or 'messages' (a chat, rendered as the engine renders it).", "content");
    const tokens = body.messages
      ? (await renderer(body.model).renderChat(toChatRenderInput({ ...body, messages: body.messages }))).tokens
      : await engine.tokenize(body.content!, body.add_special === true);
    if (!body.with_pieces) return { tokens };
    return { tokens: await Promise.all(tokens.map(async (id, i) => ({ id, piece: await engine.detokenize([id], tokens.slice(Math.max(0, i - 4), i)) }))) };
  });

  app.post("/detokenize", { schema: { body: DetokenizeBody } }, async (request) => {
    const body = request.body as Static<typeof DetokenizeBody>;
    return { content: await vocabulary(body.model).detokenize(body.tokens) };
  });
};
