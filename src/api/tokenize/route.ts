import { Type, type Static } from "typebox";
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import type { ApiContext } from "../context.js";
import { ApiError, invalidRequest } from "../../errors.js";
import { ChatRenderFields, toChatRenderInput } from "../chat/protocol.js";
import { chargeLimits } from "../shared/endpoint.js";
import { clientSignal } from "../shared/client-signal.js";
import { checkChat } from "../shared/request-limits.js";
import type { ChatRenderInput, ModelEngine } from "../../engine/types.js";

// Extensions, not OpenAI API: llama-server's /tokenize, /detokenize and /apply-template, with a `model` since
// several are served. Given `messages`, /tokenize returns the exact tokens the engine evaluates for that chat.
// Each counts as a request against the caller's rate limit (no tokens are generated).

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

type Vocabulary = Required<Pick<ModelEngine, "tokenize" | "detokenize" | "pieces" | "renderChat">>;

export const tokenizeRoute: FastifyPluginAsync<ApiContext> = async (app, context) => {
  const { models, limits } = context;
  const vocabulary = async (request: FastifyRequest, model: string, operation: string): Promise<Vocabulary> => {
    const engine = models.resolve(model);
    if (!engine.tokenize || !engine.detokenize || !engine.pieces || !engine.renderChat) throw invalidRequest(`The model '${model}' has no local vocabulary.`, "model", "unsupported_model");
    const { record } = request;
    record.model = engine.description.id;
    record.key = request.identity.name;
    record.operation = operation;
    (await chargeLimits(request.identity, record.model, 0, context)).settle(0);
    return engine as Vocabulary;
  };
  const render = async (engine: Vocabulary, input: ChatRenderInput, reply: FastifyReply) => {
    checkChat(input, limits.maxMessages);
    const client = clientSignal(reply);
    try {
      return await engine.renderChat(input, client.signal);
    } finally {
      client.done();
    }
  };

  app.post("/apply-template", { schema: { body: ApplyTemplateBody } }, async (request, reply) => {
    const body = request.body as Static<typeof ApplyTemplateBody>;
    const engine = await vocabulary(request, body.model, "apply_template");
    return { prompt: (await render(engine, toChatRenderInput(body), reply)).prompt };
  });

  app.post("/tokenize", { schema: { body: TokenizeBody } }, async (request, reply) => {
    const body = request.body as Static<typeof TokenizeBody>;
    if ((body.content === undefined) === (body.messages === undefined)) throw invalidRequest("Give either 'content' (a text) or 'messages' (a chat, rendered as the engine renders it).", "content");
    if (body.content !== undefined && body.content.length > limits.maxTokenizeChars)
      throw new ApiError(413, `'content' has ${body.content.length} characters; /tokenize takes at most ${limits.maxTokenizeChars} (request.maxTokenizeChars).`, "invalid_request_error", "request_too_large", "content");
    const engine = await vocabulary(request, body.model, "tokenize");
    const tokens = body.messages
      ? (await render(engine, toChatRenderInput({ ...body, messages: body.messages }), reply)).tokens
      : await engine.tokenize(body.content!, body.add_special === true);
    if (!body.with_pieces) return { tokens };
    const pieces = await engine.pieces(tokens); // one engine call for every token
    return { tokens: tokens.map((id, i) => ({ id, piece: pieces[i]! })) };
  });

  app.post("/detokenize", { schema: { body: DetokenizeBody } }, async (request) => {
    const body = request.body as Static<typeof DetokenizeBody>;
    return { content: await (await vocabulary(request, body.model, "detokenize")).detokenize(body.tokens) };
  });
};
