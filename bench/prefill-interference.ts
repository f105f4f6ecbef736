// What one long prompt does to the streams already running beside it: N streams generate, then a prompt of
// --prompt-tokens is sent on a slot of its own; the streams' inter-token gaps (ITL) are compared before and
// while it is evaluated. Also how long the prompt took (prompt tokens/s) and how soon its slot was free
// after its client left at --abort-after-ms (0: the prompt runs to its end).
//   npm run bench:prefill -- --model ../shared/models/synthetic-llama-57M-random-Q8_0.gguf --prompt-tokens 16000
import { writeFileSync, mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { benchFlags } from "./cli.js";
import { quantile, round } from "./stats.js";
import { startGatewayProcess } from "./targets/gateway.js";
import { PROJECT_ROOT } from "../src/engine/model-file.js";

const flags = benchFlags("npm run bench:prefill -- [--model PATH] [--streams 4] [--prompt-tokens 16000] [--baseline-ms 5000] [--abort-after-ms 0] [--threads 1] [--flags '...'] [--label NAME]", {
  model: { type: "string", default: resolve(PROJECT_ROOT, "../shared/models/synthetic-llama-57M-random-Q8_0.gguf") },
  streams: { type: "string", default: "4" },
  "prompt-tokens": { type: "string", default: "16000" },
  "baseline-ms": { type: "string", default: "5000" },
  "abort-after-ms": { type: "string", default: "0" },
  threads: { type: "string", default: "1" },
  flags: { type: "string", default: "" },
  label: { type: "string", default: "" },
});
const streams = Number(flags.streams);
const promptTokens = Number(flags["prompt-tokens"]);
const abortAfterMs = Number(flags["abort-after-ms"]);
const model = flags.model.split("/").at(-1)!.replace(/\.gguf$/, "");
const ctxSize = promptTokens + 512;

const gateway = await startGatewayProcess([
  "--gpu", "off", "--model", flags.model, "--slots", String(streams + 1), "--ctx-size", String(ctxSize), "--threads", flags.threads,
  ...flags.flags.split(" ").filter(Boolean),
]);
const url = gateway.baseURL;

/** Arrival times of every streamed chunk of one client, which streams 1,024-token answers one after another until `stop` aborts. */
async function runStream(stop: AbortSignal, arrivals: number[]): Promise<void> {
  while (!stop.aborted) {
    try {
      const response = await fetch(`${url}/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model, prompt: "Once upon a time", max_tokens: 1_024, ignore_eos: true, stream: true }),
        signal: stop,
      });
      if (!response.ok) throw new Error(`stream answered ${response.status}: ${await response.text()}`);
      const reader = response.body!.getReader();
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) arrivals.push(performance.now());
      arrivals.push(Number.NaN); // a new answer: no gap across the two
    } catch (error) {
      if (!stop.aborted) throw error;
    }
  }
}

const gaps = (arrivals: number[][], from: number, to: number) =>
  arrivals.flatMap((times) => times.slice(1).flatMap((t, i) => (t >= from && t < to && !Number.isNaN(times[i]!) ? [t - times[i]!] : [])));
const summary = (values: number[]) => ({ gaps: values.length, p50: round(quantile(values, 0.5), 2), p99: round(quantile(values, 0.99), 2), max: round(values.reduce((a, b) => Math.max(a, b), Number.NEGATIVE_INFINITY), 1) }); // no spread: tens of thousands of gaps

try {
  const stop = new AbortController();
  const arrivals = Array.from({ length: streams }, () => [] as number[]);
  const running = arrivals.map((times) => runStream(stop.signal, times));
  await new Promise((r) => setTimeout(r, 1_000)); // warmed up
  const baselineStart = performance.now();
  await new Promise((r) => setTimeout(r, Number(flags["baseline-ms"])));
  const prefillStart = performance.now();
  const abort = new AbortController();
  // ~21 tokens per sentence with these models' vocabulary.
  const prompt = "once upon a time there was a little dog who liked to run. ".repeat(Math.floor(promptTokens / 21));
  // Streamed: the headers come at once (fetch gives up on headers after 300 s), the usage in the last chunk.
  const long = fetch(`${url}/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model, prompt, max_tokens: 1, stream: true, stream_options: { include_usage: true } }),
    signal: abort.signal,
  }).then(async (r) => {
    const match = (await r.text()).match(/"prompt_tokens":(\d+)/);
    return match ? { usage: { prompt_tokens: Number(match[1]) } } : undefined;
  }).catch(() => undefined);
  let freedMs: number | undefined;
  if (abortAfterMs > 0) {
    await new Promise((r) => setTimeout(r, abortAfterMs));
    abort.abort();
    const aborted = performance.now();
    // The slot is free when a request for it (every other slot is streaming) starts at once.
    await fetch(`${url}/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model, prompt: "Hi", max_tokens: 1 }) });
    freedMs = performance.now() - aborted;
  }
  const answer = await long;
  const prefillEnd = performance.now();
  stop.abort();
  await Promise.all(running);
  const result = {
    label: flags.label,
    model,
    streams,
    promptTokens: answer?.usage?.prompt_tokens ?? promptTokens,
    prefillSeconds: round((prefillEnd - prefillStart) / 1000, 2),
    promptTokensPerSecond: answer?.usage ? round(answer.usage.prompt_tokens / ((prefillEnd - prefillStart) / 1000), 0) : undefined,
    freedAfterAbortMs: freedMs === undefined ? undefined : round(freedMs, 0),
    itlBefore: summary(gaps(arrivals, baselineStart, prefillStart)),
    itlDuring: summary(gaps(arrivals, prefillStart, prefillEnd)),
  };
  console.log(JSON.stringify(result, null, 2));
  const dir = resolve(PROJECT_ROOT, "bench/results");
  mkdirSync(dir, { recursive: true });
  writeFileSync(resolve(dir, `${new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19)}-prefill-interference${flags.label ? `-${flags.label}` : ""}.json`), `${JSON.stringify(result, null, 2)}\n`);
} finally {
  await gateway.stop();
}
