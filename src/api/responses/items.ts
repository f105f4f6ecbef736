import { randomBytes } from "node:crypto";
import { invalidRequest } from "../../errors.js";
import type { ChatMessage, ToolCall } from "../../engine/types.js";
import { toOpenAiLogprob, type AnswerChoice } from "../shared/response-shape.js";

// The items of OpenAI's Responses API (input and output), as the `openai` SDK's ResponseInputItem and
// ResponseOutputItem name them, and how a conversation of them becomes the engine's chat messages.

export interface TextPart {
  type: "input_text" | "output_text";
  text: string;
  annotations?: unknown[];
  logprobs?: object[];
}

export type ItemStatus = "in_progress" | "completed" | "incomplete";

export type ResponseItem =
  | { id: string; type: "message"; role: "user" | "system" | "developer" | "assistant"; content: TextPart[]; status: ItemStatus }
  /** `namespace`: the namespace tool the function belongs to (Codex groups its tools so). */
  | { id: string; type: "function_call"; call_id: string; name: string; namespace?: string; arguments: string; status: ItemStatus }
  | { id: string; type: "function_call_output"; call_id: string; output: string; status: "completed" }
  | { id: string; type: "reasoning"; summary: unknown[]; content?: { type: "reasoning_text"; text: string }[] };

/** An item id of OpenAI's form: a prefix (msg, fc, rs, fco, resp) and random hex. */
export const itemId = (prefix: string) => `${prefix}_${randomBytes(24).toString("hex")}`;

type Raw = Record<string, unknown>;

const ROLES = new Set(["user", "system", "developer", "assistant"]);

const unsupportedContent = (type: unknown, param: string) =>
  invalidRequest(`Content of type '${String(type)}' is not supported here: this server serves text models. Send input_text parts.`, param, "unsupported_content");

function textParts(content: unknown, role: string, param: string): TextPart[] {
  const partType = role === "assistant" ? "output_text" : "input_text";
  if (typeof content === "string") return [{ type: partType, text: content }];
  if (!Array.isArray(content)) throw invalidRequest(`'${param}' must be a string or an array of content parts.`, param, "invalid_type");
  return content.map((part: unknown, j) => {
    const p = (part ?? {}) as Raw;
    if (p.type !== "input_text" && p.type !== "output_text" && p.type !== "text") throw unsupportedContent(p.type, `${param}[${j}].type`);
    if (typeof p.text !== "string") throw invalidRequest(`Missing required parameter: '${param}[${j}].text'.`, `${param}[${j}].text`, "missing_required_parameter");
    return { type: partType, text: p.text };
  });
}

const requiredString = (item: Raw, field: string, param: string): string => {
  const value = item[field];
  if (typeof value !== "string" || (field !== "arguments" && value.length === 0)) throw invalidRequest(`Missing required parameter: '${param}.${field}'.`, `${param}.${field}`, "missing_required_parameter");
  return value;
};

/** The request's `input` as items with ids (a string is one user message); anything this server cannot take is a 400 naming where. */
export function normalizeInput(input: string | unknown[]): ResponseItem[] {
  if (typeof input === "string") return [{ id: itemId("msg"), type: "message", role: "user", content: [{ type: "input_text", text: input }], status: "completed" }];
  return input.map((value, i): ResponseItem => {
    const param = `input[${i}]`;
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw invalidRequest(`'${param}' must be an object.`, param, "invalid_type");
    const item = value as Raw;
    const type = item.type ?? "message";
    const id = typeof item.id === "string" && item.id ? item.id : undefined;
    switch (type) {
      case "message": {
        if (typeof item.role !== "string" || !ROLES.has(item.role)) throw invalidRequest(`Invalid value for '${param}.role': use user, system, developer or assistant.`, `${param}.role`, "invalid_value");
        const role = item.role as "user" | "system" | "developer" | "assistant";
        return { id: id ?? itemId("msg"), type: "message", role, content: textParts(item.content, role, `${param}.content`), status: "completed" };
      }
      case "function_call":
        return {
          id: id ?? itemId("fc"),
          type: "function_call",
          call_id: requiredString(item, "call_id", param),
          name: requiredString(item, "name", param),
          ...(typeof item.namespace === "string" && item.namespace ? { namespace: item.namespace } : {}),
          arguments: requiredString(item, "arguments", param),
          status: "completed",
        };
      case "function_call_output": {
        const output = typeof item.output === "string" ? item.output : Array.isArray(item.output) ? textParts(item.output, "user", `${param}.output`).map((p) => p.text).join("") : undefined;
        if (output === undefined) throw invalidRequest(`Missing required parameter: '${param}.output' (a string or input_text parts).`, `${param}.output`, "missing_required_parameter");
        return { id: id ?? itemId("fco"), type: "function_call_output", call_id: requiredString(item, "call_id", param), output, status: "completed" };
      }
      case "reasoning": // earlier thinking: kept in the conversation's record, not sent back to the model
        return { id: id ?? itemId("rs"), type: "reasoning", summary: Array.isArray(item.summary) ? item.summary : [], ...(Array.isArray(item.content) ? { content: item.content as { type: "reasoning_text"; text: string }[] } : {}) };
      default:
        throw invalidRequest(`Input items of type '${String(type)}' are not supported here. Send message, function_call and function_call_output items.`, `${param}.type`, "unsupported_item");
    }
  });
}

