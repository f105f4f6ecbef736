import { Type, type Static } from "typebox";
import { invalidRequest } from "../../errors.js";
import type { ChatMessage, ToolCall, ToolUse } from "../../engine/types.js";
import { checkedToolUse } from "../shared/tool-use.js";
import type { SamplingBody } from "../shared/sampling.js";
import { argsOrUndefined, effortArgs } from "../shared/reasoning-args.js";

// Anthropic's Messages API (POST /v1/messages), as @anthropic-ai/sdk's MessageCreateParams names it. Unknown
// fields are ignored, as Anthropic does; `cache_control` on any block, `context_management`, a tool's
// `defer_loading` and the `anthropic-beta` header are accepted and have no effect here. Claude Code sends all of them.

const Block = Type.Object({ type: Type.String({ minLength: 1 }) }, { additionalProperties: true });
const Content = Type.Union([Type.String(), Type.Array(Block)]);

// A client tool (type custom, or none) has an input_schema; a server tool (web_search_..., code_execution_...) runs on
// Anthropic's side, which this server has not: it is left out of the prompt.
const Tool = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 128 }),
  description: Type.Optional(Type.String()),
  input_schema: Type.Optional(Type.Object({}, { additionalProperties: true })),
  type: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  cache_control: Type.Optional(Type.Unknown()),
});

const isClientTool = (tool: Static<typeof Tool>) => tool.type == null || tool.type === "custom";

const ToolChoice = Type.Union([
  Type.Object({ type: Type.Literal("auto"), disable_parallel_tool_use: Type.Optional(Type.Boolean()) }),
  Type.Object({ type: Type.Literal("any"), disable_parallel_tool_use: Type.Optional(Type.Boolean()) }),
  Type.Object({ type: Type.Literal("tool"), name: Type.String({ minLength: 1 }), disable_parallel_tool_use: Type.Optional(Type.Boolean()) }),
  Type.Object({ type: Type.Literal("none") }),
]);

export const MessagesBody = Type.Object({
  model: Type.String({ minLength: 1 }),
  max_tokens: Type.Integer({ minimum: 1 }),
  // A system message among the others: Claude Code sends one for models it does not know.
  messages: Type.Array(Type.Object({ role: Type.Union([Type.Literal("user"), Type.Literal("assistant"), Type.Literal("system")]), content: Content }), { minItems: 1 }),
  system: Type.Optional(Content),
  temperature: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  top_p: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
  top_k: Type.Optional(Type.Integer({ minimum: 0 })),
  stop_sequences: Type.Optional(Type.Array(Type.String())),
  stream: Type.Optional(Type.Boolean()),
  tools: Type.Optional(Type.Array(Tool, { maxItems: 128 })),
  tool_choice: Type.Optional(ToolChoice),
  thinking: Type.Optional(
    Type.Object(
      { type: Type.Union([Type.Literal("enabled"), Type.Literal("disabled"), Type.Literal("adaptive")]), budget_tokens: Type.Optional(Type.Integer({ minimum: 0 })), display: Type.Optional(Type.String()) },
      { additionalProperties: true },
    ),
  ),
  output_config: Type.Optional(Type.Object({ effort: Type.Optional(Type.String({ maxLength: 32 })) }, { additionalProperties: true })),
  metadata: Type.Optional(Type.Object({ user_id: Type.Optional(Type.Union([Type.String(), Type.Null()])) })),
});

export type MessagesBody = Static<typeof MessagesBody>;

/** The part of a Messages request that count_tokens takes. */
export const CountTokensBody = Type.Object({
  model: MessagesBody.properties.model,
  messages: MessagesBody.properties.messages,
  system: MessagesBody.properties.system,
  tools: MessagesBody.properties.tools,
});

type Blocks = Static<typeof Content>;
type BlockObject = Record<string, unknown> & { type: string };

const unsupported = (type: string, param: string) =>
  invalidRequest(`Content blocks of type '${type}' are not supported here: this server serves text models. Send text, tool_use and tool_result blocks.`, param, "unsupported_content");

/** The text of a string or of text blocks (other blocks are an error, naming where). */
function textOf(content: Blocks, param: string): string {
  if (typeof content === "string") return content;
  return (content as BlockObject[])
    .map((block, i) => {
      if (block.type === "text") return String(block.text ?? "");
      throw unsupported(block.type, `${param}[${i}].type`);
    })
    .join("");
}

