import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pino from "pino";
import { jsonBody, postJson, sseData, startTestGateway, SYNTHETIC_57M, type TestGateway } from "../helpers/gateway.js";
import { metricValue } from "../helpers/metrics.js";

/** A logger whose JSON lines the test can read. */
function capturedLogger() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({ write: (chunk, _, done) => (lines.push(JSON.parse(String(chunk))), done()) });
  return { lines, logger: pino({ level: "info" }, sink) };
}

const SECRET_PROMPT = "The zebra whispered a password";

describe("metrics and request logs", () => {
  let gw: TestGateway;
  const { lines, logger } = capturedLogger();
  beforeAll(async () => {
    gw = await startTestGateway({ auth: { keys: [{ name: "alice", key: "sk-alice-123456789", limits: { rpm: 2 } }] } }, undefined, logger);
  });
  afterAll(() => gw.close());
  const headers = { "content-type": "application/json", authorization: "Bearer sk-alice-123456789" };
  const scrape = async () => (await fetch(`${gw.baseURL.replace(/\/v1$/, "")}/metrics`)).text();

  it("observes a streamed request: time to first token, token gaps, token counts, status; gauges back to 0", async () => {
    const model = { model: "test-model" };
    const before = await scrape();
    const response = await postJson(gw.baseURL, "/completions", { model: gw.model, prompt: SECRET_PROMPT, max_tokens: 20, ignore_eos: true, stream: true, stream_options: { include_usage: true } }, { headers });
    const usage = JSON.parse(sseData(await response.text()).at(-2)!).usage;
    await new Promise((r) => setTimeout(r, 20)); // the request is counted when its response closes
    const after = await scrape();
    const delta = (name: string, labels: Record<string, string> = model) => metricValue(after, name, labels) - metricValue(before, name, labels);
    expect(delta("llm_gateway_time_to_first_token_seconds_count")).toBe(1);
    expect(delta("llm_gateway_inter_token_latency_seconds_count")).toBeGreaterThanOrEqual(15); // one gap per text chunk after the first
    expect(delta("llm_gateway_generated_tokens_total")).toBe(20);
    expect(delta("llm_gateway_prompt_tokens_total", { ...model, source: "evaluated" }) + delta("llm_gateway_prompt_tokens_total", { ...model, source: "cached" })).toBe(usage.prompt_tokens);
    expect(delta("llm_gateway_requests_total", { ...model, transport: "sse", status: "200", finish_reason: "length" })).toBe(1);
    expect(delta("llm_gateway_request_duration_seconds_count")).toBe(1);
    expect(metricValue(after, "llm_gateway_active_streams", { transport: "sse" })).toBe(0);
    expect(metricValue(after, "llm_gateway_slots_busy", model)).toBe(0);
    expect(metricValue(after, "llm_gateway_slots_total", model)).toBe(1);
    expect(metricValue(after, "llm_gateway_queue_depth", model)).toBe(0);
    expect(metricValue(after, "llm_gateway_model_load_seconds", model)).toBeGreaterThan(0);
    expect(metricValue(after, "llm_gateway_rate_limiter_state", { state: "memory" })).toBe(1);
  });

  it("counts rate-limit rejections", async () => {
    await postJson(gw.baseURL, "/completions", { model: gw.model, prompt: "x", max_tokens: 1 }, { headers }); // the second of 2 rpm
    const limited = await postJson(gw.baseURL, "/completions", { model: gw.model, prompt: "x", max_tokens: 1 }, { headers });
    expect(limited.status).toBe(429);
    expect(metricValue(await scrape(), "llm_gateway_rate_limit_rejections_total", { limit: "requests" })).toBe(1);
  });

  it("logs one line per request with its figures, and never the prompt or the completion", async () => {
    const line = lines.find((l) => l.msg === "request completed" && l.transport === "sse")!;
    expect(line).toMatchObject({ key: "alice", model: "test-model", slot: 0, promptTokens: expect.any(Number), completionTokens: 20, finishReason: "length", status: 200, url: "/v1/completions" });
    expect(line.ttftMs).toBeGreaterThan(0);
    expect(line.durationMs).toBeGreaterThanOrEqual(line.ttftMs as number);
    expect(line.queueWaitMs).toBeGreaterThanOrEqual(0);
    expect(lines.find((l) => l.msg === "request completed" && l.status === 429)).toMatchObject({ key: "alice", model: "test-model" });
    const all = JSON.stringify(lines);
    expect(all).not.toContain("zebra");
    expect(all).not.toContain("completion\":\"");
  });
});

describe("log.content", () => {
  it("puts prompt and completion text in the request line when turned on", async () => {
    const { lines, logger } = capturedLogger();
    const gw = await startTestGateway({ log: { level: "info", content: true } }, undefined, logger);
    try {
      const body = await jsonBody(await postJson(gw.baseURL, "/completions", { model: gw.model, prompt: SECRET_PROMPT, max_tokens: 5 }));
      await new Promise((r) => setTimeout(r, 20));
      const line = lines.find((l) => l.msg === "request completed")!;
      expect(line.prompt).toEqual({ kind: "text", text: SECRET_PROMPT });
      expect(line.completion).toBe(body.choices[0].text);
    } finally {
      await gw.close();
    }
  });
});

describe("graceful shutdown", () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ engine: { slots: 2, ctxSize: 2048 } }, SYNTHETIC_57M);
  });

  const root = () => gw.baseURL.replace(/\/v1$/, "");
  const stream = (maxTokens: number) => postJson(gw.baseURL, "/completions", { model: gw.model, prompt: "Once", max_tokens: maxTokens, ignore_eos: true, stream: true });

  it("fails /ready and refuses new requests at once, lets short streams finish and ends long ones with an error event", async () => {
    expect((await fetch(`${root()}/ready`)).status).toBe(200);
    const short = await stream(60);
    const long = await stream(1500);
    const shortText = short.text();
    const longText = long.text();
    const stopped = gw.shutdown(3_000); // the short stream fits in the grace period (0.6 s alone), the long one (~10 s) does not
    await new Promise((r) => setTimeout(r, 50));
    const ready = await fetch(`${root()}/ready`);
    expect(ready.status).toBe(503);
    expect((await jsonBody(ready)).reasons).toContain("shutting down");
    const refused = await postJson(gw.baseURL, "/completions", { model: gw.model, prompt: "x", max_tokens: 2 });
    expect(refused.status).toBe(503);
    expect((await jsonBody(refused)).error.code).toBe("server_shutting_down");

    const shortData = sseData(await shortText);
    expect(shortData.at(-1)).toBe("[DONE]");
    expect(JSON.parse(shortData.at(-2)!).choices[0].finish_reason).toBe("length");
    const longData = sseData(await longText);
    expect(longData.at(-1)).not.toBe("[DONE]");
    expect(JSON.parse(longData.at(-1)!).error.code).toBe("server_shutting_down");
    await stopped;
  });
});
