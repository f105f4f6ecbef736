import { generationRoute } from "../shared/generation-route.js";
import { ChatCompletionBody, chatResponseShape, toChatMessages } from "./protocol.js";

export const chatCompletionsRoute = generationRoute<ChatCompletionBody>(
  "/v1/chat/completions",
  ChatCompletionBody,
  (body) => ({ kind: "chat", messages: toChatMessages(body.messages) }),
  chatResponseShape,
);
