import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChatTemplate } from "../../src/engine/chat-template.js";
import { templateCorpus } from "../helpers/chat-templates.js";
import { jsonBody, postJson, startTestGateway, type TestGateway } from "../helpers/gateway.js";

// Gemma 4's chat template is quadratic in the conversation (1,000 messages: ~2.4 s of Jinja here). A long
// conversation renders on a worker thread within request.renderTimeoutMs: past it a 400, and the model's other
// requests are served meanwhile.
const GEMMA_4 = templateCorpus().find((t) => t.name === "google-gemma-4-31B-it")!.source;
const conversation = (n: number) => Array.from({ length: n }, (_, i) => ({ role: i % 2 ? "assistant" : "user", content: `message ${i} about a cat` }));

describe("rendering a long conversation with a slow chat template (stories260K with Gemma 4's template)", () => {
  let gw: TestGateway;
  const root = () => gw.baseURL.replace(/\/v1$/, "");
  beforeAll(async () => {
    const file = join(tmpdir(), `gemma-4-${process.pid}.jinja`);
    writeFileSync(file, GEMMA_4);
    gw = await startTestGateway({ engine: { slots: 2, ctxSize: 1024, chatTemplate: file }, request: { renderTimeoutMs: 1_000 } });
  });
  afterAll(() => gw.close());

  it("renders a long conversation off the event loop exactly as the template does", async () => {
    const messages = conversation(201);
    const response = await postJson(root(), "/apply-template", { model: gw.model, messages });
    expect(response.status).toBe(200);
    const expected = new ChatTemplate(GEMMA_4, { bos: "", eos: "", addsBos: false }).render({ messages: messages as never });
    expect((await jsonBody(response)).prompt).toContain(expected.slice(expected.indexOf("message 0")));
  });

  it("answers 400 prompt_render_timeout past request.renderTimeoutMs, while the model's other requests are served", async () => {
    const started = Date.now();
    const slow = postJson(gw.baseURL, "/chat/completions", { model: gw.model, messages: conversation(3_001), max_tokens: 2 });
    await new Promise((r) => setTimeout(r, 200));
    const quickStarted = Date.now();
    const quick = await postJson(gw.baseURL, "/chat/completions", { model: gw.model, messages: [{ role: "user", content: "Hi" }], max_tokens: 2 });
    expect(quick.status).toBe(200);
    expect(Date.now() - quickStarted).toBeLessThan(800); // not behind the render
    const response = await slow;
    expect(response.status).toBe(400);
    expect((await jsonBody(response)).error).toMatchObject({ code: "prompt_render_timeout", param: "messages" });
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});
