import { ApiError, invalidRequest } from "../../errors.js";
import type { Identity } from "../../auth/api-keys.js";
import type { ChatMessage, ModelEngine, ToolDefinition } from "../../engine/types.js";
import { normalizeInput, toChatMessages, type ResponseItem } from "./items.js";
import { checkRequest, templateArgs, toToolDefinitions, type ResponsesBody } from "./protocol.js";
import type { ResponseStore, StoredResponse } from "./store.js";

/** A Responses request with its conversation resolved: what the prompt, the response object and the store need. */
export interface ResponsesRequest extends ResponsesBody {
  resolved: {
    owner: string;
    /** This request's input items, with ids. */
    input: ResponseItem[];
    /** The items before them (the conversation previous_response_id continues). */
    history: ResponseItem[];
    /** What the model reads: the instructions, then the conversation (its oldest turns dropped when truncation is auto and it does not fit). */
    messages: ChatMessage[];
  };
}

export const responseNotFound = (id: string, param: string | null = null) =>
  new ApiError(404, `No response found with id '${id}'.`, "invalid_request_error", param ? "previous_response_not_found" : "not_found", param);

/** A stored response, if it exists and the caller created it (another key's is as unknown as a missing one). */
export async function ownedResponse(store: ResponseStore, id: string, caller: Identity, param: string | null = null): Promise<StoredResponse> {
  const stored = await store.get(id);
  if (!stored || stored.owner !== caller.name) throw responseNotFound(id, param);
  return stored;
}

/** Loads the conversation a request continues, and fits it to the model's context when truncation is auto. */
export async function resolveConversation(body: ResponsesBody, caller: Identity, engine: ModelEngine, store: ResponseStore): Promise<ResponsesRequest> {
  checkRequest(body);
  const input = body.input === undefined ? [] : normalizeInput(body.input);
  const history = body.previous_response_id ? (await ownedResponse(store, body.previous_response_id, caller, "previous_response_id")).context : [];
  if (input.length === 0 && history.length === 0) throw invalidRequest("Missing required parameter: 'input'.", "input", "missing_required_parameter");
  let messages: ChatMessage[] = [...(body.instructions ? [{ role: "system" as const, content: body.instructions }] : []), ...toChatMessages([...history, ...input])];
  if (body.truncation === "auto") messages = await fitToContext(messages, engine, toToolDefinitions(body.tools ?? []), templateArgs(body), body.max_output_tokens ?? 1);
  return { ...body, resolved: { owner: caller.name, input, history, messages } };
}

/**
 * truncation: auto — drops the oldest turns (never the instructions, never the last message) until the rendered
 * prompt leaves room for the answer (max_output_tokens, at most half the context). A model without a local
 * vocabulary (an upstream) gets the conversation whole.
 */
async function fitToContext(messages: ChatMessage[], engine: ModelEngine, tools: ToolDefinition[], args: Record<string, unknown> | undefined, reserve: number): Promise<ChatMessage[]> {
  if (!engine.renderChat) return messages;
  const context = engine.description.ctxSize;
  const budget = context - Math.max(1, Math.min(reserve, Math.floor(context / 2)));
  let kept = messages;
  for (;;) {
    const { tokens } = await engine.renderChat({ messages: kept, ...(tools.length ? { tools } : {}), ...(args ? { templateArgs: args } : {}) });
    if (tokens.length <= budget) return kept;
    const shorter = withoutOldestTurn(kept);
    if (!shorter) return kept; // what is left cannot be dropped: the engine's length check answers
    kept = shorter;
  }
}

/** The messages without the oldest non-system one (and the tool results it leaves without their call); undefined when only one is left. */
function withoutOldestTurn(messages: ChatMessage[]): ChatMessage[] | undefined {
  const first = messages.findIndex((m) => m.role !== "system");
  if (first < 0 || messages.slice(first).filter((m) => m.role !== "system").length <= 1) return undefined;
  let end = first + 1;
  while (messages[end]?.role === "tool") end++;
  if (end >= messages.length) return undefined;
  return [...messages.slice(0, first), ...messages.slice(end)];
}
