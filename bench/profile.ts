import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { PROJECT_ROOT } from "../src/engine/model-file.js";
import { benchContext } from "./context.js";
import { coresBetween, processTree, snapshot, type ProcessCpu } from "./cpu-accounting.js";
import { monotonicUs, summarizeProfile, type ProfileSummary } from "./cpu-profile.js";
import { runLoad, warmUp, type LoadResult } from "./load-generator.js";
import { round } from "./stats.js";
import { startGatewayProcess } from "./targets/gateway.js";
import { poolLikeTheGateway, runInProcess } from "./targets/in-process.js";
import { workload } from "./workloads.js";
import { benchFlags } from "./cli.js";

const USAGE = `npm run bench:profile -- [options]
Where the CPU goes while the gateway streams N concurrent generations (slots = streams), beside node-llama-cpp
driven in-process on the same layout: cores used by each process (gateway, engine process, the measuring client)
split into its JS thread and its other threads (libuv's pool: decodes and sampling), tokens/s of both, and with
--cpu-prof the JS self time of the gateway and engine processes by kind of code and by function.
  --model <path>        GGUF (default ../shared/models/stories260K.gguf)
  --streams <n>         concurrent streams (default 8)
  --requests <n>        requests per stream (default 6)
  --max-tokens <n>      tokens per request (default 256)
  --isolation <mode>    process | none (default process)
  --transport <t>       sse | ws (default sse)
  --rounds <n>          gateway and in-process runs, interleaved; the tables show the median round (default 3)
  --gateway-flags <s>   more gateway flags, space-separated (--gateway-flags="--worker-nice 0")
  --cpu-prof            also record V8 CPU profiles (they slow the JS threads a little)
  --name <label>        results file name (default profile-<model>)`;

const values = benchFlags(USAGE, {
  model: { type: "string", default: resolve(PROJECT_ROOT, "../shared/models/stories260K.gguf") },
  streams: { type: "string", default: "8" },
  requests: { type: "string", default: "6" },
  "max-tokens": { type: "string", default: "256" },
  isolation: { type: "string", default: "process" },
  transport: { type: "string", default: "sse" },
  rounds: { type: "string", default: "3" },
  "gateway-flags": { type: "string", default: "" },
  "cpu-prof": { type: "boolean", default: false },
  name: { type: "string" },
});

const modelPath = resolve(values.model);
const streams = Number(values.streams);
const requestsPerWorker = Number(values.requests);
const maxTokens = Number(values["max-tokens"]);
const transport = values.transport as "sse" | "ws";
const modelId = basename(modelPath).replace(/\.gguf$/i, "");
await poolLikeTheGateway({ layout: "per-slot", slots: streams, threads: 1 });
const profileDir = values["cpu-prof"] ? mkdtempSync(join(tmpdir(), "gateway-cpu-prof-")) : undefined;

type Cores = Record<string, ProcessCpu & { total: number }>;

async function profileGateway(): Promise<{ load: LoadResult; cores: Cores; profiles: Record<string, ProfileSummary> }> {
  // The gateway passes --cpu-prof on to its engine processes.
  const nodeFlags = profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : [];
  const gateway = await startGatewayProcess(["--isolation", values.isolation, "--model", modelPath, "--slots", String(streams), "--threads", "1", "--ctx-size", "1024", ...values["gateway-flags"].split(" ").filter(Boolean)], {}, nodeFlags);
  let window: [number, number] = [0, 0];
  let load: LoadResult;
  let cores: Cores;
  let engines: number[] = [];
  let gatewayPid = gateway.pid;
  try {
    await warmUp({ baseURL: gateway.baseURL, model: modelId, transport, concurrency: streams });
    // The gateway's process (the CLI starts itself again when it needs a larger libuv pool) and its engine processes.
    const tree = processTree(gateway.pid);
    engines = tree.filter((p) => p.command.includes("engine-host")).map((p) => p.pid);
    const server = tree.filter((p) => p.command.includes("cli.js") && !p.children.some((c) => tree.find((t) => t.pid === c)?.command.includes("cli.js")))[0]!.pid;
    gatewayPid = server;
    const pids = { gateway: server, ...Object.fromEntries(engines.map((pid, i) => [`engine ${i + 1}`, pid])), client: process.pid };
    const before = snapshot(pids);
    const started = performance.now();
    window = [monotonicUs(), 0];
    load = await runLoad({ baseURL: gateway.baseURL, model: modelId, transport, concurrency: streams, requestsPerWorker, maxSeconds: 300, requestFor: (worker) => workload("unique", worker, { promptWords: 32, maxTokens }) });
    window[1] = monotonicUs();
    cores = coresBetween(before, snapshot(pids), (performance.now() - started) / 1000);
  } finally {
    await gateway.stop();
  }
  const profiles: Record<string, ProfileSummary> = {};
  if (profileDir) {
    await new Promise((r) => setTimeout(r, 500)); // the engine processes write theirs as they exit after the gateway
    for (const file of readdirSync(profileDir)) {
      const pid = Number(file.split(".")[3]); // CPU.<date>.<time>.<pid>.<tid>.<seq>.cpuprofile
      const label = pid === gatewayPid ? "gateway" : engines.includes(pid) ? `engine ${engines.indexOf(pid) + 1}` : undefined;
      if (label) profiles[label] = summarizeProfile(join(profileDir, file), window[0], window[1]);
    }
  }
  return { load, cores, profiles };
}