/** Anthropic's conversation as the engine's: the system prompt first, tool_use blocks as calls, tool_result blocks as tool messages. */
export function toChatMessages(body: Pick<MessagesBody, "system" | "messages">): ChatMessage[] {
  const out: ChatMessage[] = [];
  if (body.system !== undefined) {
    const system = textOf(body.system, "system");
    if (system) out.push({ role: "system", content: system });
  }
  body.messages.forEach((message, m) => {
    const param = `messages[${m}].content`;
    if (message.role === "system") return void out.push({ role: "system", content: textOf(message.content, param) });
    if (typeof message.content === "string") return void out.push({ role: message.role, content: message.content });
    const blocks = message.content as BlockObject[];
    if (message.role === "assistant") {
      let text = "";
      const calls: ToolCall[] = [];
      blocks.forEach((block, i) => {
        if (block.type === "text") text += String(block.text ?? "");
        else if (block.type === "tool_use") calls.push({ id: String(block.id), name: String(block.name), arguments: JSON.stringify(block.input ?? {}) });
        else if (block.type !== "thinking" && block.type !== "redacted_thinking") throw unsupported(block.type, `${param}[${i}].type`); // earlier thinking is not sent back to the model
      });
      return void out.push({ role: "assistant", content: text, ...(calls.length ? { toolCalls: calls } : {}) });
    }
    let text = "";
    blocks.forEach((block, i) => {
      if (block.type === "text") text += String(block.text ?? "");
      else if (block.type === "tool_result") {
        const content = block.content === undefined ? "" : textOf(block.content as Blocks, `${param}[${i}].content`);
        out.push({ role: "tool", toolCallId: String(block.tool_use_id), content: block.is_error === true ? `Error: ${content}` : content });
      } else throw unsupported(block.type, `${param}[${i}].type`);
    });
    if (text) out.push({ role: "user", content: text });
  });
  return out;
}

/** tools + tool_choice as the engine takes them (any / a named tool: constrained from the first token, as chat's required). */
export function toToolUse(body: Pick<MessagesBody, "tools" | "tool_choice">): ToolUse | undefined {
  const tools = (body.tools ?? []).filter(isClientTool);
  const bad = tools.find((tool) => !/^[a-zA-Z0-9_-]{1,64}$/.test(tool.name));
  if (bad) throw invalidRequest(`Invalid tool name '${bad.name}': 1 to 64 letters, digits, '_' or '-'.`, "tools", "invalid_value");
  const choice = body.tool_choice ?? { type: "auto" as const };
  if (choice.type === "none" || tools.length === 0) {
    if (choice.type !== "none" && choice.type !== "auto") throw invalidRequest("'tool_choice' needs 'tools'.", "tool_choice");
    return undefined;
  }
  return checkedToolUse(
    tools.map((t) => ({ name: t.name, ...(t.description ? { description: t.description } : {}), parameters: (t.input_schema ?? { type: "object" }) as Record<string, unknown> })),
    choice.type === "auto" ? { mode: "auto" } : choice.type === "any" ? { mode: "required" } : { mode: "function", name: choice.name },
    !choice.disable_parallel_tool_use,
    { choiceName: "tool_choice.name" },
  );
}

/** The sampling fields in OpenAI's terms, for the shared generation core. */
export function toSamplingBody(body: MessagesBody): SamplingBody {
  return {
    model: body.model,
    max_tokens: body.max_tokens,
    ...(body.temperature !== undefined ? { temperature: body.temperature } : {}),
    ...(body.top_p !== undefined ? { top_p: body.top_p } : {}),
    ...(body.top_k !== undefined ? { top_k: body.top_k } : {}),
    ...(body.stop_sequences?.length ? { stop: body.stop_sequences } : {}),
    ...(body.metadata?.user_id ? { user: body.metadata.user_id } : {}),
    stream: body.stream === true,
  };
}

/**
 * The chat template's reasoning switches from Anthropic's fields: thinking disabled turns thinking off where the
 * template has a switch, enabled or adaptive turns it on (for a model whose `thinking` setting is off);
 * output_config.effort is the template's reasoning_effort. Undefined when neither is set.
 */
export function templateArgs(body: Pick<MessagesBody, "thinking" | "output_config">): Record<string, unknown> | undefined {
  return argsOrUndefined({ ...(body.thinking ? { enable_thinking: body.thinking.type !== "disabled" } : {}), ...effortArgs(body.output_config?.effort) });
}
