import { generationRoute } from "../shared/generation-route.js";
import { logprobsOption, type GenerationEndpoint } from "../shared/endpoint.js";
import { invalidRequest } from "../../errors.js";
import { ChatCompletionBody, chatResponseShape, templateArgs, toChatMessages, toToolUse } from "./protocol.js";

export const chatCompletionsEndpoint: GenerationEndpoint<ChatCompletionBody> = {
  path: "/v1/chat/completions",
  messageType: "chat.completions.create",
  operation: "chat",
  bodySchema: ChatCompletionBody,
  toPrompt: (body) => {
    const args = templateArgs(body);
    return { kind: "chat", messages: toChatMessages(body.messages), ...(args ? { templateArgs: args } : {}) };
  },
  toOptions: (body, limits) => {
    if (body.top_logprobs != null && body.logprobs !== true) throw invalidRequest("'top_logprobs' needs 'logprobs': true.", "top_logprobs");
    const tools = toToolUse(body);
    return { ...(tools ? { tools } : {}), ...(body.logprobs ? logprobsOption(body.top_logprobs ?? 0, "top_logprobs", limits) : {}) };
  },
  shapeFor: chatResponseShape,
};

export const chatCompletionsRoute = generationRoute(chatCompletionsEndpoint);
