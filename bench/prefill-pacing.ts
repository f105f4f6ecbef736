// What chunking a long prompt costs, in node-llama-cpp directly (no HTTP, no second server): the same prompt is
// evaluated with the gateway's pacer at each --chunk-ms (prefill.ts, tile-aware as the engine runs it) and in whole
// 512-token batches (what llama-server does, with nothing to look at between them), in rotating order each round
// (the machine's speed drifts). Prints each run's rate, its chunk sizes, and its rate over the batches' in its round.
//   npm run bench:prefill-pacing -- --tokens 15200 --chunk-ms 500,1000,2000 --rounds 2
import { getLlama } from "node-llama-cpp";
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { benchFlags } from "./cli.js";
import { tiledAttentionHeads, tileEfficiency } from "../src/engine/attention-tiles.js";
import { PROJECT_ROOT } from "../src/engine/model-file.js";
import { PrefillPacer, prefill } from "../src/engine/prefill.js";

const flags = benchFlags("npm run bench:prefill-pacing -- [--model PATH] [--tokens 15200] [--chunk-ms 500,1000,2000] [--min-chunk 128] [--rounds 2] [--threads 2]", {
  model: { type: "string", default: resolve(PROJECT_ROOT, "../shared/models/synthetic-llama-57M-random-Q8_0.gguf") },
  tokens: { type: "string", default: "15200" },
  "chunk-ms": { type: "string", default: "500,1000,2000" },
  "min-chunk": { type: "string", default: "128" },
  rounds: { type: "string", default: "2" },
  threads: { type: "string", default: "2" },
});
const count = Number(flags.tokens);
const threads = Number(flags.threads);
const BATCH = 512;
const llama = await getLlama({ gpu: false, build: "never" });
const model = await llama.loadModel({ modelPath: flags.model });
const context = await model.createContext({ contextSize: count + BATCH, batchSize: BATCH, flashAttention: true, threads, sequences: 1 });
const sequence = context.getSequence();
const tokens = model.tokenize("once upon a time there was a little dog who liked to run. ".repeat(Math.ceil(count / 12))).slice(0, count);
const heads = tiledAttentionHeads(model, true, true);

const variants = new Map<string, () => PrefillPacer>([[`batches of ${BATCH}`, () => new PrefillPacer(Number.MAX_SAFE_INTEGER, BATCH)]]);
for (const ms of flags["chunk-ms"].split(",").map(Number))
  variants.set(`chunks of ${ms} ms`, () => {
    const pacer = new PrefillPacer(ms, BATCH, 1, Number(flags["min-chunk"]));
    if (heads) pacer.efficiency = (size) => tileEfficiency(size, heads, threads);
    return pacer;
  });
const names = [...variants.keys()];
const rows: { round: number; name: string; rate: number; ratio?: number; chunks: Record<number, number> }[] = [];
for (let round = 1; round <= Number(flags.rounds); round++) {
  const batches: { rate?: number } = {};
  for (const name of names.map((_, i) => names[(i + round - 1) % names.length]!)) {
    await sequence.clearHistory();
    const pacer = variants.get(name)!();
    const chunks: Record<number, number> = {};
    const observe = pacer.observe.bind(pacer);
    pacer.observe = (size, ms) => {
      chunks[size] = (chunks[size] ?? 0) + 1;
      observe(size, ms);
    };
    const started = performance.now();
    await prefill(sequence, pacer, tokens, { signal: new AbortController().signal, all: true });
    const rate = Math.round((count / (performance.now() - started)) * 10_000) / 10;
    if (name === names[0]) batches.rate = rate;
    rows.push({ round, name, rate, chunks });
    console.log(JSON.stringify(rows.at(-1)));
  }
  for (const row of rows.filter((r) => r.round === round)) row.ratio = Math.round((row.rate / batches.rate!) * 1000) / 1000;
}
await context.dispose();
await model.dispose();

const stamp = new Date().toISOString().replace(/:/g, "-").replace(/\..*/, "");
const name = `${stamp}-prefill-pacing-${flags.model.split("/").at(-1)!.replace(/\.gguf$/, "")}`;
const lines = [
  `# A ${count}-token prompt in chunks against whole ${BATCH}-token batches (${stamp})`,
  "",
  `- model: ${flags.model.split("/").at(-1)}; ${threads} threads, flash attention on; ${heads ? `${heads} heads, chunk sizes that fill flash attention's tiles` : "no tiled attention"}; prefillMinChunk ${flags["min-chunk"]}`,
  "",
  "| round | evaluated in | tok/s | over the batches | chunk sizes (count) |",
  "|---|---|---|---|---|",
  ...rows.map((row) => `| ${row.round} | ${row.name} | ${row.rate} | ${row.ratio} | ${Object.entries(row.chunks).map(([size, n]) => `${size}: ${n}`).join(", ")} |`),
];
writeFileSync(resolve(PROJECT_ROOT, "bench/results", `${name}.md`), `${lines.join("\n")}\n`);
console.log(lines.join("\n"));