async function profileInProcess(): Promise<{ load: LoadResult; cores: Cores }> {
  let before: ReturnType<typeof snapshot> = {};
  let started = 0;
  let cores: Cores = {};
  const load = await runInProcess({
    modelPath, layout: "per-slot", concurrency: streams, requestsPerWorker, promptWords: 32, maxTokens, ctxSize: 1024, threads: 1,
    onWindow: (edge) => {
      if (edge === "start") {
        before = snapshot({ "in-process": process.pid });
        started = performance.now();
      } else cores = coresBetween(before, snapshot({ "in-process": process.pid }), (performance.now() - started) / 1000);
    },
  });
  return { load, cores };
}

const fmt = (n: number) => round(n, 2).toFixed(2);
function coresTable(rows: [string, Cores][]): string {
  const lines = ["| target | process | JS thread (in the kernel) | other threads | total cores | JS thread waiting for a core | other threads waiting |", "|---|---|---|---|---|---|---|"];
  for (const [target, cores] of rows)
    for (const [label, c] of Object.entries(cores)) lines.push(`| ${target} | ${label} | ${fmt(c.js)} (${fmt(c.jsKernel)}) | ${fmt(c.threads)} | ${fmt(c.total)} | ${fmt(c.jsWait)} | ${fmt(c.threadsWait)} |`);
  return lines.join("\n");
}
function profileTables(profiles: Record<string, ProfileSummary>, tokens: number): string {
  return Object.entries(profiles).map(([label, p]) => {
    const busy = p.seconds - (p.byKind.idle ?? 0);
    const kinds = Object.entries(p.byKind).filter(([k]) => k !== "idle").sort((a, b) => b[1] - a[1])
      .map(([kind, s]) => `| ${kind} | ${round(s * 1000)} | ${round((s / busy) * 100)}% | ${round((s * 1e6) / tokens)} |`);
    const top = p.top.map((f) => `| \`${f.name}\` | ${round(f.seconds * 1000)} | ${round((f.seconds * 1e6) / tokens)} |`);
    return [
      `### ${label}: ${round(busy, 2)} s of JS-thread samples busy, ${round((busy * 1e6) / tokens)} µs per streamed token`,
      "", "| kind of code | ms | share | µs/token |", "|---|---|---|---|", ...kinds,
      "", "| function (self time) | ms | µs/token |", "|---|---|---|", ...top,
    ].join("\n");
  }).join("\n\n");
}

// Rounds alternate which target goes first, so drift on a shared machine hits both alike.
const gatewayRuns: Awaited<ReturnType<typeof profileGateway>>[] = [];
const inProcessRuns: Awaited<ReturnType<typeof profileInProcess>>[] = [];
for (let round = 0; round < Number(values.rounds); round++) {
  const order = round % 2 === 0 ? ["gateway", "in-process"] : ["in-process", "gateway"];
  for (const target of order) {
    if (target === "gateway") gatewayRuns.push(await profileGateway());
    else inProcessRuns.push(await profileInProcess());
    const last = target === "gateway" ? gatewayRuns.at(-1)! : inProcessRuns.at(-1)!;
    process.stderr.write(`  round ${round + 1}: ${target} ${last.load.tokensPerSecond} tok/s\n`);
  }
}
if (profileDir) rmSync(profileDir, { recursive: true, force: true });
const medianRun = <T extends { load: LoadResult }>(runs: T[]): T => [...runs].sort((a, b) => a.load.tokensPerSecond - b.load.tokensPerSecond)[Math.floor((runs.length - 1) / 2)]!;
const gateway = medianRun(gatewayRuns);
const inProcess = medianRun(inProcessRuns);
const ratios = gatewayRuns.map((g, i) => round(g.load.tokensPerSecond / inProcessRuns[i]!.load.tokensPerSecond, 2));

const tokens = gateway.load.tokensPerSecond * gateway.load.wallSeconds;
const { machine, commit, stamp } = benchContext();
const settings = { model: basename(modelPath), streams, requestsPerWorker, maxTokens, isolation: values.isolation, gatewayFlags: values["gateway-flags"], transport, rounds: Number(values.rounds), cpuProf: values["cpu-prof"] };
const name = values.name ?? `profile-${modelId}`;
const perToken = (cores: Cores, load: LoadResult) => round((Object.values(cores).reduce((s, c) => s + c.total, 0) * 1e6) / load.tokensPerSecond);
const markdown = `# CPU profile ${name} (${stamp})

- machine: ${machine}
- commit: ${commit}
- settings: \`${JSON.stringify(settings)}\`

| target | tok/s | TTFT p50 ms | ITL p50 ms | CPU µs per token (all processes) |
|---|---|---|---|---|
| gateway | ${gateway.load.tokensPerSecond} | ${gateway.load.ttftMs.p50} | ${gateway.load.itlMs.p50} | ${perToken(gateway.cores, gateway.load)} |
| in-process | ${inProcess.load.tokensPerSecond} | ${inProcess.load.ttftMs.p50} | ${inProcess.load.itlMs.p50} | ${perToken(inProcess.cores, inProcess.load)} |

Median rounds. gateway / in-process: ${round(gateway.load.tokensPerSecond / inProcess.load.tokensPerSecond, 2)} (medians); per round ${ratios.join(", ")}
(gateway ${gatewayRuns.map((r) => r.load.tokensPerSecond).join(", ")}; in-process ${inProcessRuns.map((r) => r.load.tokensPerSecond).join(", ")} tok/s)

Cores used over the measured window (median rounds):

${coresTable([["gateway", gateway.cores], ["in-process", inProcess.cores]])}
${profileDir ? `\n## JS self time during the window (V8 CPU profiles)\n\n${profileTables(gateway.profiles, tokens)}\n` : ""}`;
const dir = resolve(PROJECT_ROOT, "bench/results");
mkdirSync(dir, { recursive: true });
writeFileSync(resolve(dir, `${stamp}-${name}.md`), markdown);
console.log(markdown);
