import { mkdirSync, writeFileSync } from "node:fs";
import { basename, resolve } from "node:path";
import { PROJECT_ROOT } from "../src/engine/model-file.js";
import { benchContext } from "./context.js";
import { runLoad, warmUp, type LoadResult } from "./load-generator.js";
import { markdownTable, svgChart, type BenchPoint } from "./report.js";
import { startGatewayProcess } from "./targets/gateway.js";
import { poolLikeTheGateway, runInProcess } from "./targets/in-process.js";
import { workload, type WorkloadName } from "./workloads.js";
import { benchFlags } from "./cli.js";

const USAGE = `npm run bench -- [options]
  --model <path>          GGUF to serve (default ../shared/models/synthetic-llama-57M-random-Q8_0.gguf)
  --targets <list>        comma-separated: gateway (SSE; each model in its engine process), gateway-ws (the same
                          over /v1/ws), gateway-inproc (engine in the gateway's process, --isolation none),
                          gateway-first-come (the batched layout without batch filling, --batch-strategy first-come),
                          in-process, or NAME=URL for a running OpenAI server
                          (e.g. llama-server=http://127.0.0.1:8081/v1, started with the same GGUF, -np and -c)
  --concurrency <list>    streams, e.g. 1,2,4,8,16 (the gateway runs slots = streams)
  --requests <n>          requests per stream (default 4)
  --max-tokens <n>        generated tokens per request, EOS ignored (default 128)
  --prompt-words <n>      prompt length in words (default 32)
  --workload <name>       unique | multiturn | shared-prefix | grounded (default unique; grounded: the answer copies the prompt)
  --speculative <mode>    gateway's engine.speculative: off | lookup | draft (default off)
  --gpu <backend>         off | vulkan | cuda | metal | auto, for the gateway and in-process alike (default off)
  --draft-model <path>    draft model for --speculative draft (default ../shared/models/stories260K.gguf)
  --layout <name>         per-slot | batched (gateway and in-process; default per-slot)
  --threads <n>           threads per context (default 1)
  --prompt-threads <n>    gateway's engine.promptThreads: threads a prompt batch may take from idle cores (default 0 = all; 1 = off)
  --ctx-size <n>          tokens per slot (default 1024)
  --max-seconds <n>       stop starting requests after this long, per point (default 120)
  --prefix-cache <bool>   gateway's engine.prefixCache (default true)
  --rounds <n>            repeat the whole matrix, interleaved, and report each point's median run (default 1)
  --name <label>          results file name (default: workload-layout)`;

const values = benchFlags(USAGE, {
  model: { type: "string", default: resolve(PROJECT_ROOT, "../shared/models/synthetic-llama-57M-random-Q8_0.gguf") },
  targets: { type: "string", default: "gateway,in-process" },
  concurrency: { type: "string", default: "1,2,4,8" },
  requests: { type: "string", default: "4" },
  "max-tokens": { type: "string", default: "128" },
  "prompt-words": { type: "string", default: "32" },
  workload: { type: "string", default: "unique" },
  speculative: { type: "string", default: "off" },
  gpu: { type: "string", default: "off" },
  "draft-model": { type: "string", default: resolve(PROJECT_ROOT, "../shared/models/stories260K.gguf") },
  layout: { type: "string", default: "per-slot" },
  threads: { type: "string", default: "1" },
  "prompt-threads": { type: "string", default: "0" },
  "ctx-size": { type: "string", default: "1024" },
  "max-seconds": { type: "string", default: "120" },
  rounds: { type: "string", default: "1" },
  "prefix-cache": { type: "string", default: "true" },
  name: { type: "string" },
});

const modelPath = resolve(values.model);
const levels = values.concurrency.split(",").map(Number);
const requestsPerWorker = Number(values.requests);
const maxTokens = Number(values["max-tokens"]);
const promptWords = Number(values["prompt-words"]);
const workloadName = values.workload as WorkloadName;
const layout = values.layout as "batched" | "per-slot";
const threads = Number(values.threads);
const ctxSize = Number(values["ctx-size"]);
const maxSeconds = Number(values["max-seconds"]);
const targets = values.targets.split(",").map((t) => t.trim());
await poolLikeTheGateway({ layout, slots: Math.max(...levels), threads });

