// What one prompt chunk costs by its size and its depth in the context, in node-llama-cpp directly (no gateway):
// the prompt is evaluated to each --depths in 512-token batches, then chunks of each size are evaluated there and
// erased again (best of two). Shows where chunk sizes stop paying: llama.cpp's CPU flash attention tiles 64 query
// rows at a time from 64 rows on, and goes row by row below.
//   npm run bench:prefill-chunks -- --depths 4000,12000 --threads 2
import { getLlama } from "node-llama-cpp";
import { resolve } from "node:path";
import { benchFlags } from "./cli.js";
import { PROJECT_ROOT } from "../src/engine/model-file.js";

const flags = benchFlags("npm run bench:prefill-chunks -- [--model PATH] [--depths 4000,12000] [--sizes 16,32,64,128,256,512] [--threads 2]", {
  model: { type: "string", default: resolve(PROJECT_ROOT, "../shared/models/synthetic-llama-57M-random-Q8_0.gguf") },
  depths: { type: "string", default: "4000,12000" },
  sizes: { type: "string", default: "16,32,64,128,256,512" },
  threads: { type: "string", default: "2" },
});
const depths = flags.depths.split(",").map(Number);
const sizes = flags.sizes.split(",").map(Number);
const llama = await getLlama({ gpu: false, build: "never" });
const model = await llama.loadModel({ modelPath: flags.model });
const context = await model.createContext({ contextSize: Math.max(...depths) + Math.max(...sizes) + 256, batchSize: 512, flashAttention: true, threads: Number(flags.threads), sequences: 1 });
const sequence = context.getSequence();
const tokens = model.tokenize("once upon a time there was a little dog who liked to run. ".repeat(Math.ceil((Math.max(...depths) + Math.max(...sizes)) / 12)));
let position = 0;
console.log("| depth | chunk tokens | ms | tokens/s |\n|---|---|---|---|");
for (const depth of depths) {
  for (; position < depth; position += Math.min(512, depth - position)) await sequence.evaluateWithoutGeneratingNewTokens(tokens.slice(position, position + Math.min(512, depth - position)));
  for (const size of sizes) {
    let best = Number.POSITIVE_INFINITY;
    for (let run = 0; run < 2; run++) {
      const started = performance.now();
      await sequence.evaluateWithoutGeneratingNewTokens(tokens.slice(position, position + size));
      best = Math.min(best, performance.now() - started);
      await sequence.eraseContextTokenRanges([{ start: position, end: position + size }]);
    }
    console.log(`| ${depth} | ${size} | ${best.toFixed(0)} | ${((size / best) * 1000).toFixed(0)} |`);
  }
}
await context.dispose();
await model.dispose();
