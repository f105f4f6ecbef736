// npm run bench:fairness: two API keys on 2 slots. Key A keeps 16 streams open continuously; key B sends one
// request at a time. B's queue wait and time to first token, A's tokens/s and slot use, under queue.policy
// fifo and fair, side by side in one run (and A alone, for its throughput without B).
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { PROJECT_ROOT } from "../src/engine/model-file.js";
import { benchContext } from "./context.js";
import { median, quantile, round } from "./stats.js";
import { openStreamClient } from "./stream-client.js";
import { startGatewayProcess } from "./targets/gateway.js";
import { benchFlags } from "./cli.js";

const values = benchFlags("npm run bench:fairness -- [--model path.gguf] [--seconds 20] [--max-tokens 128] [--name fairness]", {
  model: { type: "string", default: resolve(PROJECT_ROOT, "../shared/models/stories260K.gguf") },
  seconds: { type: "string", default: "20" },
  "max-tokens": { type: "string", default: "128" },
  name: { type: "string", default: "fairness" },
});
const seconds = Number(values.seconds);
const maxTokens = Number(values["max-tokens"]);
const model = basename(values.model).replace(/\.gguf$/i, "");
const KEYS = { a: "sk-bench-a-0123456789", b: "sk-bench-b-0123456789" };

interface Row {
  setup: string;
  bRequests: number;
  bQueueWaitMs: number;
  bTtftMs: { p50: number; p99: number };
  aTokensPerSecond: number;
  totalTokensPerSecond: number;
  slotsBusyShare: number;
}

async function measure(policy: "fifo" | "fair", withB: boolean): Promise<Row> {
  const config = join(mkdtempSync(join(tmpdir(), "fair-")), "config.yaml");
  writeFileSync(config, `queue:\n  policy: ${policy}\n  maxRequests: 64\n`);
  const gateway = await startGatewayProcess(["--config", config, "--model", values.model, "--slots", "2", "--ctx-size", "512", "--gpu", "off"], { API_KEYS: `a:${KEYS.a},b:${KEYS.b}` });
  const metricsURL = `${gateway.baseURL.replace(/\/v1$/, "")}/metrics`;
  const body = { model, prompt: "Once upon a time", max_tokens: maxTokens, ignore_eos: true, temperature: 0, stream: true, stream_options: { include_usage: true } };
  const deadline = Date.now() + seconds * 1000;
  let aTokens = 0;
  let bTokens = 0;
  const bTtft: number[] = [];
  const busy: number[] = [];
  const sampler = setInterval(async () => {
    const text = await (await fetch(metricsURL)).text().catch(() => "");
    const match = text.match(/^llm_gateway_slots_busy\{[^}]*\} (\S+)$/m);
    if (match) busy.push(Number(match[1]) / 2);
  }, 250);
  const loop = async (key: string, count: (tokens: number, ttft: number) => void) => {
    const client = await openStreamClient("sse", gateway.baseURL, { authorization: `Bearer ${key}` });
    while (Date.now() < deadline) {
      const sample = await client.stream({ path: "/completions", body }).catch(() => undefined);
      if (sample) count(sample.tokens, sample.ttftMs);
    }
  };
  const started = performance.now();
  await Promise.all([
    ...Array.from({ length: 16 }, () => loop(KEYS.a, (tokens) => (aTokens += tokens))),
    ...(withB ? [loop(KEYS.b, (tokens, ttft) => ((bTokens += tokens), bTtft.push(ttft)))] : []),
  ]);
  const wall = (performance.now() - started) / 1000;
  clearInterval(sampler);
  const metrics = await (await fetch(metricsURL)).text();
  await gateway.stop();
  // B's queue wait from the gateway's own histogram: its mean and bucket-estimated quantiles are too coarse, so
  // B's TTFT (queue wait + prompt) is the client-side figure; the histogram's sum/count gives B's mean wait.
  const waitSum = Number(metrics.match(/^llm_gateway_queue_wait_seconds_sum\{[^}]*key="b"[^}]*\} (\S+)$/m)?.[1] ?? 0);
  const waitCount = Number(metrics.match(/^llm_gateway_queue_wait_seconds_count\{[^}]*key="b"[^}]*\} (\S+)$/m)?.[1] ?? 0);
  return {
    setup: withB ? `${policy}, A + B` : `${policy}, A alone`,
    bRequests: bTtft.length,
    bQueueWaitMs: round(waitCount ? (waitSum / waitCount) * 1000 : 0),
    bTtftMs: { p50: round(median(bTtft)), p99: round(quantile(bTtft, 0.99)) },
    aTokensPerSecond: round(aTokens / wall),
    totalTokensPerSecond: round((aTokens + bTokens) / wall),
    slotsBusyShare: round(busy.reduce((s, v) => s + v, 0) / Math.max(1, busy.length), 2),
  };
}

const rows: Row[] = [];
for (const [policy, withB] of [["fifo", false], ["fifo", true], ["fair", true]] as const) {
  const row = await measure(policy, withB);
  rows.push(row);
  process.stderr.write(`${row.setup}: B TTFT p50 ${row.bTtftMs.p50} ms, A ${row.aTokensPerSecond} tok/s\n`);
}
const { machine, commit, stamp } = benchContext();
const markdown = [
  `# Fair scheduling ${values.name} (${stamp})`,
  "",
  `- machine: ${machine}`,
  `- commit: ${commit}`,
  `- ${model}, 2 slots, ${maxTokens} tokens per request, ${seconds} s per setup; key A: 16 streams continuously; key B: one request at a time`,
  "",
  "| setup | B requests | B mean queue wait ms | B TTFT p50 / p99 ms | A tok/s | total tok/s | slots busy |",
  "|---|---|---|---|---|---|---|",
  ...rows.map((r) => `| ${r.setup} | ${r.bRequests} | ${r.bQueueWaitMs} | ${r.bTtftMs.p50} / ${r.bTtftMs.p99} | ${r.aTokensPerSecond} | ${r.totalTokensPerSecond} | ${r.slotsBusyShare} |`),
].join("\n");
const dir = resolve(PROJECT_ROOT, "bench/results");
mkdirSync(dir, { recursive: true });
writeFileSync(resolve(dir, `${stamp}-${values.name}.md`), `${markdown}\n`);
console.log(markdown);
