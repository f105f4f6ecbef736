// The entry point of a model's engine process (see isolated-engine.ts): loads one model and runs the
// generations the gateway sends, streaming their events back. A native crash here ends this process
// only; the gateway answers the affected requests and starts a new one.
import pino from "pino";
import { generationFailed, reportInternalErrorsTo } from "../../errors.js";
import { LlamaEngine } from "../llama-engine.js";
import { loadLlamaRuntime } from "../llama-runtime.js";
import type { ModelEngine } from "../types.js";
import type { FromEngine, ToEngine, WireError } from "./protocol.js";

let engine: ModelEngine | undefined;
const running = new Map<number, AbortController>();
const STATS_INTERVAL_MS = 250;

// Messages go out in batches, one per turn of the event loop: under load, one IPC write carries the
// tokens of every running generation instead of one write per token.
let outbox: FromEngine[] = [];
function send(message: FromEngine): void {
  if (outbox.length === 0) setImmediate(flush);
  outbox.push(message);
}
function flush(): void {
  const batch = outbox;
  outbox = [];
  if (process.connected) process.send!(batch);
}

const sendStats = () => engine && send({ type: "stats", stats: engine.stats() });
setInterval(() => running.size > 0 && sendStats(), STATS_INTERVAL_MS).unref();

// This process logs through the gateway (llama.cpp's messages and its own), with their fields.
const nativeLog = pino({ level: "debug", base: {}, timestamp: false }, { write: (line: string) => forwardLog(line) });
function forwardLog(line: string): void {
  const { level, msg, ...fields } = JSON.parse(line) as { level: number; msg: string };
  send({ type: "log", level: level >= 50 ? "error" : level >= 40 ? "warn" : level >= 30 ? "info" : "debug", message: msg, fields });
}

reportInternalErrorsTo((error) => nativeLog.error({ err: (error as Error).message, stack: (error as Error).stack }, "engine operation failed"));

const toWire = (error: unknown): WireError => {
  const apiError = generationFailed(error);
  return { ...apiError.toData(), retryAfterMs: apiError.retryAfterMs };
};

async function run(id: number, message: Extract<ToEngine, { type: "start" }>): Promise<void> {
  const abort = new AbortController();
  running.set(id, abort);
  try {
    const generation = await engine!.start(message.request, abort.signal);
    const { promptTokens, cachedTokens, slot, queueWaitMs } = generation;
    send({ type: "started", id, promptTokens, cachedTokens, slot, queueWaitMs });
    sendStats();
    for await (const event of generation.events) send({ type: "event", id, event });
    send({ type: "end", id });
  } catch (error) {
    send({ type: "start-failed", id, error: toWire(error) });
  } finally {
    running.delete(id);
    sendStats();
  }
}

process.on("message", async (message: ToEngine) => {
  switch (message.type) {
    case "load":
      try {
        const llama = await loadLlamaRuntime(message.spec.config.engine, nativeLog);
        engine = await LlamaEngine.load({ llama, ...message.spec });
        send({ type: "loaded", description: engine.description });
        sendStats();
      } catch (error) {
        send({ type: "load-failed", message: (error as Error).message });
      }
      return;
    case "start":
      return void run(message.id, message);
    case "call": {
      const abort = new AbortController();
      running.set(message.id, abort);
      try {
        const value =
          message.method === "tokenize" ? await engine!.tokenize!(message.text, message.special)
          : message.method === "detokenize" ? await engine!.detokenize!(message.tokens, message.preceding)
          : message.method === "pieces" ? await engine!.pieces!(message.tokens)
          : message.method === "renderChat" ? await engine!.renderChat!(message.input, abort.signal)
          : await engine!.embed!(message.inputs, abort.signal);
        send({ type: "result", id: message.id, value });
      } catch (error) {
        send({ type: "call-failed", id: message.id, error: toWire(error) });
      } finally {
        running.delete(message.id);
      }
      return;
    }
    case "abort":
      return void running.get(message.id)?.abort(new Error("aborted by the gateway"));
    case "close":
      for (const abort of running.values()) abort.abort(new Error("engine closing"));
      await engine?.close();
      flush();
      process.exit(0);
  }
});
// The gateway went away without a word (even SIGKILL closes the IPC channel): nothing left to serve.
process.on("disconnect", () => process.exit(0));
// Only the gateway stops this process, with a "close" message once its in-flight generations drained. A
// terminal's Ctrl-C, systemd's KillMode=control-group and `kill -- -PGID` signal every process of the
// service; those signals are meant for the gateway.
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => {});
