import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Template } from "@huggingface/jinja";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonBody, postJson, startTestGateway, STORIES_260K, type TestGateway } from "../helpers/gateway.js";
import { templateCorpus } from "../helpers/chat-templates.js";

// A real model served with a real template from llama.cpp's corpus (a file, as llama-server's --chat-template-file):
// the prompt the engine evaluates is the template's, and the request may set the template's own variables.
describe("a model's chat template from a file (Qwen3's)", () => {
  let gw: TestGateway;
  let source: string;
  const messages = [{ role: "system", content: "You are a storyteller." }, { role: "user", content: "Tell me a story." }];
  beforeAll(async () => {
    source = templateCorpus().find((t) => t.name === "Qwen-Qwen3-0.6B")!.source;
    const file = join(mkdtempSync(join(tmpdir(), "tpl-")), "qwen3.jinja");
    writeFileSync(file, source);
    gw = await startTestGateway({ engine: { slots: 1, ctxSize: 512, chatTemplate: file } });
  });
  afterAll(() => gw.close());

  // As llama-server's /apply-template shows it: the template's text, without the BOS ("<s>") the tokenizer adds.
  const reference = (extra: object = {}) => new Template(source).render({ messages, add_generation_prompt: true, bos_token: "<s>", eos_token: "</s>", enable_thinking: true, ...extra }); // Qwen3 reads no date

  it("shows the rendered prompt at /apply-template, equal to the template's own rendering", async () => {
    const { prompt } = await jsonBody(await postJson(gw.baseURL.replace(/\/v1$/, ""), "/apply-template", { model: gw.model, messages }));
    expect(prompt).toBe(reference());
    expect(prompt).not.toMatch(/^<s>/);
    expect(prompt).not.toContain("<think>"); // thinking stays on, as llama-server's default: no empty block
  });

  it("passes chat_template_kwargs to the template (enable_thinking: false writes the empty thinking block)", async () => {
    const { prompt } = await jsonBody(await postJson(gw.baseURL.replace(/\/v1$/, ""), "/apply-template", { model: gw.model, messages, chat_template_kwargs: { enable_thinking: false } }));
    expect(prompt).toBe(reference({ enable_thinking: false }));
    expect(prompt).toContain("<think>\n\n</think>");
  });

  it("evaluates exactly the tokens /tokenize gives for the messages", async () => {
    const root = gw.baseURL.replace(/\/v1$/, "");
    const { tokens } = await jsonBody(await postJson(root, "/tokenize", { model: gw.model, messages }));
    // The same text as a prompt: BOS added by the tokenizer, special-token text parsed.
    const { tokens: fromText } = await jsonBody(await postJson(root, "/tokenize", { model: gw.model, content: reference(), add_special: true }));
    expect(tokens).toEqual(fromText);
    const answer = await gw.client.chat.completions.create({ model: gw.model, messages: messages as never, max_tokens: 4 });
    expect(answer.usage!.prompt_tokens).toBe(tokens.length);
    const off = await gw.client.chat.completions.create({ model: gw.model, messages: messages as never, max_tokens: 4, chat_template_kwargs: { enable_thinking: false } } as never);
    expect(off.usage!.prompt_tokens).toBeGreaterThan(tokens.length);
  });

  it("names the rendering in /v1/models", async () => {
    expect((await jsonBody(await fetch(`${gw.baseURL}/models/${gw.model}`))).meta.chat_template).toBe("jinja");
  });

  it("answers a bad chat_template_kwargs or messages for /tokenize with 400", async () => {
    const root = gw.baseURL.replace(/\/v1$/, "");
    expect((await postJson(root, "/apply-template", { model: gw.model, messages, chat_template_kwargs: "yes" })).status).toBe(400);
    expect((await postJson(root, "/tokenize", { model: gw.model })).status).toBe(400);
  });
});

