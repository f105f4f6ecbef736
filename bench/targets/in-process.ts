import { getLlama, type LlamaContextSequence, type Token } from "node-llama-cpp";
import { median, quantile, round } from "../stats.js";
import { fillerText } from "../workloads.js";
import type { LoadResult } from "../load-generator.js";
import { relaunchedWithThreadpool, workerPoolSize, type PoolSettings } from "../../src/engine/worker-pool.js";

/**
 * node-llama-cpp driven in-process decodes on this process's libuv pool: a bench that runs it first runs itself
 * again, if needed, with the pool the gateway gives an engine process of the same shape (src/engine/worker-pool.ts),
 * which also measured best in-process. Call it before anything else; it never returns in the relaunching process.
 */
export async function poolLikeTheGateway(settings: Omit<PoolSettings, "workerThreads">): Promise<void> {
  if (relaunchedWithThreadpool(workerPoolSize({ ...settings, workerThreads: 0 }))) await new Promise(() => {});
}

export interface InProcessOptions {
  modelPath: string;
  layout: "batched" | "per-slot";
  concurrency: number;
  requestsPerWorker: number;
  promptWords: number;
  maxTokens: number;
  ctxSize: number;
  threads: number;
  /** The backend: off (CPU) or a GPU backend name. */
  gpu?: string;
  /** Called as the measured window opens and closes (after loading, before disposing). */
  onWindow?: (edge: "start" | "end") => void;
}

/**
 * node-llama-cpp driven directly, no HTTP: the same layout, sequences and thread count as the gateway.
 * The upper bound for the gateway's own overhead.
 */
export async function runInProcess(options: InProcessOptions): Promise<LoadResult> {
  const gpu = !options.gpu || options.gpu === "off" ? false : (options.gpu as "auto" | "cuda" | "vulkan" | "metal");
  const llama = await getLlama({ gpu, build: "never", logLevel: "error" as never });
  const model = await llama.loadModel({ modelPath: options.modelPath, ...(gpu === false ? {} : { gpuLayers: "max" as const }) });
  const contextCount = options.layout === "batched" ? 1 : options.concurrency;
  const contexts = await Promise.all(
    Array.from({ length: contextCount }, () =>
      model.createContext({ sequences: options.layout === "batched" ? options.concurrency : 1, contextSize: options.ctxSize, threads: options.threads, flashAttention: true }),
    ),
  );
  const sequences: LlamaContextSequence[] = contexts.flatMap((c) => Array.from({ length: c.totalSequences }, () => c.getSequence()));
  const ttft: number[] = [];
  const gaps: number[] = [];
  const e2e: number[] = [];
  let tokens = 0;
  options.onWindow?.("start");
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  await Promise.all(
    sequences.map(async (sequence, worker) => {
      for (let i = 0; i < options.requestsPerWorker; i++) {
        await sequence.clearHistory();
        const prompt = [model.tokens.bos!, ...model.tokenize(fillerText(options.promptWords, worker * 10_000 + i))] as Token[];
        const sent = performance.now();
        let last = sent;
        let count = 0;
        for await (const _token of sequence.evaluate(prompt, { temperature: 0, yieldEogToken: true })) {
          const now = performance.now();
          if (count === 0) ttft.push(now - sent);
          else gaps.push(now - last);
          last = now;
          if (++count >= options.maxTokens) break;
        }
        tokens += count;
        e2e.push(performance.now() - sent);
      }
    }),
  );
  const wallSeconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  options.onWindow?.("end");
  await llama.dispose();
  const requests = options.concurrency * options.requestsPerWorker;
  return {
    concurrency: options.concurrency,
    requests,
    errors: 0,
    wallSeconds: round(wallSeconds, 2),
    tokensPerSecond: round(tokens / wallSeconds),
    requestsPerSecond: round(requests / wallSeconds, 2),
    ttftMs: { p50: round(median(ttft)), p90: round(quantile(ttft, 0.9)), p99: round(quantile(ttft, 0.99)) },
    itlMs: { p50: round(median(gaps), 2), p99: round(quantile(gaps, 0.99), 2) },
    e2eMs: { p50: round(median(e2e)), p99: round(quantile(e2e, 0.99)) },
    cachedTokensMean: 0,
    clientCores: round((cpu.user + cpu.system) / 1e6 / wallSeconds, 2), // here the client is the engine itself
  };
}
