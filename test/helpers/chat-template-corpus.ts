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
const MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(" ");
const today = (d = new Date()) => `${String(d.getDate()).padStart(2, "0")} ${MONTHS[d.getMonth()]} ${d.getFullYear()}`;
/** and datetime ("%b %d %Y"). */
const datetime = (d = new Date()) => `${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, "0")} ${d.getFullYear()}`;

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
 * The reference: Hugging Face's apply_chat_template semantics, without the BOS the tokenizer adds, and system messages
 * merged into the next user message for a template that refuses them, as llama.cpp does.
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
  // As llama-server renders by default: thinking on (enable_thinking: true) unless the request's arguments say otherwise.
  const text = new Template(source).render({ date_string: today(), datetime: datetime(), enable_thinking: true, ...c.args, messages, ...(tools ? { tools } : {}), add_generation_prompt: true, bos_token: BOS, eos_token: EOS });
  return text.startsWith(BOS) ? text.slice(BOS.length) : text; // llama-server's /apply-template: the tokenizer adds BOS
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

  // Seen side by side with llama-server --jinja on the same GGUF: where the gateway used to differ.
  const hi = { messages: [{ role: "system" as const, content: "You are terse." }, { role: "user" as const, content: "Hi." }] };
  const rendered = (name: string, input: Parameters<PromptRenderer["promptText"]>[0] = hi, thinking = true) =>
    new PromptRenderer(modelWith(name, templates.find((t) => t.name === name)!.source), "auto", { thinking }).promptText(input);

  it("leaves the thinking block a reasoning template opens open, as llama-server does (thinking on by default)", () => {
    expect(rendered("deepseek-ai-DeepSeek-R1-Distill-Qwen-32B")).toBe("You are terse.<｜User｜>Hi.<｜Assistant｜><think>\n");
    expect(rendered("deepseek-ai-DeepSeek-V3.1")).toMatch(/<｜Assistant｜><think>$/);
    expect(rendered("google-gemma-4-31B-it")).toMatch(/^<\|turn>system\n<\|think\|>\nYou are terse\.<turn\|>/);
    // Off per request, and per model (the `thinking` setting): the template's own way of closing or leaving out the block.
    const off = { ...hi, args: { enable_thinking: false } };
    expect(rendered("deepseek-ai-DeepSeek-R1-Distill-Qwen-32B", off)).toMatch(/<think>\n<\/think>$/);
    expect(rendered("deepseek-ai-DeepSeek-R1-Distill-Qwen-32B", hi, false)).toMatch(/<think>\n<\/think>$/);
    expect(rendered("deepseek-ai-DeepSeek-V3.1", hi, false)).toMatch(/<think><\/think>$/);
    expect(rendered("google-gemma-4-31B-it", hi, false)).not.toContain("<|think|>");
    expect(rendered("deepseek-ai-DeepSeek-R1-Distill-Qwen-32B", { ...hi, args: { enable_thinking: true } }, false)).toMatch(/<think>\n$/);
  });

  it("renders a template that loops over undefined tools or trims an undefined description, as jinja2 and llama.cpp do (Hermes-3 tool_use)", () => {
    const name = "NousResearch-Hermes-3-Llama-3.1-8B-tool_use";
    expect(() => new Template(templates.find((t) => t.name === name)!.source).render({ messages: hi.messages, add_generation_prompt: true })).toThrow(/for loop/);
    const text = rendered(name, { messages: [{ role: "user", content: "Hi." }] });
    expect(text).toMatch(/^<\|im_start\|>system\nYou are a function calling AI model\..*<tools> {2}<\/tools>/s);
    expect(text).toMatch(/<\|im_start\|>user\nHi\.<\|im_end\|>\n<\|im_start\|>assistant\n$/);
    // A parameter without a description: its line is written with an empty one instead of failing.
    const tools = [{ name: "get_weather", description: "Weather", parameters: { type: "object", properties: { city: { type: "string" } } } }];
    expect(rendered(name, { messages: [{ role: "user", content: "Hi." }], tools })).toContain("city(str): ");
  });
}
