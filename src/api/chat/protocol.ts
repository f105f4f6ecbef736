import { randomUUID } from "node:crypto";
import { Type, type Static } from "typebox";
import { invalidRequest } from "../../errors.js";
import type { ChatMessage, ChatRenderInput, ToolDefinition, ToolUse } from "../../engine/types.js";
import { checkedToolUse } from "../shared/tool-use.js";
import { Nullable, SamplingFields } from "../shared/sampling.js";
import { toOpenAiLogprob, type AnswerChoice, type ChoiceDelta, type OpenAiUsage, type ResponseShape } from "../shared/response-shape.js";
import { argsOrUndefined, effortArgs } from "../shared/reasoning-args.js";

const TextPart = Type.Object({ type: Type.Literal("text"), text: Type.String() });
const Content = Type.Union([Type.String(), Type.Array(TextPart), Type.Null()]);

const ToolCall = Type.Object({
  id: Type.String({ minLength: 1 }),
  type: Type.Optional(Type.Literal("function")),
  function: Type.Object({ name: Type.String({ minLength: 1 }), arguments: Type.String() }),
});

const Message = Type.Union([
  Type.Object({
    // "developer" is OpenAI's newer name for a system message.
    role: Type.Union([Type.Literal("system"), Type.Literal("developer"), Type.Literal("user")]),
    content: Content,
    name: Type.Optional(Type.String()),
  }),
  Type.Object({
    role: Type.Literal("assistant"),
    content: Type.Optional(Content),
    name: Type.Optional(Type.String()),
    tool_calls: Nullable(Type.Array(ToolCall)),
    reasoning_content: Nullable(Type.String()),
  }),
  Type.Object({ role: Type.Literal("tool"), content: Content, tool_call_id: Type.String({ minLength: 1 }) }),
]);

const FunctionTool = Type.Object({
  type: Type.Literal("function"),
  function: Type.Object({
    name: Type.String({ pattern: "^[a-zA-Z0-9_-]{1,64}$" }),
    description: Type.Optional(Type.String()),
    parameters: Type.Optional(Type.Object({})),
    strict: Nullable(Type.Boolean()),
  }),
});

const ToolChoice = Type.Union([
  Type.Literal("none"),
  Type.Literal("auto"),
  Type.Literal("required"),
  Type.Object({ type: Type.Literal("function"), function: Type.Object({ name: Type.String({ minLength: 1 }) }) }),
]);

/** What a chat prompt is rendered from (llama-server's /apply-template and /tokenize with messages take the same). */
export const ChatRenderFields = {
  messages: Type.Array(Message, { minItems: 1 }),
  tools: Nullable(Type.Array(FunctionTool, { maxItems: 128 })),
  // Variables for the model's chat template (vLLM's and llama-server's extension), e.g. {"enable_thinking": false};
  // reasoning_effort reaches templates that read it (gpt-oss).
  chat_template_kwargs: Nullable(Type.Object({}, { additionalProperties: true })),
  reasoning_effort: Nullable(Type.String({ minLength: 1, maxLength: 32 })),
};
export const ChatRenderObject = Type.Object(ChatRenderFields);

export const ChatCompletionBody = Type.Object({
  ...SamplingFields,
  ...ChatRenderFields,
  max_completion_tokens: Nullable(Type.Integer({ minimum: 1 })),
  tool_choice: Nullable(ToolChoice),
  parallel_tool_calls: Nullable(Type.Boolean()),
  logprobs: Nullable(Type.Boolean()),
  top_logprobs: Nullable(Type.Integer({ minimum: 0, maximum: 20 })),
});

export type ChatCompletionBody = Static<typeof ChatCompletionBody>;

const textOf = (content: Static<typeof Content> | undefined) => (typeof content === "string" ? content : (content ?? []).map((part) => part.text).join(""));

export function toChatMessages(messages: ChatCompletionBody["messages"]): ChatMessage[] {
  return messages.map((message): ChatMessage => {
    switch (message.role) {
      case "tool":
        return { role: "tool", toolCallId: message.tool_call_id, content: textOf(message.content) };
      case "assistant":
        return {
          role: "assistant",
          content: textOf(message.content),
          ...(message.tool_calls?.length ? { toolCalls: message.tool_calls.map((c) => ({ id: c.id, name: c.function.name, arguments: c.function.arguments })) } : {}),
        };
      default:
        return { role: message.role === "developer" ? "system" : message.role, content: textOf(message.content) };
    }
  });
}

