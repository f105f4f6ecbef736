// Routing over replicas (issue 17): R replica gateways on this machine as the upstreams of one front gateway, the
// same traffic sent through the front once per routing policy. Workloads: multiturn (C conversations at once, each a
// chain of turns carrying its whole history) and shared-prefix (C clients at once, each request a long shared system
// prompt and a question of its own). Reports cached prompt tokens per request, TTFT, aggregate tok/s, and how evenly
// the replicas were loaded (the largest ratio of one replica's requests in flight to the average, sampled).
import { randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { PROJECT_ROOT } from "../src/engine/model-file.js";
import { benchContext } from "./context.js";
import { median, quantile, round } from "./stats.js";
import { openStreamClient, type RequestSample } from "./stream-client.js";
import { startGatewayProcess, type GatewayProcess } from "./targets/gateway.js";
import { fillerText } from "./workloads.js";
import { benchFlags } from "./cli.js";

const USAGE = `npm run bench:routing -- [options]
  --model <path>           GGUF every replica serves (default ../shared/models/stories260K.gguf)
  --replicas <n>           replica gateways (default 3)
  --slots <n>              slots per replica (default 2)
  --conversations <list>   conversations / clients at once, e.g. 8,16 (default 8,16)
  --workloads <list>       multiturn and/or shared-prefix (default both)
  --policies <list>        least-outstanding and/or prefix-affinity (default both)
  --turns <n>              multiturn: turns per conversation (default 3)
  --requests <n>           shared-prefix: requests per client (default 3)
  --user-words <n>         words per user turn / question (default 60)
  --shared-words <n>       shared-prefix: words of the shared system prompt (default 300)
  --max-tokens <n>         tokens per answer (default 32)
  --ctx-size <n>           tokens per slot (default 2048)
  --load-bound <x>         prefix-affinity's ε (default 0.25)
  --name <label>           results file name (default routing)`;

const values = benchFlags(USAGE, {
  model: { type: "string", default: resolve(PROJECT_ROOT, "../shared/models/stories260K.gguf") },
  replicas: { type: "string", default: "3" },
  slots: { type: "string", default: "2" },
  conversations: { type: "string", default: "8,16" },
  workloads: { type: "string", default: "multiturn,shared-prefix" },
  policies: { type: "string", default: "least-outstanding,prefix-affinity" },
  turns: { type: "string", default: "3" },
  requests: { type: "string", default: "3" },
  "user-words": { type: "string", default: "60" },
  "shared-words": { type: "string", default: "300" },
  "max-tokens": { type: "string", default: "32" },
  "ctx-size": { type: "string", default: "2048" },
  "load-bound": { type: "string", default: "0.25" },
  name: { type: "string", default: "routing" },
});
const modelPath = resolve(values.model);
const modelId = basename(modelPath).replace(/\.gguf$/i, "");
const maxTokens = Number(values["max-tokens"]);

interface Row {
  workload: string;
  conversations: number;
  policy: string;
  requests: number;
  errors: number;
  cachedPerRequest: number;
  cachedShare: number;
  ttftMs: { p50: number; p90: number };
  tokPerSecond: number;
  /** Sampled while busy: the largest (replica in flight / average in flight), and its median. */
  inFlightRatio: { max: number; p50: number };
  /** Samples in which a replica had more in flight than ceil((1 + ε) × average), of all samples. */
  aboveBound: string;
}

/** Requests in flight per replica, from the front's llm_gateway_upstream_in_flight. */
async function inFlight(front: GatewayProcess): Promise<number[]> {
  const text = await (await fetch(`${front.baseURL.replace(/\/v1$/, "")}/metrics`)).text();
  return [...text.matchAll(/^llm_gateway_upstream_in_flight\{[^}]*\} (\d+)$/gm)].map((m) => Number(m[1]));
}

