import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../src/engine/model-file.js";
import { startTestGateway, type TestGateway } from "../helpers/gateway.js";
import { startPrefixProxy, type ProxiedExchange } from "../helpers/prefix-proxy.js";

// The real coding agents, unmodified (devDependencies, pinned), each for one turn against the gateway: `codex exec`
// on /v1/responses and `claude -p` on /v1/messages, with their default tools and features. Their telemetry, update
// checks and feedback are off, and a proxy that refuses everything stands for the internet, so they reach only
// 127.0.0.1. The model is stories260K, which never ends a turn by itself: engine.stop ends its answers at the end of
// the first sentence, as an operator would set it for such a model. Each agent sends its whole first prompt (Codex's ~24k
// tokens, Claude Code's ~30k with this vocabulary); the test records what the gateway streamed back (through a
// recording proxy) and asserts that the agent exits 0 having printed exactly that answer.
// Minutes of prompt evaluation on 2 vCPUs: `npm run test:agents`, after `npm test`.

const RUN_MS = 480_000;
const NO_INTERNET = { HTTPS_PROXY: "http://127.0.0.1:9", HTTP_PROXY: "http://127.0.0.1:9", https_proxy: "http://127.0.0.1:9", http_proxy: "http://127.0.0.1:9", NO_PROXY: "127.0.0.1,localhost", no_proxy: "127.0.0.1,localhost" };

function run(command: string, args: string[], env: Record<string, string>, cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(command, args, { cwd, env: { PATH: process.env.PATH ?? "", ...NO_INTERNET, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), RUN_MS);
    child.on("error", fail);
    child.on("close", (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

/** The answer text a recorded SSE stream carried: Responses' output_text deltas, or Messages' text deltas. */
function streamedText(exchange: ProxiedExchange): string {
  let text = "";
  // Every data line (Anthropic's frames carry an event line before theirs).
  for (const line of exchange.body.split("\n")) {
    if (!line.startsWith("data: ") || line === "data: [DONE]") continue;
    const data = line.slice("data: ".length);
    const event = JSON.parse(data) as { type: string; delta?: string | { type: string; text?: string } };
    if (event.type === "response.output_text.delta" && typeof event.delta === "string") text += event.delta;
    if (event.type === "content_block_delta" && typeof event.delta === "object" && event.delta.type === "text_delta") text += event.delta.text ?? "";
  }
  return text;
}

describe("real coding agents complete a turn against the gateway (stories260K)", () => {
  let gw: TestGateway;
  let proxy: { url: string; close(): Promise<void> };
  const exchanges: ProxiedExchange[] = [];
  const home = mkdtempSync(join(tmpdir(), "agents-"));
  beforeAll(async () => {
    // Flash attention off: on this model's 8-wide heads it is several times faster (llama.cpp's CPU tiles need 16).
    gw = await startTestGateway({ engine: { slots: 1, ctxSize: 65536, flashAttention: false, stop: [".", "!", "?"] } });
    proxy = await startPrefixProxy("", gw.url, (exchange) => exchanges.push(exchange));
  });
  afterAll(async () => {
    await proxy?.close();
    await gw?.close();
    rmSync(home, { recursive: true, force: true });
  });

  it("codex exec: one turn on /v1/responses, exit 0, the streamed answer printed", { timeout: RUN_MS + 30_000 }, async () => {
    const codexHome = join(home, "codex");
    const work = join(home, "codex-work");
    for (const dir of [codexHome, work]) mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(codexHome, "config.toml"),
      [
        "check_for_update_on_startup = false",
        `model = "${gw.model}"`,
        'model_provider = "gateway"',
        "[model_providers.gateway]",
        'name = "llm-gateway"',
        `base_url = "${proxy.url}/v1"`,
        'wire_api = "responses"',
        "[analytics]",
        "enabled = false",
        "[feedback]",
        "enabled = false",
      ].join("\n"),
    );
    const from = exchanges.length;
    const codex = resolve(PROJECT_ROOT, "node_modules/.bin/codex");
    const result = await run(codex, ["exec", "--skip-git-repo-check", "say hi"], { CODEX_HOME: codexHome, HOME: home }, work);
    const turns = exchanges.slice(from).filter((exchange) => exchange.path.startsWith("/v1/responses"));
    expect(result.code, result.stderr.slice(-2000)).toBe(0);
    expect(turns.length).toBeGreaterThan(0);
    expect(turns.every((turn) => turn.status === 200)).toBe(true);
    const answer = streamedText(turns.at(-1)!);
    expect(turns.at(-1)!.body).toContain("response.completed");
    expect(answer.trim().length).toBeGreaterThan(0);
    expect(result.stdout.trim()).toBe(answer.trim());
  });

  it("claude -p: one turn on /v1/messages, exit 0, the streamed answer printed", { timeout: RUN_MS + 30_000 }, async () => {
    const work = join(home, "claude-work");
    mkdirSync(work, { recursive: true });
    const from = exchanges.length;
    // The platform package's binary (the wrapper package places it with an install script, which npm does not run).
    const claude = resolve(PROJECT_ROOT, `node_modules/@anthropic-ai/claude-code-${process.platform}-${process.arch}/claude`);
    const env = {
      HOME: home,
      ANTHROPIC_BASE_URL: proxy.url,
      ANTHROPIC_AUTH_TOKEN: "none",
      ANTHROPIC_MODEL: gw.model,
      ANTHROPIC_SMALL_FAST_MODEL: gw.model,
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
      DISABLE_AUTOUPDATER: "1",
    };
    const result = await run(claude, ["-p", "say hi", "--model", gw.model], env, work);
    const turns = exchanges.slice(from).filter((exchange) => exchange.path.startsWith("/v1/messages"));
    expect(result.code, result.stderr.slice(-2000)).toBe(0);
    expect(turns.length).toBeGreaterThan(0);
    expect(turns.every((turn) => turn.status === 200)).toBe(true);
    const last = turns.at(-1)!;
    expect(last.body).toContain('"stop_reason":"end_turn"'); // the operator's stop ends the turn as the model's own end would
    const answer = streamedText(last);
    expect(answer.trim().length).toBeGreaterThan(0);
    expect(result.stdout.trim()).toBe(answer.trim());
  });
});
