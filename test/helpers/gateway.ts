import { resolve } from "node:path";
import pino, { type Logger } from "pino";
import OpenAI from "openai";
import { validateConfig } from "../../src/config/load.js";
import { startGateway, type RunningGateway } from "../../src/server/start.js";
import { PROJECT_ROOT } from "../../src/engine/model-file.js";
import { until } from "./until.js";

export const SHARED_MODELS = resolve(PROJECT_ROOT, "../shared/models");
/** Real, trained TinyStories model: fast (~3,000 tok/s), coherent text, byte-fallback vocabulary. */
export const STORIES_260K = resolve(SHARED_MODELS, "stories260K.gguf");
/** Random weights, 57M parameters: slow enough (~300 tok/s) to catch a generation mid-flight. */
export const SYNTHETIC_57M = resolve(SHARED_MODELS, "synthetic-llama-57M-random-Q8_0.gguf");

export interface TestGateway extends RunningGateway {
  baseURL: string;
  client: OpenAI;
  model: string;
}

/** A real gateway on a random loopback port serving one real model. */
export async function startTestGateway(settings: Record<string, unknown> = {}, modelPath = STORIES_260K, logger: Logger = pino({ level: "silent" })): Promise<TestGateway> {
  const config = validateConfig({
    server: { host: "127.0.0.1", port: 0 },
    models: [{ id: "test-model", path: modelPath }],
    log: { level: "silent" },
    ...settings,
    engine: { ctxSize: 512, slots: 1, ...(settings.engine as object | undefined) },
  });
  const gateway = await startGateway(config, logger);
  const baseURL = gateway.url;
  return { ...gateway, baseURL, model: "test-model", client: new OpenAI({ baseURL, apiKey: "test", maxRetries: 0 }) };
}

export async function postJson(baseURL: string, path: string, body: unknown, init: RequestInit = {}): Promise<Response> {
  return fetch(`${baseURL}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
    ...init,
  });
}

/** Parses a whole SSE body into its data payloads (comments dropped). */
export function sseData(text: string): string[] {
  return text
    .split("\n\n")
    .filter((frame) => frame.startsWith("data: "))
    .map((frame) => frame.slice("data: ".length));
}

/** Polls until the engine reports no busy slot, or fails after `ms`. */
export async function waitForIdleSlots(gateway: RunningGateway, ms = 2_000): Promise<number> {
  const engine = gateway.models.all()[0]!;
  return until(() => engine.stats().slotsBusy === 0, "idle slots", () => engine.stats(), ms);
}

/** Reads an SSE response frame by frame as it arrives, calling `onData` with each data payload. */
export async function readSse(response: Response, onData: (data: string) => void): Promise<void> {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end: number;
    while ((end = buffer.indexOf("\n\n")) !== -1) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (frame.startsWith("data: ")) onData(frame.slice(6));
    }
  }
}

/** A response's JSON body, loosely typed for assertions. */
export async function jsonBody(response: Response): Promise<any> {
  return response.json();
}