async function measure(replicas: GatewayProcess[], workload: string, conversations: number, policy: string): Promise<Row> {
  const dir = mkdtempSync(join(tmpdir(), "routing-bench-"));
  const config = join(dir, "front.json");
  writeFileSync(config, JSON.stringify({ upstream: { routing: policy, loadBound: Number(values["load-bound"]), healthCheckIntervalMs: 600_000 }, models: [{ id: "pool", upstreams: replicas.map((r) => ({ url: r.baseURL, model: modelId })) }], playground: { enabled: false } }));
  const front = await startGatewayProcess(["--config", config]);
  const session = randomUUID().slice(0, 8); // nothing cached by an earlier run is shared with this one
  const samples: RequestSample[] = [];
  const ratios: number[] = [];
  let above = 0;
  const bound = 1 + Number(values["load-bound"]);
  let errors = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const counts = await inFlight(front).catch(() => []);
      const total = counts.reduce((a, b) => a + b, 0);
      if (total >= counts.length) {
        ratios.push(Math.max(...counts) / (total / counts.length));
        if (Math.max(...counts) > Math.ceil((bound * total) / counts.length)) above++;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  const started = performance.now();
  try {
    await Promise.all(
      Array.from({ length: conversations }, async (_, c) => {
        const client = await openStreamClient("sse", front.baseURL);
        const send = async (messages: object[]) => {
          try {
            const sample = await client.stream({ path: "/chat/completions", body: { model: "pool", messages, max_tokens: maxTokens, temperature: 0, stream: true, stream_options: { include_usage: true } } });
            samples.push(sample);
            return sample;
          } catch {
            errors++;
            return undefined;
          }
        };
        try {
          if (workload === "multiturn") {
            const history: object[] = [{ role: "system", content: `You tell short stories to children. Session ${session}.` }];
            for (let turn = 0; turn < Number(values.turns); turn++) {
              history.push({ role: "user", content: fillerText(Number(values["user-words"]), 1_000 * c + turn) });
              const sample = await send(history);
              if (sample) history.push({ role: "assistant", content: sample.text });
              else history.pop();
            }
          } else {
            const system = `Session ${session}. ${fillerText(Number(values["shared-words"]), 7)}`;
            for (let r = 0; r < Number(values.requests); r++) await send([{ role: "system", content: system }, { role: "user", content: fillerText(Number(values["user-words"]), 1_000 * c + r + 1) }]);
          }
        } finally {
          client.close();
        }
      }),
    );
  } finally {
    sampling = false;
    await sampler;
    await front.stop();
  }
  const seconds = (performance.now() - started) / 1000;
  const prompt = samples.reduce((sum, s) => sum + s.promptTokens, 0);
  const cached = samples.reduce((sum, s) => sum + s.cachedTokens, 0);
  const ttft = samples.map((s) => s.ttftMs);
  return {
    workload,
    conversations,
    policy,
    requests: samples.length,
    errors,
    cachedPerRequest: round(cached / Math.max(1, samples.length), 1),
    cachedShare: round(prompt === 0 ? 0 : cached / prompt, 2),
    ttftMs: { p50: round(median(ttft)), p90: round(quantile(ttft, 0.9)) },
    tokPerSecond: round(samples.reduce((sum, s) => sum + s.tokens, 0) / seconds, 1),
    inFlightRatio: { max: round(ratios.length ? Math.max(...ratios) : 0, 2), p50: round(ratios.length ? median(ratios) : 0, 2) },
    aboveBound: `${above} / ${ratios.length}`,
  };
}

const replicas = await Promise.all(
  Array.from({ length: Number(values.replicas) }, () => startGatewayProcess(["--model", modelPath, "--slots", values.slots, "--ctx-size", values["ctx-size"], "--gpu", "off", "--threads", "1", "--playground", "false"])),
);
const rows: Row[] = [];
try {
  for (const workload of values.workloads.split(","))
    for (const conversations of values.conversations.split(",").map(Number))
      for (const policy of values.policies.split(",")) {
        const row = await measure(replicas, workload, conversations, policy);
        rows.push(row);
        process.stderr.write(`${workload} × ${conversations} ${policy}: cached/req ${row.cachedPerRequest}, TTFT p50 ${row.ttftMs.p50} ms, ${row.tokPerSecond} tok/s, in-flight max/avg ${row.inFlightRatio.max}\n`);
      }
} finally {
  await Promise.all(replicas.map((r) => r.stop()));
}

const { machine, commit, stamp } = benchContext();
const settings = { model: basename(modelPath), replicas: Number(values.replicas), slots: Number(values.slots), turns: Number(values.turns), requests: Number(values.requests), userWords: Number(values["user-words"]), sharedWords: Number(values["shared-words"]), maxTokens, loadBound: Number(values["load-bound"]) };
const table = [
  "| workload | conversations | policy | requests | errors | cached tok/req | cached share | TTFT p50 / p90 ms | tok/s | in-flight max/avg (max, p50) | samples above ceil((1+ε)·avg) |",
  "|---|---|---|---|---|---|---|---|---|---|---|",
  ...rows.map((r) => `| ${r.workload} | ${r.conversations} | ${r.policy} | ${r.requests} | ${r.errors} | ${r.cachedPerRequest} | ${r.cachedShare} | ${r.ttftMs.p50} / ${r.ttftMs.p90} | ${r.tokPerSecond} | ${r.inFlightRatio.max}, ${r.inFlightRatio.p50} | ${r.aboveBound} |`),
].join("\n");
const markdown = `# Routing over replicas ${values.name} (${stamp})\n\n- machine: ${machine}\n- commit: ${commit}\n- settings: \`${JSON.stringify(settings)}\`\n\n${table}\n`;
const out = resolve(PROJECT_ROOT, "bench/results");
mkdirSync(out, { recursive: true });
writeFileSync(resolve(out, `${stamp}-${values.name}.md`), markdown);
writeFileSync(resolve(out, `${stamp}-${values.name}.json`), JSON.stringify({ machine, commit, settings, rows }, null, 2));
console.log(markdown);
