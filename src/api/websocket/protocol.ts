import type { ErrorData } from "../../engine/types.js";
import { openAiError, type OpenAiUsage } from "../shared/response-shape.js";

// The WebSocket protocol of GET /v1/ws: one JSON object per text frame, in both directions.

export type ClientMessage =
  | { kind: "ping" }
  | { kind: "cancel"; id: string }
  /** `type` names the endpoint, e.g. chat.completions.create; `body` is that endpoint's HTTP body. */
  | { kind: "create"; type: string; id: string; body: unknown };

export type ServerMessage =
  | { type: "chunk"; id: string; data: object }
  /** The one terminal message of a request that was not an error; `cancelled` when the client's cancel ended it (usage: what was generated). */
  | { type: "done"; id: string; usage: OpenAiUsage; cancelled?: true }
  /** `error`: the error object of the API the request spoke (OpenAI's `{message, type, param, code}`, Anthropic's `{type, message}`). */
  | { type: "error"; id: string | null; status: number; error: object; retry_after_ms?: number }
  | { type: "pong" };

/** `retryAfterMs` (a 429 or 503) tells the client when to send the request again, as HTTP's retry-after-ms does. */
export const errorMessage = (id: string | null, error: ErrorData, retryAfterMs?: number, format: (error: ErrorData) => object = openAiError): ServerMessage => ({
  type: "error",
  id,
  status: error.status,
  error: format(error),
  ...(retryAfterMs === undefined ? {} : { retry_after_ms: retryAfterMs }),
});

/** Parses one frame into a message, or says in an OpenAI-style error what is wrong with it. */
export function parseClientMessage(text: string): { message: ClientMessage } | { problem: string; param: string | null; id: string | null } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { problem: "The message is not valid JSON.", param: null, id: null };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return { problem: "A message must be a JSON object.", param: null, id: null };
  const { type, id, body } = value as Record<string, unknown>;
  const knownId = typeof id === "string" && id.length > 0 ? id : null;
  if (typeof type !== "string") return { problem: "Missing required parameter: 'type'.", param: "type", id: knownId };
  if (type === "ping") return { message: { kind: "ping" } };
  if (!knownId) return { problem: "Missing required parameter: 'id' (a non-empty string).", param: "id", id: null };
  if (type === "cancel") return { message: { kind: "cancel", id: knownId } };
  return { message: { kind: "create", type, id: knownId, body } };
}
