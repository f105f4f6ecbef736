import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Template } from "@huggingface/jinja";
import type { LlamaModel } from "node-llama-cpp";
import { afterAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../src/engine/model-file.js";
import { PromptRenderer } from "../../src/engine/prompt.js";
import type { ChatMessage, ToolDefinition } from "../../src/engine/types.js";
import { templateCorpus } from "./chat-templates.js";

// Each template of llama.cpp's corpus, for a set of conversations, must come out of the gateway's renderer exactly
// as a reference Jinja engine with Hugging Face's semantics renders it (@huggingface/jinja, node-llama-cpp's own).
// The corpus is split into shards, one test file each, so that its two minutes of pure JS (node-llama-cpp's wrapper
// resolution, ~2 s per template here) run on both cores.

const BOS = "<s>";
const EOS = "</s>";
/** llama.cpp passes today's date as date_string ("%d %b %Y"), besides strftime_now. */
const today = (d = new Date()) => `${String(d.getDate()).padStart(2, "0")} ${"Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(" ")[d.getMonth()]} ${d.getFullYear()}`;

/** A model as far as rendering needs one: its template in GGUF metadata, BOS/EOS, and a byte tokenizer. */
function modelWith(name: string, source: string): LlamaModel {
  const tokenize = (text: string) => [...Buffer.from(text)];
  return {
    filename: `${name}.gguf`,
    fileInfo: { version: 3, metadata: { general: { architecture: "llama", name }, tokenizer: { chat_template: source, ggml: { model: "llama" } } }, architectureMetadata: {} },
    tokens: { bos: 1, eos: 2, bosString: BOS, eosString: EOS, shouldPrependBosToken: true },
    tokenizer: tokenize,
    tokenize,
  } as unknown as LlamaModel;
}

const TOOLS: ToolDefinition[] = [{ name: "get_weather", description: "Weather in a city", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } }];

interface Case {
  name: string;
  messages: ChatMessage[];
  tools?: ToolDefinition[];
  args?: Record<string, unknown>;
}

function casesFor(source: string): Case[] {
  const cases: Case[] = [
    { name: "user", messages: [{ role: "user", content: "Tell me a story." }] },
    { name: "system", messages: [{ role: "system", content: "You are a storyteller." }, { role: "user", content: "Tell me a story." }] },
    {
      name: "multi-turn",
      messages: [
        { role: "system", content: "You are a storyteller." },
        { role: "user", content: "Hi." },
        { role: "assistant", content: "Hello! What story would you like?" },
        { role: "user", content: "One about a fox." },
      ],
    },
  ];
  if (/tool/.test(source))
    cases.push({
      name: "tool call and result",
      tools: TOOLS,
      messages: [
        { role: "user", content: "What is the weather in Paris?" },
        { role: "assistant", content: "", toolCalls: [{ id: "call00001", name: "get_weather", arguments: '{"city":"Paris"}' }] },
        { role: "tool", toolCallId: "call00001", content: '{"temperature":21}' },
      ],
    });
  if (/reasoning_effort/.test(source)) cases.push({ name: "reasoning_effort high", messages: [{ role: "user", content: "Tell me a story." }], args: { reasoning_effort: "high" } });
  if (/enable_thinking/.test(source))
    for (const on of [true, false]) cases.push({ name: `thinking ${on ? "on" : "off"}`, messages: [{ role: "user", content: "Tell me a story." }], args: { enable_thinking: on } });
  return cases;
}

/**
 * The reference: Hugging Face's apply_chat_template semantics, with BOS added once and system messages merged into
 * the next user message for a template that refuses them, as llama.cpp does.
 */
function reference(source: string, c: Case): string {
  try {
    return referenceAsIs(source, c);
  } catch (error) {
    const system = c.messages.filter((m) => m.role === "system").map((m) => m.content);
    const firstUser = c.messages.findIndex((m) => m.role === "user");
    if (system.length === 0 || firstUser < 0) throw error;
    const merged = c.messages.filter((m) => m.role !== "system").map((m) => (m === c.messages[firstUser] ? { ...m, content: `${system.join("\n")}\n${m.content}` } : m)) as ChatMessage[];
    return referenceAsIs(source, { ...c, messages: merged });
  }
}

