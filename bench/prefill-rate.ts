// Prompt-processing rate, the gateway against llama-server on the same GGUF, threads and native code
// (bench/gpu/llama-server.sh builds llama-server on node-llama-cpp's own libraries): one prompt at a time, of each
// --sizes tokens, unique (no cache), max_tokens 1, the time from sending to the answer; prompt tokens / seconds.
// Interleaved rounds; ratios within a round.
//   bash bench/gpu/llama-server.sh                       # once: ~12 min on 2 cores
//   npm run bench:prefill-rate -- --llama-server bench/gpu/llama-server-build/run-cpu/llama-server.sh --sizes 4000,16000
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { benchFlags } from "./cli.js";
import { round } from "./stats.js";
import { startGatewayProcess } from "./targets/gateway.js";
import { PROJECT_ROOT } from "../src/engine/model-file.js";

const flags = benchFlags("npm run bench:prefill-rate -- --llama-server PATH [--model PATH] [--sizes 4000,16000] [--rounds 2] [--threads 1] [--threads-batch 2] [--chunk-ms N: the gateway's engine.prefillChunkMs] [--label NAME]", {
  model: { type: "string", default: resolve(PROJECT_ROOT, "../shared/models/synthetic-llama-57M-random-Q8_0.gguf") },
  "llama-server": { type: "string", default: "" },
  sizes: { type: "string", default: "4000,16000" },
  rounds: { type: "string", default: "2" },
  threads: { type: "string", default: "1" },
  "threads-batch": { type: "string", default: "2" },
  "chunk-ms": { type: "string", default: "" },
  label: { type: "string", default: "" },
});
if (!flags["llama-server"]) throw new Error("--llama-server: the wrapper bench/gpu/llama-server.sh printed");
const sizes = flags.sizes.split(",").map(Number);
const ctxSize = Math.max(...sizes) + 256;
const model = flags.model.split("/").at(-1)!.replace(/\.gguf$/, "");

// The gateway: one slot, `threads` per context, prompt batches on up to `threads-batch` cores (engine.promptThreads).
const gateway = await startGatewayProcess([
  "--gpu", "off", "--model", flags.model, "--slots", "1", "--ctx-size", String(ctxSize), "--threads", flags.threads, "--prefix-cache", "false",
  "--config", writeConfig({ engine: { promptThreads: Number(flags["threads-batch"]), ...(flags["chunk-ms"] ? { prefillChunkMs: Number(flags["chunk-ms"]) } : {}) } }),
]);
const server = await startLlamaServer();

/** llama-server with the same context, threads, batch threads, flash attention and no prompt cache reuse. */
async function startLlamaServer(): Promise<{ url: string; process: ChildProcess }> {
  const port = 18000 + Math.floor(Math.random() * 1000);
  // The model's training context may be shorter than the longest prompt: llama-server caps a slot's context at it.
  const child = spawn(flags["llama-server"], [
    "-m", flags.model, "--port", String(port), "-np", "1", "-c", String(ctxSize), "-t", flags.threads, "-tb", flags["threads-batch"],
    "-fa", "on", "--cache-reuse", "0", "--no-warmup", "--override-kv", `llama.context_length=int:${ctxSize}`,
  ], { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr!.on("data", (chunk: Buffer) => (log = (log + chunk.toString()).slice(-4000)));
  const url = `http://127.0.0.1:${port}/v1`;
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null) throw new Error(`llama-server exited ${child.exitCode}: ${log}`);
    const ok = await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok).catch(() => false);
    if (ok) return { url, process: child };
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`llama-server did not start: ${log}`);
}

function writeConfig(settings: object): string {
  const dir = resolve(PROJECT_ROOT, "bench/results");
  mkdirSync(dir, { recursive: true });
  const file = resolve(dir, `prefill-rate-config.tmp`);
  writeFileSync(file, JSON.stringify(settings));
  return file;
}