// DeepSeek-R1-Distill's template opens a thinking block for the answer (`<｜Assistant｜><think>\n`) unless told not to.
// llama-server leaves it open (thinking is on by default), so the model reasons; a grammar (a format, a forced call)
// shapes the answer after the reasoning. Turning thinking off, per request or per model, closes it the template's way.
describe("a reasoning model's template (DeepSeek-R1-Distill): thinking on by default, off per request and per model", () => {
  let gw: TestGateway;
  const root = () => gw.baseURL.replace(/\/v1$/, "");
  const messages = [{ role: "user", content: "Tell me a story." }];
  beforeAll(async () => {
    const file = join(mkdtempSync(join(tmpdir(), "tpl-")), "r1.jinja");
    writeFileSync(file, templateCorpus().find((t) => t.name === "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B")!.source);
    gw = await startTestGateway({
      engine: { slots: 1, ctxSize: 256, chatTemplate: file },
      models: [{ id: "r1" }, { id: "r1-off", thinking: "off" }].map((m) => ({ ...m, path: STORIES_260K })),
    });
  });
  afterAll(() => gw.close());

  const promptOf = async (body: object) => (await jsonBody(await postJson(root(), "/apply-template", { model: "r1", messages, ...body }))).prompt as string;
  const promptTokens = async (body: object) => (await gw.client.chat.completions.create({ model: "r1", messages, max_tokens: 1, ...body } as never)).usage!.prompt_tokens;

  it("ends the prompt with an open <think>; chat_template_kwargs and reasoning_effort \"none\" close it; the model setting closes it by default", async () => {
    expect(await promptOf({})).toMatch(/<｜Assistant｜><think>\n$/);
    expect(await promptOf({ chat_template_kwargs: { enable_thinking: false } })).toMatch(/<think>\n<\/think>$/);
    expect(await promptOf({ reasoning_effort: "none" })).toMatch(/<think>\n<\/think>$/);
    expect((await jsonBody(await postJson(root(), "/apply-template", { model: "r1-off", messages }))).prompt).toMatch(/<think>\n<\/think>$/);
    expect((await jsonBody(await postJson(root(), "/apply-template", { model: "r1-off", messages, chat_template_kwargs: { enable_thinking: true } }))).prompt).toMatch(/<think>\n$/);
  });

  it("evaluates the prompt it shows: off per request (chat, Responses, Messages) costs the closing tokens", async () => {
    const on = await promptTokens({});
    const off = await promptTokens({ reasoning_effort: "none" });
    expect(off).toBeGreaterThan(on);
    const responses = await gw.client.responses.create({ model: "r1", input: messages as never, max_output_tokens: 1, reasoning: { effort: "none" as never } });
    expect(responses.usage!.input_tokens).toBe(off);
    const anthropic = await postJson(root(), "/v1/messages", { model: "r1", messages, max_tokens: 1, thinking: { type: "disabled" } }, { headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" } });
    const reply = await jsonBody(anthropic);
    expect(anthropic.status, JSON.stringify(reply)).toBe(200);
    const usage = reply.usage;
    expect(usage.input_tokens + (usage.cache_read_input_tokens ?? 0)).toBe(off);
  });

  it("lets the model think before a response_format: the reasoning is free text, the grammar waits for </think>", async () => {
    const answer = (await gw.client.chat.completions.create({
      model: "r1",
      messages: messages as never,
      max_tokens: 12,
      temperature: 0,
      response_format: { type: "json_schema", json_schema: { name: "n", schema: { type: "object", properties: { n: { type: "integer" } }, required: ["n"] } } },
    })) as never as { choices: { message: { content: string | null; reasoning_content?: string }; finish_reason: string }[] };
    const { content, reasoning_content: reasoning } = answer.choices[0]!.message;
    // The story model never closes the block: all 12 tokens are its reasoning, none forced into JSON.
    expect(reasoning).toMatch(/[a-z]{3}/i);
    expect(reasoning).not.toMatch(/^\s*\{/);
    expect(content ?? "").toBe("");
    expect(answer.choices[0]!.finish_reason).toBe("length");
    // A forced tool call likewise: the thinking first, the call's JSON after it (here: never, within 12 tokens).
    const forced = (await gw.client.chat.completions.create({
      model: "r1",
      messages: messages as never,
      max_tokens: 12,
      temperature: 0,
      tools: [{ type: "function", function: { name: "count", parameters: { type: "object", properties: { n: { type: "integer" } } } } }],
      tool_choice: "required",
    })) as never as { choices: { message: { tool_calls?: unknown[]; reasoning_content?: string } }[] };
    expect(forced.choices[0]!.message.reasoning_content).toBe(reasoning);
    expect(forced.choices[0]!.message.tool_calls ?? []).toEqual([]);
  });
});
