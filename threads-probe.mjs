import { getLlama } from "node-llama-cpp";
const [modelPath, mode, maxThreads] = process.argv.slice(2);
const llama = await getLlama({ gpu: false, build: "never", ...(maxThreads ? { maxThreads: Number(maxThreads) } : {}) });
const model = await llama.loadModel({ modelPath });
const threads = mode === "split" ? { ideal: 2, min: 1 } : Number(mode);
const context = await model.createContext({ contextSize: 2048, threads, flashAttention: true });
const seq = context.getSequence();
const words = "the little fox saw a big red ball in the park and ran to play with her friend under a tall green tree".split(" ");
let text = ""; let x = 7; for (let i = 0; i < 1400; i++) { x = (x * 1103515245 + 12345) >>> 0; text += words[x % words.length] + " "; }
const tokens = model.tokenize(text).slice(0, 1752);
const results = [];
for (let r = 0; r < 2; r++) {
  await seq.clearHistory();
  const t0 = performance.now();
  let first = 0, n = 0;
  for await (const tok of seq.evaluate(tokens, { temperature: 0 })) { if (n === 0) first = performance.now() - t0; if (++n >= 64) break; }
  const gen = (performance.now() - t0 - first) / 63;
  results.push({ ttftMs: Math.round(first), msPerToken: gen.toFixed(2) });
}
console.log(JSON.stringify({ mode, maxThreads, tokens: tokens.length, results }));
process.exit(0);
