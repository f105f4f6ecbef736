import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { jsonSchema, streamText, tool } from "ai";
import { startTestGateway, type TestGateway } from "../helpers/gateway.js";

// The Vercel AI SDK's OpenAI-compatible provider parses our SSE with its own code (not the openai package's).
describe("the Vercel AI SDK against the gateway", () => {
  let gw: TestGateway;
  let provider: ReturnType<typeof createOpenAICompatible>;
  beforeAll(async () => {
    gw = await startTestGateway({ engine: { slots: 1, ctxSize: 1024 } });
    provider = createOpenAICompatible({ name: "gateway", baseURL: gw.baseURL, apiKey: "test", includeUsage: true });
  });
  afterAll(() => gw.close());

  it("streams a chat answer equal to the one the openai SDK gets, with its usage", async () => {
    const prompt = "Tell me a story about a cat.";
    const expected = await gw.client.chat.completions.create({ model: gw.model, messages: [{ role: "user", content: prompt }], max_tokens: 24, temperature: 0 });
    const result = streamText({ model: provider.chatModel(gw.model), prompt, maxOutputTokens: 24, temperature: 0 });
    let text = "";
    let parts = 0;
    for await (const delta of result.textStream) {
      text += delta;
      parts++;
    }
    expect(parts).toBeGreaterThan(1);
    expect(text).toBe(expected.choices[0]!.message.content);
    const usage = await result.usage;
    expect(usage.outputTokens).toBe(expected.usage!.completion_tokens);
    expect(usage.inputTokens).toBe(expected.usage!.prompt_tokens);
  });

  it("streams a forced tool call that the SDK parses into its typed input", async () => {
    const result = streamText({
      model: provider.chatModel(gw.model),
      prompt: "What is the weather in Paris?",
      temperature: 0,
      maxOutputTokens: 60,
      tools: {
        get_weather: tool({
          description: "The weather in a city",
          inputSchema: jsonSchema<{ city: string; unit: "c" | "f" }>({
            type: "object",
            properties: { city: { type: "string", maxLength: 12 }, unit: { enum: ["c", "f"] } },
            required: ["city", "unit"],
            additionalProperties: false,
          }),
        }),
      },
      toolChoice: { type: "tool", toolName: "get_weather" },
    });
    const calls = await result.toolCalls;
    expect(calls).toHaveLength(1);
    expect(calls[0]!.toolName).toBe("get_weather");
    const input = calls[0]!.input as { city: string; unit: string };
    expect(typeof input.city).toBe("string");
    expect(["c", "f"]).toContain(input.unit);
    expect(await result.finishReason).toBe("tool-calls");
  });
});

// The OpenAI Agents SDK drives the Responses API with its own request and event handling (tool loop, strict schemas).
describe("the OpenAI Agents SDK against the gateway's Responses API", () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ engine: { slots: 1, ctxSize: 1024 } });
  });
  afterAll(() => gw.close());

  it("runs one agent turn that calls a function tool and returns its result", async () => {
    const { Agent, OpenAIResponsesModel, run, setTracingDisabled, tool: agentTool } = await import("@openai/agents");
    const { z } = await import("zod");
    setTracingDisabled(true); // its traces go to OpenAI's servers
    const cities: string[] = [];
    const getWeather = agentTool({
      name: "get_weather",
      description: "The weather in a city",
      parameters: z.object({ city: z.string().max(12) }),
      execute: async ({ city }) => {
        cities.push(city);
        return `Sunny in ${city}`;
      },
    });
    const agent = new Agent({
      name: "Weather",
      instructions: "Answer with the weather.",
      model: new OpenAIResponsesModel(gw.client, gw.model),
      tools: [getWeather],
      modelSettings: { toolChoice: "required", temperature: 0, maxTokens: 100, parallelToolCalls: false },
      toolUseBehavior: "stop_on_first_tool",
    });
    const result = await run(agent, "What is the weather in Paris?");
    expect(cities).toHaveLength(1);
    expect(result.finalOutput).toBe(`Sunny in ${cities[0]}`);
    const call = result.newItems.find((item) => item.type === "tool_call_item");
    expect(call).toBeDefined();

    const streamed = await run(agent, "And in Rome?", { stream: true });
    const kinds = new Set<string>();
    for await (const event of streamed) if (event.type === "raw_model_stream_event") kinds.add(event.data.type);
    await streamed.completed;
    expect(cities).toHaveLength(2);
    expect(streamed.finalOutput).toBe(`Sunny in ${cities[1]}`);
    expect(kinds).toContain("response_done");
  });
});