async function measure(target: string, concurrency: number): Promise<LoadResult> {
  if (target === "in-process") {
    if (workloadName !== "unique") throw new Error("the in-process target runs the unique workload only");
    return runInProcess({ modelPath, layout, concurrency, requestsPerWorker, promptWords, maxTokens, ctxSize, threads, gpu: values.gpu });
  }
  const external = target.includes("=") ? target.slice(target.indexOf("=") + 1) : undefined;
  const gateway = external
    ? undefined
    : await startGatewayProcess(["--isolation", target === "gateway-inproc" ? "none" : "process", "--model", modelPath, "--slots", String(concurrency), "--threads", String(threads), "--prompt-threads", values["prompt-threads"], "--ctx-size", String(ctxSize), "--layout", layout, "--gpu", values.gpu, "--prefix-cache", values["prefix-cache"], "--batch-strategy", target === "gateway-first-come" ? "first-come" : "fill", "--speculative", values.speculative, "--draft-model", values["draft-model"]]);
  const baseURL = external ?? gateway!.baseURL;
  const model = external ? "default" : basename(modelPath).replace(/\.gguf$/i, "");
  const transport = target === "gateway-ws" ? "ws" : "sse";
  try {
    await warmUp({ baseURL, model, transport, concurrency });
    return await runLoad({
      baseURL,
      model,
      transport,
      concurrency,
      requestsPerWorker,
      maxSeconds,
      requestFor: (worker) => workload(workloadName, worker, { promptWords, maxTokens }),
      onProgress: (done, total) => process.stderr.write(`\r  ${target} × ${concurrency}: ${done}/${total} requests   `),
    });
  } finally {
    await gateway?.stop();
  }
}

// Rounds interleave targets and levels, so drift on a shared machine hits every target alike.
const runs = new Map<string, LoadResult[]>();
const rounds = Number(values.rounds);
for (let round = 1; round <= rounds; round++) {
  for (const concurrency of levels) {
    for (const target of targets) {
      process.stderr.write(`\r  [${round}/${rounds}] ${target} × ${concurrency}: starting…          `);
      const result = await measure(target, concurrency);
      const key = `${target.split("=")[0]}\u0000${concurrency}`;
      runs.set(key, [...(runs.get(key) ?? []), result]);
      process.stderr.write(`\r  [${round}/${rounds}] ${target} × ${concurrency}: ${result.tokensPerSecond} tok/s, TTFT p50 ${result.ttftMs.p50} ms, ${result.errors} errors\n`);
    }
  }
}
const points: BenchPoint[] = [...runs].map(([key, results]) => {
  const sorted = [...results].sort((a, b) => a.tokensPerSecond - b.tokensPerSecond);
  return { target: key.split("\u0000")[0]!, result: sorted[Math.floor((sorted.length - 1) / 2)]!, allTokensPerSecond: results.map((r) => r.tokensPerSecond) };
});

const { machine, commit, stamp } = benchContext();
const settings = { model: basename(modelPath), workload: workloadName, speculative: values.speculative, gpu: values.gpu, layout, threads, promptThreads: Number(values["prompt-threads"]), ctxSize, maxTokens, promptWords, requestsPerWorker, levels, targets, rounds, prefixCache: values["prefix-cache"] };
const name = values.name ?? `${workloadName}-${layout}`;
const dir = resolve(PROJECT_ROOT, "bench/results");
mkdirSync(dir, { recursive: true });
const title = `${settings.model} · ${workloadName} · ${layout} · ${maxTokens} tok/req · commit ${commit}`;
const markdown = `# Benchmark ${name} (${stamp})\n\n- machine: ${machine}\n- commit: ${commit}\n- settings: \`${JSON.stringify(settings)}\`\n\n${markdownTable(points)}\n\n![chart](${stamp}-${name}.svg)\n`;
writeFileSync(resolve(dir, `${stamp}-${name}.md`), markdown);
writeFileSync(resolve(dir, `${stamp}-${name}.svg`), svgChart(points, title));
writeFileSync(resolve(dir, `${stamp}-${name}.json`), JSON.stringify({ machine, commit, settings, points }, null, 2));
console.log(markdown);
