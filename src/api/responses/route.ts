import type { FastifyPluginAsync } from "fastify";
import { Type, type Static } from "typebox";
import { invalidRequest } from "../../errors.js";
import type { ApiContext } from "../context.js";
import { logprobsOption, type GenerationEndpoint } from "../shared/endpoint.js";
import { generationRoute } from "../shared/generation-route.js";
import { ownedResponse, resolveConversation, type ResponsesRequest } from "./conversation.js";
import { itemId } from "./items.js";
import { InputTokensBody, LOGPROBS_INCLUDE, ResponsesBody, templateArgs, toSamplingBody, toToolUse } from "./protocol.js";
import { responseShape } from "./response.js";
import type { ResponseStore } from "./store.js";

/** POST /v1/responses: OpenAI's Responses API, one more endpoint spec on the shared generation core; `store` keeps what store: true asks to keep. */
/** `maxMessages`: request.maxMessages, checked on the whole conversation before it is fitted to the context. */
export function responsesEndpoint(store: ResponseStore, maxMessages: number): GenerationEndpoint<ResponsesBody, ResponsesRequest> {
  return {
    path: "/v1/responses",
    messageType: "responses.create",
    operation: "chat",
    bodySchema: ResponsesBody,
    resolve: (body, caller, engine) => resolveConversation(body, caller, engine, store, maxMessages),
    toPrompt: (request) => {
      const args = templateArgs(request);
      return { kind: "chat", messages: request.resolved.messages, param: "input", ...(args ? { templateArgs: args } : {}) };
    },
    toSamplingBody,
    toOptions: (request, limits) => {
      const tools = toToolUse(request);
      const logprobs = request.top_logprobs != null || request.include?.includes(LOGPROBS_INCLUDE);
      return { ...(tools ? { tools } : {}), ...(logprobs ? logprobsOption(request.top_logprobs ?? 0, "top_logprobs", limits) : {}) };
    },
    shapeFor: (model, seed, request) => responseShape({ id: itemId("resp"), model, seed, request, store: request.store === false ? undefined : store }),
  };
}

const IdParams = Type.Object({ id: Type.String({ minLength: 1 }) });
const ListQuery = Type.Object({
  limit: Type.Optional(Type.String({ pattern: "^(100|[1-9][0-9]?)$", description: "1 to 100" })), // query strings are not coerced
  order: Type.Optional(Type.Union([Type.Literal("asc"), Type.Literal("desc")])),
  after: Type.Optional(Type.String()),
  before: Type.Optional(Type.String()),
  include: Type.Optional(Type.Unknown()),
});

/** The Responses API's routes: create (HTTP; the WebSocket route takes the same endpoint), retrieve, delete, input items, input token count. */
export const responsesRoute: FastifyPluginAsync<ApiContext & { endpoint: GenerationEndpoint<ResponsesBody, ResponsesRequest>; store: ResponseStore }> = async (app, { endpoint, store, ...context }) => {
  await app.register(generationRoute(endpoint), context);

  app.get("/v1/responses/:id", { schema: { params: IdParams } }, async (request) => {
    const { id } = request.params as Static<typeof IdParams>;
    return (await ownedResponse(store, id, request.identity)).response;
  });

  app.delete("/v1/responses/:id", { schema: { params: IdParams } }, async (request) => {
    const { id } = request.params as Static<typeof IdParams>;
    await ownedResponse(store, id, request.identity);
    await store.delete(id);
    return { id, object: "response", deleted: true };
  });

  app.get("/v1/responses/:id/input_items", { schema: { params: IdParams, querystring: ListQuery } }, async (request) => {
    const { id } = request.params as Static<typeof IdParams>;
    const query = request.query as Static<typeof ListQuery>;
    const items = [...(await ownedResponse(store, id, request.identity)).input];
    if (query.order !== "asc") items.reverse();
    let start = 0;
    let end = items.length;
    if (query.after !== undefined) start = items.findIndex((item) => item.id === query.after) + 1 || items.length;
    const before = query.before === undefined ? -1 : items.findIndex((item) => item.id === query.before);
    if (before >= 0) end = Math.max(start, before);
    const page = items.slice(start, end).slice(0, Number(query.limit ?? 20));
    return { object: "list", data: page, first_id: page[0]?.id ?? null, last_id: page.at(-1)?.id ?? null, has_more: start + page.length < end };
  });

  app.post("/v1/responses/input_tokens", { schema: { body: InputTokensBody } }, async (request) => {
    const body = request.body as Static<typeof InputTokensBody>;
    const engine = context.models.resolve(body.model);
    if (!engine.renderChat) throw invalidRequest(`The model '${body.model}' cannot count tokens here (it is served by an upstream).`, "model", "unsupported_model");
    const resolved = await resolveConversation(body, request.identity, engine, store, context.limits.maxMessages);
    const tools = toToolUse({ tools: body.tools ?? null, tool_choice: "auto" });
    const args = templateArgs(body);
    const { tokens } = await engine.renderChat({ messages: resolved.resolved.messages, ...(tools ? { tools: tools.tools } : {}), ...(args ? { templateArgs: args } : {}) });
    return { object: "response.input_tokens", input_tokens: tokens.length };
  });
};
