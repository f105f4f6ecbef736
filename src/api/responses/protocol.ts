import { Type, type Static } from "typebox";
import { invalidRequest } from "../../errors.js";
import type { ToolDefinition, ToolUse } from "../../engine/types.js";
import { checkedToolUse } from "../shared/tool-use.js";
import { Nullable, type SamplingBody } from "../shared/sampling.js";

// OpenAI's Responses API (POST /v1/responses), as the `openai` SDK's ResponseCreateParams names it. Unknown
// fields are ignored, as OpenAI does; what this server cannot do is a 400 naming the field.

const Open = Type.Object({}, { additionalProperties: true });
const Item = Type.Object({ type: Type.Optional(Type.String()) }, { additionalProperties: true });

// One object rather than a union of three, so that a missing name or schema is a 400 naming that field.
const TextFormat = Type.Object({
  type: Type.Union([Type.Literal("text"), Type.Literal("json_object"), Type.Literal("json_schema")]),
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  schema: Type.Optional(Type.Object({}, { additionalProperties: true })),
  strict: Nullable(Type.Boolean()),
  description: Type.Optional(Type.String()),
});

const ToolChoice = Type.Union([
  Type.Literal("none"),
  Type.Literal("auto"),
  Type.Literal("required"),
  Type.Object({ type: Type.String({ minLength: 1 }), name: Type.Optional(Type.String()) }, { additionalProperties: true }),
]);

export const ResponsesBody = Type.Object({
  model: Type.String({ minLength: 1 }),
  input: Type.Optional(Type.Union([Type.String(), Type.Array(Item)])),
  instructions: Nullable(Type.String()),
  max_output_tokens: Nullable(Type.Integer({ minimum: 1 })),
  temperature: Nullable(Type.Number({ minimum: 0, maximum: 2 })),
  top_p: Nullable(Type.Number({ minimum: 0, maximum: 1 })),
  top_logprobs: Nullable(Type.Integer({ minimum: 0, maximum: 20 })),
  tools: Nullable(Type.Array(Item, { maxItems: 128 })),
  tool_choice: Nullable(ToolChoice),
  parallel_tool_calls: Nullable(Type.Boolean()),
  text: Nullable(Type.Object({ format: Nullable(TextFormat), verbosity: Nullable(Type.String()) })),
  reasoning: Nullable(Type.Object({ effort: Nullable(Type.String({ minLength: 1, maxLength: 32 })), summary: Nullable(Type.String()) }, { additionalProperties: true })),
  metadata: Nullable(Type.Record(Type.String({ maxLength: 64 }), Type.String({ maxLength: 512 }), { maxProperties: 16 })),
  user: Type.Optional(Type.String()),
  truncation: Nullable(Type.Union([Type.Literal("auto"), Type.Literal("disabled")])),
  store: Nullable(Type.Boolean()),
  stream: Nullable(Type.Boolean()),
  previous_response_id: Nullable(Type.String({ minLength: 1 })),
  background: Nullable(Type.Boolean()),
  include: Nullable(Type.Array(Type.String())),
  conversation: Type.Optional(Type.Unknown()),
  prompt: Type.Optional(Type.Unknown()),
  // Extensions, as on chat: when requests wait for a slot, a key's requests with lower values go first (vLLM's);
  // a GBNF grammar the output must follow (llama-server's).
  priority: Nullable(Type.Integer({ minimum: -1000, maximum: 1000 })),
  grammar: Nullable(Type.String({ minLength: 1, maxLength: 65_536 })),
  stream_options: Nullable(Open),
});

export type ResponsesBody = Static<typeof ResponsesBody>;

/** The part of a request that POST /v1/responses/input_tokens takes. */
export const InputTokensBody = Type.Object({
  model: ResponsesBody.properties.model,
  input: ResponsesBody.properties.input,
  instructions: ResponsesBody.properties.instructions,
  tools: ResponsesBody.properties.tools,
  previous_response_id: ResponsesBody.properties.previous_response_id,
  reasoning: ResponsesBody.properties.reasoning,
});

export const LOGPROBS_INCLUDE = "message.output_text.logprobs";

