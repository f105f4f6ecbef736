// npm run bench:redis-stall: four clients of 1-token completions against the built gateway with Redis limits
// (failOpen), Redis frozen with SIGSTOP for a while midway: requests and latency before, during and after.
import { mkdirSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { PROJECT_ROOT } from "../src/engine/model-file.js";
import { OwnRedis } from "../test/helpers/redis.js";
import { benchContext } from "./context.js";
import { median, round } from "./stats.js";
import { startGatewayProcess } from "./targets/gateway.js";

const PHASES = [
  { name: "before", seconds: 2 },
  { name: "Redis frozen", seconds: 5 },
  { name: "after", seconds: 3.5 },
] as const;
const KEY = "sk-stall-bench-0123456789";

const redis = await OwnRedis.start();
const gateway = await startGatewayProcess(["--model", resolve(PROJECT_ROOT, "../shared/models/stories260K.gguf"), "--slots", "4", "--gpu", "off", "--redis-url", redis.url, "--rate-limit-rpm", "1000000"], { API_KEYS: `bench:${KEY}` });
const samples: { phase: string; ms: number; status: number }[] = [];
let phase: string = PHASES[0].name;
let running = true;
const clients = Array.from({ length: 4 }, async () => {
  while (running) {
    const started = performance.now();
    const response = await fetch(`${gateway.baseURL}/completions`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` }, body: JSON.stringify({ model: "stories260K", prompt: "Hi", max_tokens: 1 }) });
    await response.text();
    samples.push({ phase, ms: performance.now() - started, status: response.status });
  }
});
for (const { name, seconds } of PHASES) {
  phase = name;
  if (name === "Redis frozen") redis.freeze();
  if (name === "after") redis.thaw();
  await new Promise((r) => setTimeout(r, seconds * 1000));
}
running = false;
await Promise.all(clients);
await gateway.stop();
await redis.kill();

const { machine, commit, stamp } = benchContext();
const rows = PHASES.map(({ name, seconds }) => {
  const inPhase = samples.filter((s) => s.phase === name);
  const ms = inPhase.map((s) => s.ms);
  return `| ${name} | ${inPhase.length} in ${seconds} s | ${round(median(ms))} / ${round(Math.max(...ms))} ms | ${inPhase.filter((s) => s.status >= 500).length} |`;
});
const markdown = [`# Redis stall (${stamp})`, "", `- machine: ${machine}`, `- commit: ${commit}`, "- 4 clients, 1-token completions on stories260K, Redis limits with failOpen, Redis frozen with SIGSTOP in the middle phase", "", "| phase | requests | latency p50 / max | 5xx |", "|---|---|---|---|", ...rows].join("\n");
const dir = resolve(PROJECT_ROOT, "bench/results");
mkdirSync(dir, { recursive: true });
writeFileSync(resolve(dir, `${stamp}-redis-stall.md`), `${markdown}\n`);
console.log(markdown);
