// Interleaved multi-turn conversations, as several users of one chat frontend make them: C conversations on
// S slots, turns sent one after another in round-robin order (conversation 0 turn 1, conversation 1 turn 1, …,
// conversation 0 turn 2, …), each turn carrying the whole history with the answers the server gave. Reports the
// share of prompt tokens served from cache on turns 2+ and TTFT, for the gateway and any OpenAI-compatible
// server given as NAME=URL (e.g. llama-server started with the same GGUF, -np S and -c S × ctx).
import { randomUUID } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { basename, resolve } from "node:path";
import { PROJECT_ROOT } from "../src/engine/model-file.js";
import { median, quantile, round } from "./stats.js";
import { openStreamClient, type RequestSample } from "./stream-client.js";
import { startGatewayProcess } from "./targets/gateway.js";
import { benchContext } from "./context.js";
import { fillerText } from "./workloads.js";
import { benchFlags } from "./cli.js";

const USAGE = `npm run bench:conversations -- [options]
  --model <path>           GGUF (default ../shared/models/stories260K.gguf)
  --targets <list>         gateway and/or NAME=URL of a running OpenAI server (default gateway)
  --slots <n>              slots (default 4)
  --conversations <list>   conversations interleaved, e.g. 4,8,16 (default 4,8,16)
  --turns <n>              turns per conversation (default 3)
  --user-words <n>         words per user turn (default 60)
  --max-tokens <n>         tokens per answer (default 64)
  --ctx-size <n>           tokens per slot (default 2048)
  --endpoint <name>        chat (each server renders its own chat template) or completions (the history as plain
                           text: every server evaluates the same tokens, so cached shares compare exactly; default)
  --name <label>           results file name (default conversations)`;

const values = benchFlags(USAGE, {
  model: { type: "string", default: resolve(PROJECT_ROOT, "../shared/models/stories260K.gguf") },
  targets: { type: "string", default: "gateway" },
  slots: { type: "string", default: "4" },
  conversations: { type: "string", default: "4,8,16" },
  turns: { type: "string", default: "3" },
  "user-words": { type: "string", default: "60" },
  "max-tokens": { type: "string", default: "64" },
  "ctx-size": { type: "string", default: "2048" },
  endpoint: { type: "string", default: "completions" },
  name: { type: "string", default: "conversations" },
});

const modelPath = resolve(values.model);
const slots = Number(values.slots);
const turns = Number(values.turns);
const userWords = Number(values["user-words"]);
const maxTokens = Number(values["max-tokens"]);
const SYSTEM = "You are a helpful assistant who tells short stories to children.";

interface Row {
  target: string;
  conversations: number;
  requests: number;
  errors: number;
  /** Prompt tokens served from cache over all prompt tokens, turns 2+. */
  cachedShare: number;
  ttftMs: { p50: number; p90: number };
  laterTurnTtftMs: { p50: number; p90: number };
}

async function measure(target: string, conversations: number): Promise<Row> {
  const external = target.includes("=") ? target.slice(target.indexOf("=") + 1) : undefined;
  const gateway = external ? undefined : await startGatewayProcess(["--model", modelPath, "--slots", String(slots), "--ctx-size", values["ctx-size"], "--gpu", "off"]);
  const baseURL = external ?? gateway!.baseURL;
  const model = external ? "default" : basename(modelPath).replace(/\.gguf$/i, "");
  const client = await openStreamClient("sse", baseURL);
  // A fresh run id in the system prompt: a server that keeps prompts across runs (llama-server's --cache-ram)
  // must not find this run's conversations cached from an earlier one.
  const system = `${SYSTEM} Session ${randomUUID().slice(0, 8)}.`;
  const histories = Array.from({ length: conversations }, () => [{ role: "system", content: system }]);
  const samples: { turn: number; sample: RequestSample }[] = [];
  let errors = 0;
  try {
    // One warm-up request on a prompt no conversation shares.
    await client.stream({ path: "/completions", body: { model, prompt: "warm up", max_tokens: 64, temperature: 0 } });
    for (let turn = 0; turn < turns; turn++) {
      for (const [c, history] of histories.entries()) {
        history.push({ role: "user", content: fillerText(userWords, 1_000 * c + turn) });
        try {
          const common = { model, max_tokens: maxTokens, temperature: 0, stream: true, stream_options: { include_usage: true } };
          const sample = await client.stream(
            values.endpoint === "chat"
              ? { path: "/chat/completions", body: { ...common, messages: history } }
              : { path: "/completions", body: { ...common, prompt: `${history.map((m) => `${m.role}: ${m.content}`).join("\n")}\nassistant:` } },
          );
          samples.push({ turn, sample });
          history.push({ role: "assistant", content: sample.text });
        } catch {
          errors++;
          history.pop();
        }
      }
    }
  } finally {
    client.close();
    await gateway?.stop();
  }
  const later = samples.filter((s) => s.turn > 0).map((s) => s.sample);
  const prompt = later.reduce((sum, s) => sum + s.promptTokens, 0);
  const cached = later.reduce((sum, s) => sum + s.cachedTokens, 0);
  const ttft = samples.map((s) => s.sample.ttftMs);
  const laterTtft = later.map((s) => s.ttftMs);
  return {
    target: target.split("=")[0]!,
    conversations,
    requests: samples.length,
    errors,
    cachedShare: round(prompt === 0 ? 0 : cached / prompt, 2),
    ttftMs: { p50: round(median(ttft)), p90: round(quantile(ttft, 0.9)) },
    laterTurnTtftMs: { p50: round(median(laterTtft)), p90: round(quantile(laterTtft, 0.9)) },
  };
}

const rows: Row[] = [];
for (const conversations of values.conversations.split(",").map(Number)) {
  for (const target of values.targets.split(",").map((t) => t.trim())) {
    const row = await measure(target, conversations);
    rows.push(row);
    process.stderr.write(`${row.target} × ${conversations} conversations: cached share ${row.cachedShare}, TTFT p50 ${row.ttftMs.p50} ms\n`);
  }
}

const { machine, commit, stamp } = benchContext();
const settings = { model: basename(modelPath), endpoint: values.endpoint, slots, turns, userWords, maxTokens, ctxSize: Number(values["ctx-size"]) };
const table = [
  "| conversations | target | requests | errors | cached share, turns 2+ | TTFT p50 / p90 ms (all) | TTFT p50 / p90 ms (turns 2+) |",
  "|---|---|---|---|---|---|---|",
  ...rows.map((r) => `| ${r.conversations} | ${r.target} | ${r.requests} | ${r.errors} | ${r.cachedShare} | ${r.ttftMs.p50} / ${r.ttftMs.p90} | ${r.laterTurnTtftMs.p50} / ${r.laterTurnTtftMs.p90} |`),
].join("\n");
const markdown = `# Interleaved conversations ${values.name} (${stamp})\n\n- machine: ${machine}\n- commit: ${commit}\n- settings: \`${JSON.stringify(settings)}\`\n\n${table}\n`;
const dir = resolve(PROJECT_ROOT, "bench/results");
mkdirSync(dir, { recursive: true });
writeFileSync(resolve(dir, `${stamp}-${values.name}.md`), markdown);
writeFileSync(resolve(dir, `${stamp}-${values.name}.json`), JSON.stringify({ machine, commit, settings, rows }, null, 2));
console.log(markdown);
