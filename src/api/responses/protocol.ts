import { Type, type Static } from "typebox";
import { invalidRequest } from "../../errors.js";
import type { ToolDefinition, ToolUse } from "../../engine/types.js";
import { checkedToolUse } from "../shared/tool-use.js";
import { Nullable, type SamplingBody } from "../shared/sampling.js";
import { flatToolName, ToolNames } from "./items.js";
import { argsOrUndefined, effortArgs } from "../shared/reasoning-args.js";

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
  // Accepted and without effect here (Codex sends them): a conversation's cache key (used to choose a replica),
  // the client's own metadata, the cache retention.
  prompt_cache_key: Nullable(Type.String({ maxLength: 1024 })),
  client_metadata: Type.Optional(Type.Unknown()),
  prompt_cache_retention: Type.Optional(Type.Unknown()),
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

/**
 * The function tools of a request as the engine takes them. A namespace tool (Codex's grouping) gives its functions
 * under flat names (items.ts ToolNames); hosted tools (web_search, file_search, code_interpreter, mcp, ...) run on
 * OpenAI's side, which this server has not: they are left out of the prompt, as other local servers do.
 */
export function toToolDefinitions(tools: readonly Static<typeof Item>[]): ToolDefinition[] {
  return functionTools(tools).map(({ tool, param, namespace }) => {
    if (typeof tool.name !== "string" || !/^[a-zA-Z0-9_-]{1,64}$/.test(tool.name))
      throw invalidRequest(`Invalid value for '${param}.name': 1 to 64 letters, digits, '_' or '-'.`, `${param}.name`, "invalid_value");
    const parameters = tool.parameters;
    if (parameters != null && (typeof parameters !== "object" || Array.isArray(parameters))) throw invalidRequest(`'${param}.parameters' must be a JSON schema object.`, `${param}.parameters`, "invalid_type");
    return {
      name: flatToolName(namespace, tool.name),
      ...(typeof tool.description === "string" && tool.description ? { description: tool.description } : {}),
      ...(parameters ? { parameters: parameters as Record<string, unknown> } : {}),
    };
  });
}

/** The flat names of the namespaced functions a request offers, to give their calls back as {namespace, name}. */
export function toolNames(tools: readonly Static<typeof Item>[] | null | undefined): ToolNames {
  const names = new ToolNames();
  for (const { tool, namespace } of functionTools(tools ?? [])) if (namespace && typeof tool.name === "string") names.add(namespace, tool.name);
  return names;
}

type Raw = Record<string, unknown>;

function functionTools(tools: readonly Static<typeof Item>[]): { tool: Raw; param: string; namespace?: string }[] {
  return tools.flatMap((value, i) => {
    const tool = value as Raw;
    if (tool.type === "function") return [{ tool, param: `tools[${i}]` }];
    if (tool.type !== "namespace") return []; // a hosted tool
    if (typeof tool.name !== "string" || !/^[a-zA-Z0-9_-]{1,64}$/.test(tool.name) || !Array.isArray(tool.tools))
      throw invalidRequest(`Invalid value for 'tools[${i}]': a namespace tool needs a 'name' (letters, digits, '_' or '-') and 'tools'.`, `tools[${i}]`, "invalid_value");
    const namespace = tool.name;
    return (tool.tools as unknown[]).flatMap((inner, j) =>
      typeof inner === "object" && inner !== null && (inner as Raw).type === "function" ? [{ tool: inner as Raw, param: `tools[${i}].tools[${j}]`, namespace }] : [],
    );
  });
}

/** tools + tool_choice + parallel_tool_calls as the engine takes them; undefined when no tool may be called. */
export function toToolUse(body: Pick<ResponsesBody, "tools" | "tool_choice" | "parallel_tool_calls" | "text" | "grammar">): ToolUse | undefined {
  const tools = toToolDefinitions(body.tools ?? []);
  const choice = body.tool_choice ?? "auto";
  if (typeof choice === "object" && choice.type !== "function")
    throw invalidRequest(`tool_choice of type '${choice.type}' is not supported here: this server runs no hosted tools. Use none, auto, required or {type: "function", name}.`, "tool_choice.type", "unsupported_value");
  if (choice === "none" || (choice === "auto" && tools.length === 0)) return undefined;
  if (tools.length === 0) throw invalidRequest("'tool_choice' is set but no 'tools' are given.", "tool_choice");
  if (body.grammar || (body.text?.format && body.text.format.type !== "text"))
    throw invalidRequest("'tools' cannot be combined with a JSON 'text.format' or a 'grammar' here: tool calls already constrain the answer. Set tool_choice 'none' for constrained output.", body.grammar ? "grammar" : "text.format");
  if (typeof choice === "object" && !choice.name) throw invalidRequest("Missing required parameter: 'tool_choice.name'.", "tool_choice.name", "missing_required_parameter");
  return checkedToolUse(tools, typeof choice === "object" ? { mode: "function", name: choice.name! } : { mode: choice }, body.parallel_tool_calls ?? true, {
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
    // prompt_cache_key names a conversation (Codex sends one per session): replicas are chosen by it, as by `user`.
    ...(body.prompt_cache_key || body.user ? { user: body.prompt_cache_key || body.user } : {}),
    ...(format && format.type !== "text"
      ? { response_format: format.type === "json_object" ? { type: "json_object" } : { type: "json_schema", json_schema: { name: format.name!, schema: format.schema!, strict: format.strict ?? null } } }
      : {}),
    stream: body.stream === true,
  };
}

/** reasoning.effort as the template's variables (see effortArgs); undefined without one. */
export function templateArgs(body: Pick<ResponsesBody, "reasoning">): Record<string, unknown> | undefined {
  return argsOrUndefined(effortArgs(body.reasoning?.effort));
}