/** What the schema cannot say (a json_schema format's own fields), and fields this server does not serve: a clear 400 each. */
export function checkRequest(body: Pick<ResponsesBody, "background" | "conversation" | "prompt" | "text">): void {
  const format = body.text?.format;
  if (format?.type === "json_schema")
    for (const field of ["name", "schema"] as const)
      if (format[field] === undefined) throw invalidRequest(`Missing required parameter: 'text.format.${field}'.`, `text.format.${field}`, "missing_required_parameter");
  if (body.background) throw invalidRequest("'background' responses are not supported here: send the request with stream: true, or wait for it.", "background", "unsupported_parameter");
  if (body.conversation != null) throw invalidRequest("'conversation' (the Conversations API) is not supported here: continue a conversation with 'previous_response_id'.", "conversation", "unsupported_parameter");
  if (body.prompt != null) throw invalidRequest("'prompt' (stored prompt templates) is not supported here: send 'instructions' and 'input'.", "prompt", "unsupported_parameter");
}

/** The function tools of a request as the engine takes them; built-in tools (web search, file search, MCP...) are a 400. */
export function toToolDefinitions(tools: readonly Static<typeof Item>[]): ToolDefinition[] {
  return tools.map((value, i) => {
    const tool = value as Record<string, unknown>;
    if (tool.type !== "function")
      throw invalidRequest(`Tools of type '${String(tool.type)}' are not supported here: this server runs no built-in tools. Use function tools.`, `tools[${i}].type`, "unsupported_tool");
    if (typeof tool.name !== "string" || !/^[a-zA-Z0-9_-]{1,64}$/.test(tool.name))
      throw invalidRequest(`Invalid value for 'tools[${i}].name': 1 to 64 letters, digits, '_' or '-'.`, `tools[${i}].name`, "invalid_value");
    const parameters = tool.parameters;
    if (parameters != null && (typeof parameters !== "object" || Array.isArray(parameters))) throw invalidRequest(`'tools[${i}].parameters' must be a JSON schema object.`, `tools[${i}].parameters`, "invalid_type");
    return {
      name: tool.name,
      ...(typeof tool.description === "string" && tool.description ? { description: tool.description } : {}),
      ...(parameters ? { parameters: parameters as Record<string, unknown> } : {}),
    };
  });
}

/** tools + tool_choice + parallel_tool_calls as the engine takes them; undefined when no tool may be called. */
export function toToolUse(body: Pick<ResponsesBody, "tools" | "tool_choice" | "parallel_tool_calls" | "text" | "grammar">): ToolUse | undefined {
  const tools = toToolDefinitions(body.tools ?? []);
  const choice = body.tool_choice ?? "auto";
  if (typeof choice === "object" && choice.type !== "function")
    throw invalidRequest(`tool_choice of type '${choice.type}' is not supported here: use none, auto, required or {type: "function", name}.`, "tool_choice.type", "unsupported_value");
  if (choice === "none" || (choice === "auto" && tools.length === 0)) return undefined;
  if (tools.length === 0) throw invalidRequest("'tool_choice' is set but no 'tools' are given.", "tool_choice");
  if (body.grammar || (body.text?.format && body.text.format.type !== "text"))
    throw invalidRequest("'tools' cannot be combined with a JSON 'text.format' or a 'grammar' here: tool calls already constrain the answer. Set tool_choice 'none' for constrained output.", body.grammar ? "grammar" : "text.format");
  if (typeof choice === "object" && !choice.name) throw invalidRequest("Missing required parameter: 'tool_choice.name'.", "tool_choice.name", "missing_required_parameter");
  return checkedToolUse(tools, typeof choice === "object" ? { mode: "function", name: choice.name! } : { mode: choice }, body.parallel_tool_calls ?? true, {
    schema: (i) => `tools[${i}].parameters`,
    choiceName: "tool_choice.name",
  });
}

/** The sampling fields in OpenAI's chat terms, for the shared generation core. */
export function toSamplingBody(body: ResponsesBody): SamplingBody {
  const format = body.text?.format;
  return {
    model: body.model,
    ...(body.max_output_tokens != null ? { max_tokens: body.max_output_tokens } : {}),
    ...(body.temperature != null ? { temperature: body.temperature } : {}),
    ...(body.top_p != null ? { top_p: body.top_p } : {}),
    ...(body.priority != null ? { priority: body.priority } : {}),
    ...(body.grammar ? { grammar: body.grammar } : {}),
    ...(body.user ? { user: body.user } : {}),
    ...(format && format.type !== "text"
      ? { response_format: format.type === "json_object" ? { type: "json_object" } : { type: "json_schema", json_schema: { name: format.name!, schema: format.schema!, strict: format.strict ?? null } } }
      : {}),
    stream: body.stream === true,
  };
}

/** reasoning.effort as the template variable reasoning_effort (gpt-oss reads it); undefined without one. */
export function templateArgs(body: Pick<ResponsesBody, "reasoning">): Record<string, unknown> | undefined {
  return body.reasoning?.effort ? { reasoning_effort: body.reasoning.effort } : undefined;
}
