import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonBody, postJson, SHARED_MODELS, startTestGateway, STORIES_260K, SYNTHETIC_57M, type TestGateway } from "../helpers/gateway.js";

// Speculative decoding on real models: drafts from the prompt (lookup) and from a draft model (the 57M model shares
// stories260K's vocabulary, so stories260K drafts for it). Greedy output must be exactly what plain decoding gives.
describe("speculative decoding", () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({
      engine: { slots: 1, ctxSize: 512 },
      models: [
        { id: "plain", path: STORIES_260K },
        { id: "lookup", path: STORIES_260K, speculative: "lookup", draftTokens: 4 },
        { id: "plain-57m", path: SYNTHETIC_57M },
        { id: "draft-57m", path: SYNTHETIC_57M, speculative: "draft", draftModel: STORIES_260K, draftTokens: 4 },
      ],
    });
  });
  afterAll(() => gw.close());

  const complete = async (model: string, prompt: string, maxTokens = 60) => {
    const response = await postJson(gw.baseURL, "/completions", { model, prompt, max_tokens: maxTokens, temperature: 0 });
    expect(response.status).toBe(200);
    return jsonBody(response);
  };
  const drafts = async (model: string) => {
    const text = await (await fetch(`${gw.baseURL.replace(/\/v1$/, "")}/metrics`)).text();
    const read = (outcome: string) => Number(text.match(new RegExp(`llm_gateway_speculative_tokens_total\\{model="${model}",outcome="${outcome}"\\} (\\d+)`))?.[1] ?? 0);
    return { accepted: read("accepted"), rejected: read("rejected") };
  };

  it("lookup: the same greedy text as plain decoding, with drafts from the prompt accepted", async () => {
    // Input-grounded: the story repeats what the prompt already says.
    const prompt = "Lily had a red ball. Lily had a red ball. She played with the red ball in the park. Lily had a red ball. She played";
    for (const text of [prompt, "Once upon a time there was a little dog named Max. Max liked to run. Once upon a time"]) {
      const plain = await complete("plain", text);
      const speculative = await complete("lookup", text);
      expect(speculative.choices[0].text).toBe(plain.choices[0].text);
      expect(speculative.usage.completion_tokens).toBe(plain.usage.completion_tokens);
    }
    const counts = await drafts("lookup");
    expect(counts.accepted).toBeGreaterThan(0);
    expect((await gw.client.models.list()).data.find((m) => m.id === "lookup")).toMatchObject({ meta: { speculative: "lookup" } });
  });

  it("draft model: the same greedy text as plain decoding, streamed or not", async () => {
    const prompt = "Once upon a time";
    const plain = await complete("plain-57m", prompt, 40);
    const speculative = await complete("draft-57m", prompt, 40);
    expect(speculative.choices[0].text).toBe(plain.choices[0].text);
    const stream = await gw.client.chat.completions.create({ model: "draft-57m", messages: [{ role: "user", content: prompt }], max_tokens: 40, temperature: 0, stream: true });
    let streamed = "";
    for await (const chunk of stream) streamed += chunk.choices[0]?.delta?.content ?? "";
    const whole = await gw.client.chat.completions.create({ model: "plain-57m", messages: [{ role: "user", content: prompt }], max_tokens: 40, temperature: 0 });
    expect(streamed).toBe(whole.choices[0]!.message.content);
    const counts = await drafts("draft-57m");
    expect(counts.accepted + counts.rejected).toBeGreaterThan(0);
  });

  it("draft model: keeps a request's token bias (ignore_eos, logit_bias) and grammar to the model, and answers as plain decoding does", async () => {
    const biased = { prompt: "Once upon a time", max_tokens: 30, temperature: 0, ignore_eos: true, logit_bias: { "300": -100 } };
    const plain = await jsonBody(await postJson(gw.baseURL, "/completions", { model: "plain-57m", ...biased }));
    const speculative = await jsonBody(await postJson(gw.baseURL, "/completions", { model: "draft-57m", ...biased }));
    expect(speculative.choices[0].text).toBe(plain.choices[0].text);
    expect(speculative.usage.completion_tokens).toBe(30);
    const json = { messages: [{ role: "user", content: "A person" }], max_tokens: 60, temperature: 0, response_format: { type: "json_schema", json_schema: { name: "p", schema: { type: "object", properties: { name: { type: "string", maxLength: 8 } }, required: ["name"] } } } };
    const plainJson = await jsonBody(await postJson(gw.baseURL, "/chat/completions", { model: "plain-57m", ...json }));
    const speculativeJson = await jsonBody(await postJson(gw.baseURL, "/chat/completions", { model: "draft-57m", ...json }));
    expect(speculativeJson.choices[0].message.content).toBe(plainJson.choices[0].message.content);
    expect(typeof JSON.parse(speculativeJson.choices[0].message.content).name).toBe("string");
  });

  it("refuses a draft model whose vocabulary is not the model's", async () => {
    await expect(
      startTestGateway({ models: [{ id: "mismatch", path: STORIES_260K, speculative: "draft", draftModel: resolve(SHARED_MODELS, "TinyStories-656K-Q8_0.gguf") }] }),
    ).rejects.toThrow(/vocabulary/);
  });
});
