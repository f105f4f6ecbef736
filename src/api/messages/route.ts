import { checkChat } from "../shared/request-limits.js";
import type { FastifyPluginAsync } from "fastify";
import type { Static } from "typebox";
import type { GatewayConfig } from "../../config/schema.js";
import { invalidRequest } from "../../errors.js";
import { anthropicErrorBody, handleErrors } from "../shared/error-handling.js";
import type { ApiContext } from "../context.js";
import { type GenerationEndpoint } from "../shared/endpoint.js";
import { generationRoute } from "../shared/generation-route.js";
import { CountTokensBody, MessagesBody, templateArgs, toChatMessages, toSamplingBody, toToolUse } from "./protocol.js";
import { messageResponseShape } from "./response.js";

/** POST /v1/messages: Anthropic's Messages API, one more endpoint spec on the shared generation core. */
export const messagesEndpoint: GenerationEndpoint<MessagesBody> = {
  path: "/v1/messages",
  messageType: "messages.create",
  operation: "chat",
  bodySchema: MessagesBody,
  toPrompt: (body) => {
    const args = templateArgs(body);
    return { kind: "chat", messages: toChatMessages(body), ...(args ? { templateArgs: args } : {}) };
  },
  toSamplingBody,
  toOptions: (body) => {
    const tools = toToolUse(body);
    return tools ? { tools } : {};
  },
  shapeFor: (model) => messageResponseShape(model),
  errorObject: (error) => anthropicErrorBody(error).error,
};

/** The Messages API's routes, whose errors (authentication and rate limits included) take Anthropic's shape. */
export const messagesRoute: FastifyPluginAsync<ApiContext & { http: GatewayConfig["http"] }> = async (app, { http, ...context }) => {
  handleErrors(app, http, anthropicErrorBody);
  await app.register(generationRoute(messagesEndpoint), context);
  app.post("/v1/messages/count_tokens", { schema: { body: CountTokensBody } }, async (request) => {
    const body = request.body as Static<typeof CountTokensBody>;
    const engine = context.models.resolve(body.model);
    if (!engine.renderChat) throw invalidRequest(`The model '${body.model}' cannot count tokens here (it is served by an upstream).`, "model", "unsupported_model");
    const tools = toToolUse(body);
    const input = { messages: toChatMessages(body), ...(tools ? { tools: tools.tools } : {}) };
    checkChat(input, context.limits.maxMessages);
    const { tokens } = await engine.renderChat(input);
    return { input_tokens: tokens.length };
  });
};
