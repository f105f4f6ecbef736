import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../src/engine/model-file.js";
import { startTestGateway, type TestGateway } from "../helpers/gateway.js";

// The first requests of Codex CLI (/v1/responses) and Claude Code (/v1/messages), with every field those clients
// send, through the official SDKs: each is answered 200 with a well-formed stream, and a second turn that carries a
// tool call and its result is accepted too. Claude Code's is the request claude-code 2.1.332 sent (captured at a
// recording server: its 21 tools and their JSON-schema 2020-12 schemas, a system message among the messages,
// adaptive thinking, effort, context management, metadata.user_id), with long texts cut to their first 100
// characters; about 10k tokens. Codex's likewise from codex-cli 0.171.0 (`codex exec`), and a second one written with
// what other Codex configurations add (instructions, a custom apply_patch tool, text.verbosity).
const fixture = (name: string, model: string) => JSON.parse(readFileSync(resolve(PROJECT_ROOT, "test/fixtures/agents", name), "utf8").replaceAll("MODEL", model));

describe("coding agents' requests (stories260K)", () => {
  let gw: TestGateway;
  let openai: OpenAI;
  let anthropic: Anthropic;
  beforeAll(async () => {
    // Flash attention off: on the story model it evaluates a 10k-token prompt several times faster (a CPU quirk).
    gw = await startTestGateway({ engine: { slots: 1, ctxSize: 12288, flashAttention: false } });
    openai = new OpenAI({ baseURL: gw.baseURL, apiKey: "unused", maxRetries: 0 });
    anthropic = new Anthropic({ baseURL: gw.baseURL.replace(/\/v1$/, ""), apiKey: "unused", maxRetries: 0 });
  });
  afterAll(() => gw.close());

  it("answers Codex's first request (namespace and hosted tools, include, prompt_cache_key, client_metadata, store false) with a complete stream", async () => {
    // The request codex 0.171 sent, and one written with what other configurations add (instructions, a custom tool, text).
    for (const name of ["codex-0.171-first-request.json", "codex-first-request.json"]) {
      const body = { ...fixture(name, gw.model), max_output_tokens: 24 };
      const events: string[] = [];
      let final: OpenAI.Responses.Response | undefined;
      for await (const event of await openai.responses.create(body as OpenAI.Responses.ResponseCreateParamsStreaming)) {
        events.push(event.type);
        if (event.type === "response.completed" || event.type === "response.incomplete") final = event.response;
      }
      expect(events[0], name).toBe("response.created");
      expect(events.at(-1), name).toMatch(/^response\.(completed|incomplete)$/);
      expect(final!.output.length, name).toBeGreaterThan(0);
      // The tools are echoed as sent; hosted and custom ones were only left out of the prompt.
      expect(final!.tools.map((tool) => tool.type), name).toEqual(body.tools.map((tool: { type: string }) => tool.type));
      expect(body.tools.map((tool: { type: string }) => tool.type)).toEqual(expect.arrayContaining(["function", "namespace", "web_search"]));
    }
  });

  it("gives a forced call to a namespaced function back as {namespace, name}, and takes it back in the next turn", async () => {
    const body = fixture("codex-0.171-first-request.json", gw.model);
    const first = await openai.responses.create({ ...body, stream: false, tool_choice: "required", tools: body.tools.filter((tool: { type: string }) => tool.type === "namespace"), max_output_tokens: 80, temperature: 0 });
    const call = first.output.find((item) => item.type === "function_call") as OpenAI.Responses.ResponseFunctionToolCall & { namespace?: string };
    expect(call).toBeDefined();
    expect(call.namespace).toBe("multi_agent_v1");
    expect(["close_agent", "resume_agent", "send_input", "spawn_agent", "wait_agent"]).toContain(call.name);

    const second = await openai.responses.create({
      ...body,
      stream: false,
      max_output_tokens: 8,
      input: [...body.input, { type: "function_call", call_id: call.call_id, namespace: call.namespace, name: call.name, arguments: call.arguments }, { type: "function_call_output", call_id: call.call_id, output: "agent started" }],
    } as never);
    expect(["completed", "incomplete"]).toContain((second as OpenAI.Responses.Response).status);
  });

  it("answers Claude Code's first request (system message among messages, adaptive thinking, 2020-12 tool schemas, server tools, max_tokens 32000, ?beta=true)", async () => {
    const body = fixture("claude-code-2.1.332-first-request.json", gw.model);
    const stream = anthropic.messages.stream(
      { ...body, max_tokens: 24 }, // Claude Code asks for 32,000: accepted, and a story model would fill the context
      { query: { beta: "true" }, headers: { "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27,mid-conversation-tool-changes-2026-07-01,thinking-token-count-2026-05-13,effort-2025-11-24" } },
    );
    const events: string[] = [];
    stream.on("streamEvent", (event) => events.push(event.type));
    const message = await stream.finalMessage();
    expect(events[0]).toBe("message_start");
    expect(events.at(-1)).toBe("message_stop");
    expect(message.content.length).toBeGreaterThan(0);
    // Usage as Anthropic counts it: input_tokens leave out cache reads, and both are in the final usage.
    expect(message.usage.input_tokens).toBeGreaterThan(0);
    expect(message.usage.cache_read_input_tokens).toBeGreaterThanOrEqual(0);

    // The same conversation again: most of the prompt now comes from the slot's cache, and input_tokens leaves it out.
    const again = await anthropic.messages.create({ ...body, stream: false, max_tokens: 4 });
    expect(again.usage.cache_read_input_tokens).toBeGreaterThan(50);
    expect(again.usage.input_tokens).toBeLessThan(again.usage.cache_read_input_tokens!);
  });

  it("takes Claude Code's second turn: its tool_use and the tool_result, with a relaxed schema enforced where it can be", async () => {
    const body = fixture("claude-code-2.1.332-first-request.json", gw.model);
    // Read with a bounded path (maxLength is enforced, pattern relaxed) and no optional integers whose digits a story
    // model could go on writing: the forced call's JSON then always closes within max_tokens.
    const read = { name: "Read", description: "Reads a file.", input_schema: { $schema: "https://json-schema.org/draft/2020-12/schema", type: "object", properties: { file_path: { type: "string", pattern: "^/", maxLength: 40 } }, required: ["file_path"], additionalProperties: false } };
    const tools = body.tools.map((tool: { name: string }) => (tool.name === "Read" ? read : tool)); // in place: the prefix before it stays cached
    const forced = await anthropic.messages.create({ ...body, tools, stream: false, max_tokens: 200, temperature: 0, tool_choice: { type: "tool", name: "Read" }, thinking: { type: "disabled" } });
    const use = forced.content.find((block) => block.type === "tool_use") as Anthropic.ToolUseBlock;
    expect(use.name).toBe("Read");
    expect(typeof (use.input as { file_path: unknown }).file_path).toBe("string"); // the grammar held what it could: the type, the required field
    // The next turn as the client sends it: the same tools and settings, the call and its result appended (the prompt
    // up to them comes from the slot's cache).
    const next = await anthropic.messages.create({
      ...body,
      tools,
      thinking: { type: "disabled" },
      stream: false,
      max_tokens: 4,
      messages: [...body.messages, { role: "assistant", content: [use] }, { role: "user", content: [{ type: "tool_result", tool_use_id: use.id, content: "hello world" }] }],
    });
    expect(next.type).toBe("message");
    expect(next.usage.cache_read_input_tokens).toBeGreaterThan(forced.usage.input_tokens + forced.usage.cache_read_input_tokens! - 64);
  });
});

