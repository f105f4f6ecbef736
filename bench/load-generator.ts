import { median, quantile, round } from "./stats.js";
import { openStreamClient, type RequestSample, type Transport } from "./stream-client.js";
import type { BenchRequest } from "./workloads.js";

export interface LoadOptions {
  baseURL: string;
  model: string;
  concurrency: number;
  requestsPerWorker: number;
  /** Stop starting new requests after this long (the run stays bounded in time). */
  maxSeconds: number;
  requestFor: (worker: number) => (i: number) => BenchRequest;
  /** SSE: one HTTP request per generation; ws: one socket per stream, opened before timing starts. */
  transport?: Transport;
  onProgress?: (done: number, total: number) => void;
}

export interface LoadResult {
  concurrency: number;
  requests: number;
  errors: number;
  wallSeconds: number;
  tokensPerSecond: number;
  requestsPerSecond: number;
  ttftMs: { p50: number; p90: number; p99: number };
  itlMs: { p50: number; p99: number };
  e2eMs: { p50: number; p99: number };
  cachedTokensMean: number;
  /** CPU cores the measuring process itself used on average (it shares the machine with the server). */
  clientCores: number;
}

/** N concurrent streaming conversations over the OpenAI API, loopback only, bounded in count and time. */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const samples: RequestSample[] = [];
  let errors = 0;
  const total = options.concurrency * options.requestsPerWorker;
  const clients = await Promise.all(Array.from({ length: options.concurrency }, () => openStreamClient(options.transport ?? "sse", options.baseURL)));
  const deadline = Date.now() + options.maxSeconds * 1000;
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  await Promise.all(
    clients.map(async (client, worker) => {
      const next = options.requestFor(worker);
      for (let i = 0; i < options.requestsPerWorker && Date.now() < deadline; i++) {
        const request = next(i);
        try {
          samples.push(await client.stream({ ...request, body: { model: options.model, ...request.body } }));
        } catch {
          errors++;
        }
        options.onProgress?.(samples.length + errors, total);
      }
    }),
  );
  for (const client of clients) client.close();
  const wallSeconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const tokens = samples.reduce((sum, s) => sum + s.tokens, 0);
  const ttft = samples.map((s) => s.ttftMs);
  const gaps = samples.flatMap((s) => s.gapsMs);
  const e2e = samples.map((s) => s.e2eMs);
  return {
    concurrency: options.concurrency,
    requests: samples.length,
    errors,
    wallSeconds: round(wallSeconds, 2),
    tokensPerSecond: round(tokens / wallSeconds),
    requestsPerSecond: round(samples.length / wallSeconds, 2),
    ttftMs: { p50: round(median(ttft)), p90: round(quantile(ttft, 0.9)), p99: round(quantile(ttft, 0.99)) },
    itlMs: { p50: round(median(gaps), 2), p99: round(quantile(gaps, 0.99), 2) },
    e2eMs: { p50: round(median(e2e)), p99: round(quantile(e2e, 0.99)) },
    cachedTokensMean: round(samples.reduce((sum, s) => sum + s.cachedTokens, 0) / Math.max(1, samples.length)),
    clientCores: round((cpu.user + cpu.system) / 1e6 / wallSeconds, 2),
  };
}


const WARM_UP_TOKENS = 4096; // in all, across the streams
const WARM_UP_TOKENS_PER_REQUEST = 256;
const WARM_UP_MAX_SECONDS = 4; // a slow model warms up on fewer tokens

/**
 * Load before the measured load, so allocation, first decodes and a cold JIT stay out of the figures: a freshly
 * started gateway streams ~35% fewer tokens/s on stories260K over its first couple of thousand tokens (measured).
 */
export async function warmUp(options: Pick<LoadOptions, "baseURL" | "model" | "transport" | "concurrency">): Promise<void> {
  const requestsPerWorker = Math.ceil(WARM_UP_TOKENS / (options.concurrency * WARM_UP_TOKENS_PER_REQUEST));
  const body = { prompt: "warm up", max_tokens: WARM_UP_TOKENS_PER_REQUEST, ignore_eos: true, stream: true };
  await runLoad({ ...options, requestsPerWorker, maxSeconds: WARM_UP_MAX_SECONDS, requestFor: () => () => ({ path: "/completions", body }) });
}