/** The request's function tools as the engine takes them. */
export function toToolDefinitions(tools: readonly Static<typeof FunctionTool>[]): ToolDefinition[] {
  return tools.map(({ function: f }) => ({ name: f.name, ...(f.description ? { description: f.description } : {}), ...(f.parameters ? { parameters: f.parameters as Record<string, unknown> } : {}) }));
}


/** The engine's input for rendering a conversation. */
export function toChatRenderInput(body: Static<typeof ChatRenderObject>): ChatRenderInput {
  const args = templateArgs(body);
  return { messages: toChatMessages(body.messages), ...(body.tools?.length ? { tools: toToolDefinitions(body.tools) } : {}), ...(args ? { templateArgs: args } : {}) };
}

/** chat_template_kwargs and reasoning_effort as the template's variables ("none": thinking off); undefined when there are none. */
export function templateArgs(body: Pick<ChatCompletionBody, "chat_template_kwargs" | "reasoning_effort">): Record<string, unknown> | undefined {
  return argsOrUndefined({ ...(body.chat_template_kwargs ?? {}), ...effortArgs(body.reasoning_effort) });
}

/** tools + tool_choice + parallel_tool_calls as the engine takes them; undefined when no tool may be called. */
export function toToolUse(body: ChatCompletionBody): ToolUse | undefined {
  const tools = body.tools ?? [];
  const choice = body.tool_choice ?? (tools.length > 0 ? "auto" : "none");
  if (choice !== "none" && tools.length === 0) throw invalidRequest("'tool_choice' is set but no 'tools' are given.", "tool_choice");
  if (choice === "none") return undefined;
  if (body.grammar || (body.response_format && body.response_format.type !== "text"))
    throw invalidRequest("'tools' cannot be combined with 'grammar' or 'response_format' here: tool calls already constrain the answer.", "tools");
  return checkedToolUse(
    toToolDefinitions(tools),
    typeof choice === "object" ? { mode: "function", name: choice.function.name } : { mode: choice },
    body.parallel_tool_calls ?? true,
    { choiceName: "tool_choice.function.name" },
  );
}

/** chat.completion and chat.completion.chunk objects, as OpenAI sends them. */
export function chatResponseShape(model: string, seed: number): ResponseShape {
  const id = `chatcmpl-${randomUUID().replaceAll("-", "")}`;
  const created = Math.floor(Date.now() / 1000);
  const chunk = (choices: object[], usage: OpenAiUsage | null = null) => ({ id, object: "chat.completion.chunk", created, model, system_fingerprint: null, seed, choices, usage });
  const choice = (index: number, delta: object, finish_reason: string | null, logprobs: object | null = null) => ({ index, delta, logprobs, finish_reason });
  return {
    id,
    streamStart: (index) => chunk([choice(index, { role: "assistant", content: "" }, null)]),
    streamDelta: (index, delta) => chunk([choice(index, chatDelta(delta), null, delta.logprobs ? { content: delta.logprobs.map(toOpenAiLogprob) } : null)]),
    streamFinish: (index, reason) => chunk([choice(index, {}, reason)]),
    streamUsage: (usage) => chunk([], usage),
    complete: (choices, usage) => ({
      id,
      object: "chat.completion",
      created,
      model,
      system_fingerprint: null,
      seed,
      choices: choices.map(chatChoice),
      usage,
    }),
  };
}

function chatDelta(delta: ChoiceDelta): object {
  if (delta.reasoning !== undefined) return { reasoning_content: delta.reasoning };
  if (delta.toolCall) {
    const { index, id, name, arguments: args } = delta.toolCall;
    return { tool_calls: [id ? { index, id, type: "function", function: { name, arguments: "" } } : { index, function: { arguments: args } }] };
  }
  return { content: delta.text ?? "" };
}

function chatChoice(answer: AnswerChoice, index: number) {
  const toolCalls = answer.toolCalls.map((call) => ({ id: call.id, type: "function", function: { name: call.name, arguments: call.arguments } }));
  return {
    index,
    message: {
      role: "assistant",
      content: toolCalls.length > 0 && !answer.text ? null : answer.text,
      ...(answer.reasoning ? { reasoning_content: answer.reasoning } : {}),
      ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
      refusal: null,
    },
    logprobs: answer.logprobs ? { content: answer.logprobs.map(toOpenAiLogprob) } : null,
    finish_reason: answer.finishReason,
  };
}
