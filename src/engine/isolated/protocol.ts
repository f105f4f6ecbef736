import type { GatewayConfig } from "../../config/schema.js";
import type { ChatRenderInput, EngineStats, ErrorData, GenerationEvent, GenerationRequest, ModelDescription } from "../types.js";

// Messages between the gateway and a model's engine process. Plain data only: the engine boundary
// (types.ts) was drawn so that it can cross a process boundary unchanged.

/** What an engine process needs to load its model. */
export interface EngineSpec {
  id: string;
  path: string;
  config: Pick<GatewayConfig, "engine" | "queue" | "request">;
}

/** An ApiError as data, with the retry hint a 503 carries. */
export interface WireError extends ErrorData {
  retryAfterMs?: number;
}

export type ToEngine =
  | { type: "load"; spec: EngineSpec }
  | { type: "start"; id: number; request: GenerationRequest }
  | { type: "abort"; id: number }
  | { type: "call"; id: number; method: "tokenize"; text: string; special: boolean }
  | { type: "call"; id: number; method: "detokenize"; tokens: number[]; preceding: number[] }
  | { type: "call"; id: number; method: "pieces"; tokens: number[] }
  | { type: "call"; id: number; method: "embed"; inputs: string[] }
  | { type: "call"; id: number; method: "renderChat"; input: ChatRenderInput }
  | { type: "close" };

export type FromEngine =
  | { type: "loaded"; description: ModelDescription }
  | { type: "load-failed"; message: string }
  | { type: "started"; id: number; promptTokens: number; cachedTokens: number; slot: number; queueWaitMs: number }
  | { type: "start-failed"; id: number; error: WireError }
  | { type: "event"; id: number; event: GenerationEvent }
  | { type: "end"; id: number }
  | { type: "result"; id: number; value: unknown }
  | { type: "call-failed"; id: number; error: WireError }
  | { type: "stats"; stats: EngineStats }
  | { type: "log"; level: "debug" | "info" | "warn" | "error"; message: string; fields: Record<string, unknown> };
