import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Template } from "@huggingface/jinja";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonBody, postJson, startTestGateway, type TestGateway } from "../helpers/gateway.js";
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

  // stories260K's BOS is "<s>", added by its tokenizer (the template writes none).
  const reference = (extra: object = {}) => `<s>${new Template(source).render({ messages, add_generation_prompt: true, bos_token: "<s>", eos_token: "</s>", ...extra })}`; // Qwen3 reads no date

  it("shows the rendered prompt at /apply-template, equal to the template's own rendering", async () => {
    const { prompt } = await jsonBody(await postJson(gw.baseURL.replace(/\/v1$/, ""), "/apply-template", { model: gw.model, messages }));
    expect(prompt).toBe(reference());
    expect(prompt).not.toContain("<think>"); // thinking stays on, as the template's default: no empty block
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
    const { tokens: fromText } = await jsonBody(await postJson(root, "/tokenize", { model: gw.model, content: reference().slice("<s>".length), add_special: true }));
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
