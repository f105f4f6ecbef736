import { ApiError, invalidRequest } from "../../errors.js";
import type { Identity } from "../../auth/api-keys.js";
import type { ChatMessage, ModelEngine, ToolDefinition } from "../../engine/types.js";
import { normalizeInput, toChatMessages, type ResponseItem } from "./items.js";
import { checkRequest, templateArgs, toToolDefinitions, type ResponsesBody } from "./protocol.js";
import type { ResponseStore, StoredResponse } from "./store.js";
import { checkChat } from "../shared/request-limits.js";

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
export async function resolveConversation(body: ResponsesBody, caller: Identity, engine: ModelEngine, store: ResponseStore, maxMessages: number): Promise<ResponsesRequest> {
  checkRequest(body);
  const input = body.input === undefined ? [] : normalizeInput(body.input);
  const history = body.previous_response_id ? (await ownedResponse(store, body.previous_response_id, caller, "previous_response_id")).context : [];
  if (input.length === 0 && history.length === 0) throw invalidRequest("Missing required parameter: 'input'.", "input", "missing_required_parameter");
  let messages: ChatMessage[] = [...(body.instructions ? [{ role: "system" as const, content: body.instructions }] : []), ...toChatMessages([...history, ...input])];
  checkChat({ messages, templateArgs: templateArgs(body) }, maxMessages, "input");
  if (body.truncation === "auto") messages = await fitToContext(messages, engine, toToolDefinitions(body.tools ?? []), templateArgs(body), body.max_output_tokens ?? 1);
  return { ...body, resolved: { owner: caller.name, input, history, messages } };
}

/**
 * truncation: auto — drops the oldest turns (never the instructions, never the last message) until the rendered
 * prompt leaves room for the answer (max_output_tokens, at most half the context). The fewest drops that fit are
 * found by bisection: about log2(turns) renders, not one per dropped turn. A model without a local vocabulary
 * (an upstream) gets the conversation whole.
 */
async function fitToContext(messages: ChatMessage[], engine: ModelEngine, tools: ToolDefinition[], args: Record<string, unknown> | undefined, reserve: number): Promise<ChatMessage[]> {
  if (!engine.renderChat) return messages;
  const context = engine.description.ctxSize;
  const budget = context - Math.max(1, Math.min(reserve, Math.floor(context / 2)));
  const fits = async (kept: ChatMessage[]) => (await engine.renderChat!({ messages: kept, ...(tools.length ? { tools } : {}), ...(args ? { templateArgs: args } : {}) })).tokens.length <= budget;
  if (await fits(messages)) return messages;
  const droppedAt = dropOrder(messages);
  const turns = Math.max(0, ...droppedAt.filter((step) => step !== undefined).map((step) => step + 1));
  const afterDropping = (count: number) => messages.filter((_, index) => droppedAt[index] === undefined || droppedAt[index] >= count);
  // The fewest drops (1..turns) that fit; all of them when none does (the engine's length check then answers).
  let low = 1;
  let high = turns;
  while (low < high) {
    const middle = Math.floor((low + high) / 2);
    if (await fits(afterDropping(middle))) high = middle;
    else low = middle + 1;
  }
  return afterDropping(high);
}

/**
 * For each message, the step at which truncation drops it (undefined: never). Each step drops the oldest
 * non-system message and the tool results right after it, as long as another non-system message and something
 * after the dropped turn remain.
 */
function dropOrder(messages: readonly ChatMessage[]): (number | undefined)[] {
  const order: (number | undefined)[] = new Array(messages.length).fill(undefined);
  let nonSystemLeft = messages.filter((m) => m.role !== "system").length;
  let cursor = 0;
  for (let step = 0; ; step++) {
    while (cursor < messages.length && (messages[cursor]!.role === "system" || order[cursor] !== undefined)) cursor++;
    if (cursor >= messages.length || nonSystemLeft <= 1) return order;
    let end = cursor + 1;
    while (messages[end]?.role === "tool") end++;
    if (end >= messages.length) return order;
    for (let i = cursor; i < end; i++) order[i] = step;
    nonSystemLeft -= end - cursor;
    cursor = end;
  }
}
