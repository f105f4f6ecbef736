import { median, quantile, round } from "./stats.js";
import type { BenchRequest } from "./workloads.js";

export interface LoadOptions {
  baseURL: string;
  model: string;
  concurrency: number;
  requestsPerWorker: number;
  /** Stop starting new requests after this long (the run stays bounded in time). */
  maxSeconds: number;
  requestFor: (worker: number) => (i: number) => BenchRequest;
  onProgress?: (done: number, total: number) => void;
}

export interface RequestSample {
  ttftMs: number;
  e2eMs: number;
  tokens: number;
  cachedTokens: number;
  gapsMs: number[];
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
  const deadline = Date.now() + options.maxSeconds * 1000;
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  await Promise.all(
    Array.from({ length: options.concurrency }, async (_, worker) => {
      const next = options.requestFor(worker);
      for (let i = 0; i < options.requestsPerWorker && Date.now() < deadline; i++) {
        try {
          samples.push(await streamOne(options.baseURL, options.model, next(i)));
        } catch {
          errors++;
        }
        options.onProgress?.(samples.length + errors, total);
      }
    }),
  );
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

async function streamOne(baseURL: string, model: string, request: BenchRequest): Promise<RequestSample> {
  const sent = performance.now();
  const response = await fetch(`${baseURL}${request.path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model, ...request.body }),
  });
  if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
  let first = 0;
  let last = 0;
  let chunks = 0;
  let usage: { completion_tokens?: number; prompt_tokens_details?: { cached_tokens?: number } } | undefined;
  const gapsMs: number[] = [];
  let buffer = "";
  for await (const piece of response.body.pipeThrough(new TextDecoderStream())) {
    buffer += piece;
    let end: number;
    while ((end = buffer.indexOf("\n\n")) !== -1) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (!frame.startsWith("data: ") || frame === "data: [DONE]") continue;
      const chunk = JSON.parse(frame.slice(6));
      if (chunk.error) throw new Error(chunk.error.message);
      if (chunk.usage) usage = chunk.usage;
      const choice = chunk.choices?.[0];
      const text = choice?.text ?? choice?.delta?.content;
      if (!text) continue;
      const now = performance.now();
      if (chunks === 0) first = now;
      else gapsMs.push(now - last);
      last = now;
      chunks++;
    }
  }
  return {
    ttftMs: first - sent,
    e2eMs: performance.now() - sent,
    tokens: usage?.completion_tokens ?? chunks,
    cachedTokens: usage?.prompt_tokens_details?.cached_tokens ?? 0,
    gapsMs,
  };
}