function referenceAsIs(source: string, c: Case): string {
  const messages = c.messages.map((m) =>
    m.role === "tool" ? { role: "tool", tool_call_id: m.toolCallId, content: m.content }
    : m.role === "assistant" && m.toolCalls ? { role: "assistant", content: m.content, tool_calls: m.toolCalls.map((t) => ({ id: t.id, type: "function", function: { name: t.name, arguments: JSON.parse(t.arguments) } })) }
    : { role: m.role, content: m.content },
  );
  const tools = c.tools?.map((t) => ({ type: "function", function: { name: t.name, description: t.description, parameters: t.parameters } }));
  const text = new Template(source).render({ date_string: today(), ...c.args, messages, ...(tools ? { tools } : {}), add_generation_prompt: true, bos_token: BOS, eos_token: EOS });
  return BOS + (text.startsWith(BOS) ? text.slice(BOS.length) : text);
}

/** Shard `shard` (0-based) of `shards`: every `shards`-th template; shard 0 also holds the checks of single templates. */
export function corpusSuite(shard: number, shards: number): void {
  const results: { template: string; rendering: string; passed: number; failed: string[]; skipped: string[] }[] = [];
  const corpus = templateCorpus();
  const templates = corpus.filter((_, i) => i % shards === shard);

  describe(`chat prompts equal each model's own template (llama.cpp's corpus, part ${shard + 1} of ${shards})`, () => {
    if (shard === 0) singleTemplateChecks(corpus);

    it.each(templates.map((t) => [t.name, t.source]))("%s", (name, source) => {
      const renderer = new PromptRenderer(modelWith(name, source));
      const row = { template: name, rendering: renderer.templateName, passed: 0, failed: [] as string[], skipped: [] as string[] };
      results.push(row);
      for (const c of casesFor(source)) {
        let expected: string;
        try {
          expected = reference(source, c);
        } catch (error) {
          row.skipped.push(`${c.name}: ${(error as Error).message.slice(0, 80)}`); // the reference engine cannot render it: reported, not hidden
          continue;
        }
        const actual = renderer.promptText({ messages: c.messages, tools: c.tools, args: c.args });
        if (actual === expected) row.passed++;
        else row.failed.push(c.name);
        expect(actual, `${name}, ${c.name}`).toBe(expected);
      }
    });

    afterAll(() => {
      const dir = resolve(PROJECT_ROOT, "test-results");
      mkdirSync(dir, { recursive: true });
      const lines = ["| template | rendered by | conversations equal | skipped (reference engine cannot render) |", "|---|---|---|---|"];
      for (const r of results.sort((a, b) => a.template.localeCompare(b.template)))
        lines.push(`| ${r.template} | ${r.rendering} | ${r.passed}${r.failed.length ? ` (failed: ${r.failed.join(", ")})` : ""} | ${r.skipped.join("; ").replaceAll("|", "\\|") || "–"} |`);
      writeFileSync(join(dir, `chat-templates.${shard + 1}.md`), `${lines.join("\n")}\n`);
    });
  });
}

function singleTemplateChecks(templates: { name: string; source: string }[]): void {
  it("has the corpus", () => expect(templates.length).toBeGreaterThan(50));

  it("writes today's date where a template asks for it (Llama 3.1), not node-llama-cpp's fixed one", () => {
    const { source } = templates.find((t) => t.name === "meta-llama-Llama-3.1-8B-Instruct")!;
    const text = new PromptRenderer(modelWith("llama-3.1", source)).promptText({ messages: [{ role: "user", content: "Hi" }] });
    expect(text).toContain(`Today Date: ${today()}`);
    expect(text).not.toContain("26 Jul 2024");
  });

  it("reaches reasoning_effort in a template that reads it (gpt-oss)", () => {
    const { source } = templates.find((t) => t.name === "openai-gpt-oss-120b")!;
    const renderer = new PromptRenderer(modelWith("gpt-oss", source));
    expect(renderer.promptText({ messages: [{ role: "user", content: "Hi" }], args: { reasoning_effort: "high" } })).toContain("Reasoning: high");
    expect(renderer.promptText({ messages: [{ role: "user", content: "Hi" }] })).toContain("Reasoning: medium");
  });
}
