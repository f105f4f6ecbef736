// A server for the overhead benchmark, run in its own process: either the gateway's HTTP stack over an
// engine that emits tokens as fast as it is asked (no model), or a bare node:http SSE server writing
// the same chunks (the physical limit).
import { createServer } from "node:http";
import { parseArgs } from "node:util";
import { buildApp } from "../src/server/app.js";
import { validateConfig } from "../src/config/load.js";
import { ModelRegistry } from "../src/router/model-registry.js";
import type { EngineStats, Generation, GenerationEvent, GenerationRequest, ModelDescription, ModelEngine } from "../src/engine/types.js";

const TOKEN_TEXT = " word";

/**
 * Between two tokens: a turn of the event loop (as fast as asked), or `paceMs` on a timer, one wake-up per token
 * like a real engine's IPC message.
 */
const nextToken = (paceMs: number) => new Promise((r) => (paceMs > 0 ? setTimeout(r, paceMs) : setImmediate(r)));

/** Emits `maxTokens` tokens of " word" with no model behind it; yields to the event loop like a real decode. */
class InstantEngine implements ModelEngine {
  constructor(private readonly paceMs: number) {}

  readonly description: ModelDescription = {
    id: "instant", path: "-", slots: 1024, ctxSize: 1 << 20, layout: "batched", gpu: false, gpuLayers: 0, threads: 0, chatTemplate: "none", created: 0,
  };
  async start(request: GenerationRequest, signal: AbortSignal): Promise<Generation> {
    const paceMs = this.paceMs;
    async function* events(): AsyncGenerator<GenerationEvent> {
      for (let i = 0; i < request.maxTokens; i++) {
        if (signal.aborted) return;
        await nextToken(paceMs);
        yield { type: "text", text: TOKEN_TEXT };
      }
      yield { type: "done", finishReason: "length", usage: { promptTokens: 1, cachedTokens: 0, completionTokens: request.maxTokens } };
    }
    return { promptTokens: 1, cachedTokens: 0, slot: 0, queueWaitMs: 0, events: events() };
  }
  stats(): EngineStats {
    return { slotsTotal: 1024, slotsBusy: 0, queuedRequests: 0, queuedTokens: 0, generatedTokens: 0 };
  }
  async close(): Promise<void> {}
}

/** node:http writing the same chunk objects, one write per token, as the physical limit. */
function bareServer(paceMs: number) {
  return createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", async () => {
      const { max_tokens: maxTokens } = JSON.parse(body) as { max_tokens: number };
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      const id = "cmpl-bare";
      const created = Math.floor(Date.now() / 1000);
      const chunk = (text: string, finish: string | null) =>
        `data: ${JSON.stringify({ id, object: "text_completion", created, model: "instant", system_fingerprint: null, choices: [{ index: 0, text, logprobs: null, finish_reason: finish }], usage: null })}\n\n`;
      for (let i = 0; i < maxTokens; i++) {
        await nextToken(paceMs);
        if (!res.write(chunk(TOKEN_TEXT, null))) await new Promise((r) => res.once("drain", r));
      }
      res.write(chunk("", "length"));
      res.end("data: [DONE]\n\n");
    });
  });
}

const { values } = parseArgs({
  options: {
    kind: { type: "string", default: "gateway" },
    // none: no limits; memory or redis: one key with limits too high to reach, so every request is checked and settled.
    limiter: { type: "string", default: "none" },
    "redis-url": { type: "string", default: "redis://127.0.0.1:6379" },
    "pace-ms": { type: "string", default: "0" },
  },
});
const LIMITED = { auth: { keys: [{ name: "bench", key: "sk-bench-limiter" }] }, rateLimit: { rpm: 1e9, tpm: 1e12 } };
const limiterSettings =
  values.limiter === "none" ? {} : { ...LIMITED, rateLimit: { ...LIMITED.rateLimit, redis: { url: values.limiter === "redis" ? values["redis-url"] : "", keyPrefix: `bench:${process.pid}:` } } };
if (values.kind === "bare") {
  const server = bareServer(Number(values["pace-ms"]));
  server.listen(0, "127.0.0.1", () => {
    const address = server.address() as { port: number };
    console.log(JSON.stringify({ url: `http://127.0.0.1:${address.port}/v1` }));
  });
} else {
  const app = await buildApp({ config: validateConfig({ request: { maxTokens: 1 << 20 }, ...limiterSettings }), models: new ModelRegistry([new InstantEngine(Number(values["pace-ms"]))]) });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const address = app.server.address() as { port: number };
  console.log(JSON.stringify({ url: `http://127.0.0.1:${address.port}/v1` }));
}