const textOf = (parts: TextPart[]) => parts.map((p) => p.text).join("");

/**
 * A conversation of items as the engine's chat messages: developer messages as system messages, function_call items
 * as the calls of the assistant turn they follow, function_call_output items as tool messages, reasoning dropped.
 */
export function toChatMessages(items: readonly ResponseItem[]): ChatMessage[] {
  const out: ChatMessage[] = [];
  for (const item of items) {
    if (item.type === "message") out.push({ role: item.role === "developer" ? "system" : item.role, content: textOf(item.content) });
    else if (item.type === "function_call") {
      const call: ToolCall = { id: item.call_id, name: flatToolName(item.namespace, item.name), arguments: item.arguments };
      const last = out.at(-1);
      if (last?.role === "assistant") last.toolCalls = [...(last.toolCalls ?? []), call];
      else out.push({ role: "assistant", content: "", toolCalls: [call] });
    } else if (item.type === "function_call_output") out.push({ role: "tool", toolCallId: item.call_id, content: item.output });
  }
  return out;
}

/** The output items of a finished answer: its thinking, its text (also when empty and nothing else came) and its calls (`names`: the namespaced tools' flat names). */
export function outputItems(choice: AnswerChoice, ids: { reasoning: string; message: string }, names: ToolNames): ResponseItem[] {
  const status = choice.finishReason === "length" ? "incomplete" : "completed";
  return [
    ...(choice.reasoning ? [reasoningItem(ids.reasoning, choice.reasoning)] : []),
    ...(choice.text || choice.toolCalls.length === 0 ? [messageItem(ids.message, choice.text, status, choice.logprobs?.map(toOpenAiLogprob))] : []),
    ...choice.toolCalls.map((call): ResponseItem => ({ id: itemId("fc"), type: "function_call", call_id: call.id, ...names.split(call.name), arguments: call.arguments, status })),
  ];
}

export const messageItem = (id: string, text: string, status: ItemStatus, logprobs?: object[]): ResponseItem => ({
  id,
  type: "message",
  role: "assistant",
  content: [{ type: "output_text", text, annotations: [], ...(logprobs ? { logprobs } : {}) }],
  status,
});

export const reasoningItem = (id: string, text: string): ResponseItem => ({ id, type: "reasoning", summary: [], content: [{ type: "reasoning_text", text }] });

/**
 * The functions of namespace tools reach the model under one flat name each, `namespace__name`; a call to one goes
 * back to the client as `{namespace, name}`, as OpenAI's function_call items carry them.
 */
export function flatToolName(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}__${name}` : name;
}

export class ToolNames {
  private readonly namespaced = new Map<string, { namespace: string; name: string }>();

  add(namespace: string, name: string): string {
    const flat = flatToolName(namespace, name);
    this.namespaced.set(flat, { namespace, name });
    return flat;
  }

  split(flat: string): { name: string; namespace?: string } {
    return this.namespaced.get(flat) ?? { name: flat };
  }
}
