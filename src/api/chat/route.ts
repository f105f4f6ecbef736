import { generationRoute } from "../shared/generation-route.js";
import type { GenerationEndpoint } from "../shared/endpoint.js";
import { ChatCompletionBody, chatResponseShape, toChatMessages } from "./protocol.js";

export const chatCompletionsEndpoint: GenerationEndpoint<ChatCompletionBody> = {
  path: "/v1/chat/completions",
  messageType: "chat.completions.create",
  bodySchema: ChatCompletionBody,
  toPrompt: (body) => ({ kind: "chat", messages: toChatMessages(body.messages) }),
  shapeFor: chatResponseShape,
};

export const chatCompletionsRoute = generationRoute(chatCompletionsEndpoint);
