// npm run bench:soak -- --seconds N: the suite's soak mix for longer against the built gateway, Redis limits on
// and Redis killed and restarted at a third and two thirds of the run; writes the resident memory curve of
// the gateway and its engine processes to bench/results.
import { mkdirSync, writeFileSync } from "node:fs";
import { basename, resolve } from "node:path";
import { PROJECT_ROOT } from "../src/engine/model-file.js";
import { OwnRedis } from "../test/helpers/redis.js";
import { benchContext } from "./context.js";
import { childPids, rssBytes } from "./process-memory.js";
import { runSoak } from "./soak-traffic.js";
import { startGatewayProcess } from "./targets/gateway.js";
import { benchFlags } from "./cli.js";

const values = benchFlags("npm run bench:soak -- [--seconds 120] [--clients 6] [--slots 3] [--model path.gguf] [--name soak]", {
  seconds: { type: "string", default: "120" },
  clients: { type: "string", default: "6" },
  slots: { type: "string", default: "3" },
  model: { type: "string", default: resolve(PROJECT_ROOT, "../shared/models/stories260K.gguf") },
  name: { type: "string", default: "soak" },
});

const seconds = Number(values.seconds);
const KEY = "sk-soak-bench-0123456789";
const MiB = 2 ** 20;
const redis = await OwnRedis.start();
const gateway = await startGatewayProcess(["--model", values.model, "--slots", values.slots, "--ctx-size", "1024", "--gpu", "off", "--redis-url", redis.url], { API_KEYS: `soak:${KEY}` });
const model = basename(values.model).replace(/\.gguf$/i, "");
const curve: { second: number; gatewayMiB: number; enginesMiB: number }[] = [];
const started = Date.now();
const sample = () => {
  const engines = childPids(gateway.pid).reduce((sum, pid) => sum + rssBytes(pid), 0);
  curve.push({ second: Math.round((Date.now() - started) / 1000), gatewayMiB: Math.round(rssBytes(gateway.pid) / MiB), enginesMiB: Math.round(engines / MiB) });
};
sample();
const sampler = setInterval(sample, 1_000);
const outage = (async () => {
  await new Promise((r) => setTimeout(r, (seconds * 1000) / 3));
  await redis.kill();
  await new Promise((r) => setTimeout(r, (seconds * 1000) / 3));
  await redis.restart();
})();
const result = await runSoak({ baseURL: gateway.baseURL, model, seconds, clients: Number(values.clients), apiKey: KEY });
await outage;
clearInterval(sampler);
sample();
await gateway.stop();
await redis.kill();

const { machine, commit, stamp } = benchContext();
const first = curve.find((p) => p.second >= 10) ?? curve[0]!; // after warm-up
const last = curve.at(-1)!;
const markdown = [
  `# Soak ${values.name} (${stamp})`,
  "",
  `- machine: ${machine}`,
  `- commit: ${commit}`,
  `- settings: \`${JSON.stringify({ seconds, clients: Number(values.clients), slots: Number(values.slots), model })}\`, Redis killed at ${Math.round(seconds / 3)} s, back at ${Math.round((2 * seconds) / 3)} s`,
  `- requests: ${result.requests}; unexpected: ${result.unexpected.length}${result.unexpected.length ? ` (first: ${result.unexpected[0]})` : ""}`,
  `- outcomes: \`${JSON.stringify(result.outcomes)}\``,
  `- resident memory from ${first.second} s to the end: gateway ${first.gatewayMiB} → ${last.gatewayMiB} MiB, engines ${first.enginesMiB} → ${last.enginesMiB} MiB`,
  "",
  "| second | gateway MiB | engines MiB |",
  "|---|---|---|",
  ...curve.filter((_, i) => i % Math.max(1, Math.round(curve.length / 40)) === 0 || _ === last).map((p) => `| ${p.second} | ${p.gatewayMiB} | ${p.enginesMiB} |`),
].join("\n");
const dir = resolve(PROJECT_ROOT, "bench/results");
mkdirSync(dir, { recursive: true });
writeFileSync(resolve(dir, `${stamp}-${values.name}.md`), `${markdown}\n`);
writeFileSync(resolve(dir, `${stamp}-${values.name}.json`), JSON.stringify({ machine, commit, result, curve }, null, 2));
console.log(markdown);
process.exit(result.unexpected.length === 0 ? 0 : 1);
