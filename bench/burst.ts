// Requests that arrive together at an idle per-slot gateway: how soon each gets its first token. The first
// one's prompt may take the idle cores (engine.promptThreads); the others must not decode beside it on them.
//   npm run bench:burst -- --streams 4 --bursts 20
import { mkdirSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { benchFlags } from "./cli.js";
import { median, quantile, round } from "./stats.js";
import { startGatewayProcess } from "./targets/gateway.js";
import { PROJECT_ROOT } from "../src/engine/model-file.js";

const flags = benchFlags("npm run bench:burst -- [--model PATH] [--streams 4] [--bursts 20] [--prompt-words 4] [--pause-ms 300] [--flags '...'] [--label NAME]", {
  model: { type: "string", default: resolve(PROJECT_ROOT, "../shared/models/synthetic-llama-57M-random-Q8_0.gguf") },
  streams: { type: "string", default: "4" },
  bursts: { type: "string", default: "20" },
  "prompt-words": { type: "string", default: "4" },
  "pause-ms": { type: "string", default: "300" },
  flags: { type: "string", default: "" },
  label: { type: "string", default: "" },
});
const streams = Number(flags.streams);
const model = flags.model.split("/").at(-1)!.replace(/\.gguf$/, "");
const gateway = await startGatewayProcess(["--gpu", "off", "--layout", "per-slot", "--model", flags.model, "--slots", String(streams), "--ctx-size", "512", ...flags.flags.split(" ").filter(Boolean)]);

/** Milliseconds from sending to the first streamed token of one request (a unique prompt: no cache reuse). */
async function firstToken(index: number): Promise<number> {
  const started = performance.now();
  const words = Array.from({ length: Number(flags["prompt-words"]) }, (_, i) => `word${(index * 7919 + i * 31) % 997}`).join(" ");
  const response = await fetch(`${gateway.baseURL}/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model, prompt: `Story ${index}: ${words}`, max_tokens: 16, ignore_eos: true, stream: true }),
  });
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let first: number | undefined;
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) if (first === undefined && chunk.value.includes('"text":"')) first = performance.now() - started;
  return first ?? Number.NaN;
}

try {
  const firsts: number[] = []; // each request's time to first token
  const lasts: number[] = []; // each burst's slowest one
  for (let burst = 0; burst < Number(flags.bursts); burst++) {
    const times = await Promise.all(Array.from({ length: streams }, (_, i) => firstToken(burst * streams + i)));
    firsts.push(...times);
    lasts.push(Math.max(...times));
    await new Promise((r) => setTimeout(r, Number(flags["pause-ms"]))); // idle again
  }
  const result = {
    label: flags.label,
    model,
    streams,
    bursts: lasts.length,
    ttftMs: { p50: round(median(firsts)), p90: round(quantile(firsts, 0.9)), max: round(Math.max(...firsts)) },
    slowestOfBurstMs: { p50: round(median(lasts)), p90: round(quantile(lasts, 0.9)) },
  };
  console.log(JSON.stringify(result));
  const dir = resolve(PROJECT_ROOT, "bench/results");
  mkdirSync(dir, { recursive: true });
  writeFileSync(resolve(dir, `${new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19)}-burst${flags.label ? `-${flags.label}` : ""}.json`), `${JSON.stringify(result, null, 2)}\n`);
} finally {
  await gateway.stop();
}
