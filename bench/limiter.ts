// What the rate limiter costs: requests/s of a cheap request (a 1-token completion on an engine that
// needs no model) with no limiter, the in-memory one and the Redis one, interleaved in one run, and
// the Redis calls each request makes.
import { mkdirSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { Redis } from "ioredis";
import { PROJECT_ROOT } from "../src/engine/model-file.js";
import { median, round } from "./stats.js";
import { startInstantServer } from "./targets/instant-server.js";
import { benchFlags } from "./cli.js";

const values = benchFlags("npm run bench:limiter -- [--concurrency 8] [--seconds 5] [--rounds 3] [--redis-url redis://127.0.0.1:6379]", {
  concurrency: { type: "string", default: "8" },
  seconds: { type: "string", default: "5" },
  rounds: { type: "string", default: "3" },
  "redis-url": { type: "string", default: process.env.REDIS_URL ?? "redis://127.0.0.1:6379" },
});
const concurrency = Number(values.concurrency);
const seconds = Number(values.seconds);
const redisUrl = values["redis-url"];

async function requestsPerSecond(url: string, durationMs: number): Promise<{ rps: number; requests: number; errors: number }> {
  let requests = 0;
  let errors = 0;
  const deadline = Date.now() + durationMs;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < deadline) {
        const response = await fetch(`${url}/completions`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: "Bearer sk-bench-limiter" },
          body: JSON.stringify({ model: "instant", prompt: "x", max_tokens: 1 }),
        });
        await response.arrayBuffer();
        if (response.ok) requests++;
        else errors++;
      }
    }),
  );
  return { rps: requests / ((performance.now() - started) / 1000), requests, errors };
}

const redis = new Redis(redisUrl);
async function scriptCalls(): Promise<number> {
  const stats = await redis.info("commandstats");
  return [...stats.matchAll(/cmdstat_(?:evalsha|eval):calls=(\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
}

const limiters = ["none", "memory", "redis"] as const;
const rates: Record<string, number[]> = { none: [], memory: [], redis: [] };
let callsPerRequest = 0;
for (let r = 1; r <= Number(values.rounds); r++) {
  for (const limiter of limiters) {
    const server = await startInstantServer(["--kind", "gateway", "--limiter", limiter, "--redis-url", redisUrl]);
    try {
      await requestsPerSecond(server.url, 500); // warm up
      const before = await scriptCalls();
      const result = await requestsPerSecond(server.url, seconds * 1000);
      if (limiter === "redis") callsPerRequest = ((await scriptCalls()) - before) / result.requests;
      rates[limiter]!.push(result.rps);
      process.stderr.write(`[${r}] ${limiter}: ${round(result.rps)} req/s, ${result.errors} errors\n`);
    } finally {
      server.stop();
    }
  }
}
redis.disconnect();

const none = median(rates.none!);
const rows = limiters.map((l) => `| ${l} | ${round(median(rates[l]!))} | ${rates[l]!.map((x) => round(x)).join(", ")} | ${round(median(rates[l]!) / none, 3)} |`);
const markdown = [
  `# Rate limiter cost (${new Date().toISOString()})`,
  "",
  `1-token non-streamed completions on an instant engine, ${concurrency} concurrent clients, ${seconds} s per run, medians of ${values.rounds} interleaved rounds.`,
  "The limited runs check and settle one key's requests-per-minute and tokens-per-minute buckets on every request.",
  "",
  "| limiter | req/s (median) | all rounds | / no limiter |",
  "|---|---|---|---|",
  ...rows,
  "",
  `Redis script calls per request: ${round(callsPerRequest, 2)} (settlements of the real token count ride along with later admissions).`,
].join("\n");
const dir = resolve(PROJECT_ROOT, "bench/results");
mkdirSync(dir, { recursive: true });
writeFileSync(resolve(dir, `${new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19)}-limiter.md`), `${markdown}\n`);
console.log(markdown);
