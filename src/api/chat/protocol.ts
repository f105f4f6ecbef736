import { randomUUID } from "node:crypto";
import { Type, type Static } from "typebox";
import type { ChatMessage, FinishReason } from "../../engine/types.js";
import { SamplingFields } from "../shared/sampling.js";
import type { OpenAiUsage, ResponseShape } from "../shared/response-shape.js";

const TextPart = Type.Object({ type: Type.Literal("text"), text: Type.String() });

const Message = Type.Object({
  // "developer" is OpenAI's newer name for a system message.
  role: Type.Union([Type.Literal("system"), Type.Literal("developer"), Type.Literal("user"), Type.Literal("assistant")]),
  content: Type.Union([Type.String(), Type.Array(TextPart), Type.Null()]),
  name: Type.Optional(Type.String()),
});

export const ChatCompletionBody = Type.Object({
  ...SamplingFields,
  messages: Type.Array(Message, { minItems: 1 }),
  max_completion_tokens: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.Null()])),
});

export type ChatCompletionBody = Static<typeof ChatCompletionBody>;

export function toChatMessages(messages: ChatCompletionBody["messages"]): ChatMessage[] {
  return messages.map((message) => ({
    role: message.role === "developer" ? "system" : message.role,
    content: typeof message.content === "string" ? message.content : (message.content ?? []).map((part) => part.text).join(""),
  }));
}

/** chat.completion and chat.completion.chunk objects, as OpenAI sends them. */
export function chatResponseShape(model: string): ResponseShape {
  const id = `chatcmpl-${randomUUID().replaceAll("-", "")}`;
  const created = Math.floor(Date.now() / 1000);
  const chunk = (choices: object[], usage: OpenAiUsage | null = null) => ({
    id,
    object: "chat.completion.chunk",
    created,
    model,
    system_fingerprint: null,
    choices,
    usage,
  });
  const choice = (delta: object, finish_reason: FinishReason | null) => ({ index: 0, delta, logprobs: null, finish_reason });
  return {
    streamStart: () => chunk([choice({ role: "assistant", content: "" }, null)]),
    streamDelta: (text) => chunk([choice({ content: text }, null)]),
    streamFinish: (reason) => chunk([choice({}, reason)]),
    streamUsage: (usage) => chunk([], usage),
    complete: (text, reason, usage) => ({
      id,
      object: "chat.completion",
      created,
      model,
      system_fingerprint: null,
      choices: [{ index: 0, message: { role: "assistant", content: text, refusal: null }, logprobs: null, finish_reason: reason }],
      usage,
    }),
  };
}