/** One unique prompt of about `tokens` tokens (~21 per sentence with these models' vocabulary): its rate. */
async function measure(url: string, tokens: number, salt: string): Promise<{ promptTokens: number; seconds: number; rate: number }> {
  const prompt = `${salt} ` + "once upon a time there was a little dog who liked to run. ".repeat(Math.floor(tokens / 21));
  const started = performance.now();
  // Streamed: the headers come at once (fetch gives up waiting for headers after 300 s), the usage in the last chunk.
  const response = await fetch(`${url}/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model, prompt, max_tokens: 1, temperature: 0, stream: true, stream_options: { include_usage: true } }),
  });
  const text = await response.text();
  const seconds = (performance.now() - started) / 1000;
  const promptTokens = Number(/"prompt_tokens":(\d+)/.exec(text)?.[1]);
  if (!response.ok || !promptTokens) throw new Error(`${url} answered ${response.status}: ${text.slice(0, 300)}`);
  return { promptTokens, seconds: round(seconds, 2), rate: round(promptTokens / seconds, 1) };
}

const rows: { round: number; size: number; gateway: Awaited<ReturnType<typeof measure>>; llamaServer: Awaited<ReturnType<typeof measure>>; ratio: number }[] = [];
try {
  await measure(gateway.baseURL, 256, "warm-up");
  await measure(server.url, 256, "warm-up");
  for (let r = 1; r <= Number(flags.rounds); r++)
    for (const size of sizes) {
      // Alternate which goes first, so neither always meets a warmer machine.
      const first = r % 2 === 1;
      const a = await measure(first ? gateway.baseURL : server.url, size, `round ${r} a ${size}`);
      const b = await measure(first ? server.url : gateway.baseURL, size, `round ${r} b ${size}`);
      const [gw, ls] = first ? [a, b] : [b, a];
      rows.push({ round: r, size, gateway: gw, llamaServer: ls, ratio: round(gw.rate / ls.rate, 3) });
      console.log(`round ${r}, ${gw.promptTokens} tokens: gateway ${gw.rate} tok/s, llama-server ${ls.rate} tok/s, ratio ${round(gw.rate / ls.rate, 3)}`);
    }
} finally {
  server.process.kill("SIGTERM");
  await gateway.stop();
}

const stamp = new Date().toISOString().replace(/:/g, "-").replace(/\..*/, "");
const name = `${stamp}-prefill-rate-${model}${flags.label ? `-${flags.label}` : ""}`;
const lines = [
  `# Prompt-processing rate: gateway vs llama-server (${stamp})`,
  "",
  `- model: ${model}; threads ${flags.threads}, prompt batches on ${flags["threads-batch"]}; flash attention on; one slot; no cache${flags["chunk-ms"] ? `; gateway engine.prefillChunkMs ${flags["chunk-ms"]}` : ""}`,
  `- llama-server: ${flags["llama-server"]} (built from node-llama-cpp's bundled sources, on its libraries)`,
  "",
  "| round | prompt tokens | gateway tok/s | llama-server tok/s | gateway / llama-server |",
  "|---|---|---|---|---|",
  ...rows.map((row) => `| ${row.round} | ${row.gateway.promptTokens} | ${row.gateway.rate} | ${row.llamaServer.rate} | ${row.ratio} |`),
  "",
  // The machine's speed drifts between rounds (a shared host): the median of the rounds' ratios, and their spread.
  ...sizes.map((size) => {
    const ratios = rows.filter((row) => row.size === size).map((row) => row.ratio).sort((x, y) => x - y);
    const middle = ratios.length % 2 ? ratios[(ratios.length - 1) / 2]! : (ratios[ratios.length / 2 - 1]! + ratios[ratios.length / 2]!) / 2;
    return `- ${size} tokens: median ratio ${round(middle, 3)} over ${ratios.length} rounds (${ratios[0]}-${ratios.at(-1)})`;
  }),
];
writeFileSync(resolve(PROJECT_ROOT, "bench/results", `${name}.md`), `${lines.join("\n")}\n`);
writeFileSync(resolve(PROJECT_ROOT, "bench/results", `${name}.json`), JSON.stringify({ flags, rows }, null, 2));
console.log(lines.join("\n"));
