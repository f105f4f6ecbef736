import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { STORIES_260K, startTestGateway, type TestGateway } from "../helpers/gateway.js";
import { TestSocket } from "../helpers/websocket.js";

// The story model does not think on its own. Under DeepSeek's chat template (thinking between <think> and
// </think>) a grammar makes it write a thinking block and then an answer, so the split is tested on real output.
const THINK_THEN_ANSWER = 'root ::= "<think>" [a-z ]{8,40} "</think>" [a-z .]{4,30}';

describe("reasoning_content for templates that separate thinking", () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({
      engine: { slots: 1, ctxSize: 512 },
      models: [
        { id: "thinker", path: STORIES_260K, chatTemplate: "deepSeek" },
        { id: "thinker-inline", path: STORIES_260K, chatTemplate: "deepSeek", reasoning: "inline" },
      ],
    });
  });
  afterAll(() => gw.close());

  const body = (model: string) => ({ model, messages: [{ role: "user" as const, content: "Why is the sky blue?" }], max_tokens: 80, temperature: 0, grammar: THINK_THEN_ANSWER });

  it("moves the thinking to reasoning_content and leaves the answer in content; inline keeps both in content", async () => {
    const separate = (await gw.client.chat.completions.create(body("thinker") as never)) as never as { choices: { message: { content: string; reasoning_content?: string } }[] };
    const { content, reasoning_content: reasoning } = separate.choices[0]!.message;
    expect(reasoning).toMatch(/^[a-z ]{8,40}$/);
    expect(content).toMatch(/^[a-z .]+$/);
    const inline = (await gw.client.chat.completions.create(body("thinker-inline") as never)) as never as { choices: { message: { content: string; reasoning_content?: string } }[] };
    expect(inline.choices[0]!.message.reasoning_content).toBeUndefined();
    expect(inline.choices[0]!.message.content.replace(/<\/think>\s*/, "</think>")).toBe(`<think>${reasoning}</think>${content}`);
  });

  it("streams reasoning_content deltas before the content deltas, over SSE and WebSocket alike", async () => {
    const whole = (await gw.client.chat.completions.create(body("thinker") as never)) as never as { choices: { message: { content: string; reasoning_content: string } }[] };
    const order: ("reasoning" | "content")[] = [];
    let reasoning = "";
    let content = "";
    for await (const chunk of await gw.client.chat.completions.create({ ...body("thinker"), stream: true } as never) as never as AsyncIterable<{ choices: { delta: { content?: string; reasoning_content?: string } }[] }>) {
      const delta = chunk.choices[0]?.delta ?? {};
      if (delta.reasoning_content) {
        reasoning += delta.reasoning_content;
        order.push("reasoning");
      }
      if (delta.content) {
        content += delta.content;
        order.push("content");
      }
    }
    expect(reasoning).toBe(whole.choices[0]!.message.reasoning_content);
    expect(content).toBe(whole.choices[0]!.message.content);
    expect(order.indexOf("content")).toBeGreaterThan(order.lastIndexOf("reasoning"));

    const socket = await TestSocket.open(gw);
    socket.send({ type: "chat.completions.create", id: "r", body: { ...body("thinker"), stream: true } });
    await socket.next((m) => m.type === "done" && m.id === "r");
    const deltas = socket.forId("r").filter((m) => m.type === "chunk").map((m) => m.data.choices[0]?.delta ?? {});
    socket.close();
    expect(deltas.map((d) => d.reasoning_content ?? "").join("")).toBe(reasoning);
    expect(deltas.map((d) => d.content ?? "").join("")).toBe(content);
  });

  it("leaves text without thinking markers in content", async () => {
    const plain = (await gw.client.chat.completions.create({ model: "thinker", messages: [{ role: "user", content: "Hi" }], max_tokens: 20, temperature: 0 })) as never as { choices: { message: { content: string; reasoning_content?: string } }[] };
    expect(plain.choices[0]!.message.reasoning_content).toBeUndefined();
    expect(plain.choices[0]!.message.content.length).toBeGreaterThan(0);
  });
});

describe("reasoning items in the Responses API", () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ engine: { slots: 1, ctxSize: 512 }, models: [{ id: "thinker", path: STORIES_260K, chatTemplate: "deepSeek" }] });
  });
  afterAll(() => gw.close());

  // grammar: the gateway's extension (as on chat), so that the story model writes a thinking block.
  const body = { model: "thinker", input: "Why is the sky blue?", max_output_tokens: 80, temperature: 0, grammar: THINK_THEN_ANSWER, reasoning: { effort: "low" } };

  it("puts the thinking in a reasoning item before the message, and counts its tokens", async () => {
    const response = await gw.client.responses.create(body as never);
    expect(response.output.map((item) => item.type)).toEqual(["reasoning", "message"]);
    const [reasoning, message] = response.output as unknown as [{ content: { type: string; text: string }[] }, { content: { text: string }[] }];
    expect(reasoning.content[0]).toMatchObject({ type: "reasoning_text" });
    expect(reasoning.content[0]!.text).toMatch(/^[a-z ]{8,40}$/);
    expect(message.content[0]!.text).toMatch(/^[a-z .]+$/);
    expect(response.usage!.output_tokens_details.reasoning_tokens).toBeGreaterThan(0);
    expect(response.usage!.output_tokens_details.reasoning_tokens).toBeLessThan(response.usage!.output_tokens);
    expect(response.reasoning).toMatchObject({ effort: "low" });

    const stream = gw.client.responses.stream(body as never);
    const types: string[] = [];
    for await (const event of stream) types.push(event.type);
    const final = await stream.finalResponse();
    expect(types.indexOf("response.reasoning_text.delta")).toBeLessThan(types.indexOf("response.output_text.delta"));
    expect(types).toContain("response.reasoning_text.done");
    expect(final.output).toHaveLength(2);
    expect((final.output[0] as { content: { text: string }[] }).content[0]!.text).toBe(reasoning.content[0]!.text);
    expect(final.output_text).toBe(message.content[0]!.text);
  });
});