describe("engine.stop: a model that does not end its turns ends them where the operator says (stories260K)", () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ engine: { slots: 1, ctxSize: 2048, flashAttention: false, stop: ["."] } });
  });
  afterAll(() => gw.close());

  it("ends chat, Messages and Responses answers (tools offered too) at the first stop string, as the model's own end of turn; raw completions run on", async () => {
    const openai = new OpenAI({ baseURL: gw.baseURL, apiKey: "unused", maxRetries: 0 });
    const anthropic = new Anthropic({ baseURL: gw.baseURL.replace(/\/v1$/, ""), apiKey: "unused", maxRetries: 0 });
    const prompt = "Tell me a story about a dog.";
    const chat = await openai.chat.completions.create({ model: gw.model, messages: [{ role: "user", content: prompt }], max_tokens: 200, temperature: 0 });
    expect(chat.choices[0]!.finish_reason).toBe("stop");
    expect(chat.choices[0]!.message.content).not.toContain(".");
    expect(chat.usage!.completion_tokens).toBeLessThan(200);

    const message = await anthropic.messages.create({ model: gw.model, messages: [{ role: "user", content: prompt }], max_tokens: 200 });
    expect(message.stop_reason).toBe("end_turn"); // not stop_sequence: the client sent none
    expect(message.stop_sequence).toBeNull();
    expect((message.content[0] as Anthropic.TextBlock).text).not.toContain(".");

    // Tools offered, the model free to answer in text (node-llama-cpp's function-calling loop): the turn ends too.
    const tool = { type: "function" as const, name: "read_file", description: "Reads a file.", parameters: { type: "object", properties: { path: { type: "string" } }, required: ["path"] }, strict: false };
    const response = await openai.responses.create({ model: gw.model, input: prompt, tools: [tool], max_output_tokens: 200, temperature: 0 });
    expect(response.status).toBe("completed");
    expect(response.output_text).not.toContain(".");

    // A raw completion has no turn to end: the story goes on past its first sentence.
    const raw = await openai.completions.create({ model: gw.model, prompt: "Once upon a time", max_tokens: 200, temperature: 0 });
    expect(raw.choices[0]!.text).toContain(".");
  });
});
