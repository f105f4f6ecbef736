import { createServer, type Server } from "node:http";
import { once } from "node:events";
import { Writable } from "node:stream";
import pino from "pino";
import OpenAI from "openai";
import type { ChatCompletionCreateParamsStreaming } from "openai/resources/chat/completions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postJson, startTestGateway, SYNTHETIC_57M, waitForIdleSlots, type TestGateway } from "../helpers/gateway.js";
import { TestSocket } from "../helpers/websocket.js";

type Value = { stringValue?: string; intValue?: string | number; doubleValue?: number; boolValue?: boolean; arrayValue?: { values: Value[] } };
interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
  status: { code?: number; message?: string };
  events: { name: string }[];
  service: string;
}

const valueOf = (v: Value): unknown =>
  v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : undefined) ?? v.doubleValue ?? v.boolValue ?? v.arrayValue?.values.map(valueOf);

/** A real OTLP/HTTP collector: decodes the JSON the SDK's exporter posts to /v1/traces. */
class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  readonly headers: Record<string, string | string[] | undefined>[] = [];
  private constructor(private readonly server: Server) {}

  static async start(): Promise<OtlpReceiver> {
    const server = createServer();
    const receiver = new OtlpReceiver(server);
    server.on("request", (request, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (c: Buffer) => chunks.push(c));
      request.on("end", () => {
        receiver.headers.push(request.headers);
        if (request.url === "/v1/traces" && request.headers["content-type"]?.includes("json")) receiver.take(JSON.parse(Buffer.concat(chunks).toString("utf8")));
        response.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  private take(body: any): void {
    for (const resource of body.resourceSpans ?? []) {
      const service = resource.resource.attributes.find((a: { key: string }) => a.key === "service.name")?.value.stringValue;
      for (const scope of resource.scopeSpans ?? [])
        for (const span of scope.spans ?? [])
          this.spans.push({
            ...span,
            service,
            attributes: Object.fromEntries((span.attributes ?? []).map((a: { key: string; value: Value }) => [a.key, valueOf(a.value)])),
            events: span.events ?? [],
            status: span.status ?? {},
          });
    }
  }

  async waitFor(match: (span: ReceivedSpan) => boolean, ms = 5_000): Promise<ReceivedSpan> {
    const started = Date.now();
    for (;;) {
      const span = this.spans.find(match);
      if (span) return span;
      if (Date.now() - started > ms) throw new Error(`no such span within ${ms} ms; got ${this.spans.map((s) => `${s.name} (${s.attributes["http.response.status_code"]})`).join(", ")}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

const KEY = "sk-traced-0123456789";
const LIMITED = "sk-traced-limited-0123456789";
const traceparent = (traceId: string, spanId: string) => `00-${traceId}-${spanId}-01`;
const hex = (n: number) => Array.from({ length: n }, () => Math.floor(Math.random() * 16).toString(16)).join("");

describe("OpenTelemetry traces over OTLP/HTTP", () => {
  let receiver: OtlpReceiver;
  let engine: TestGateway; // the upstream tier: a gateway serving the model itself
  let front: TestGateway; // the front tier: its model is served by `engine`
  const lines: Record<string, unknown>[] = [];
  beforeAll(async () => {
    receiver = await OtlpReceiver.start();
    const tracing = (serviceName: string) => ({ endpoint: receiver.url, serviceName, exportDelayMs: 50, headers: "x-collector-key=secret%20value" });
    engine = await startTestGateway(
      { engine: { slots: 1, ctxSize: 512 }, tracing: tracing("engine-tier"), log: { level: "info", content: true }, auth: { keys: [{ name: "front", key: KEY }, { name: "limited", key: LIMITED, limits: { rpm: 1 } }] } },
      SYNTHETIC_57M,
      pino({ level: "info" }, new Writable({ write: (chunk, _, done) => (lines.push(JSON.parse(String(chunk))), done()) })),
    );
    front = await startTestGateway({ tracing: tracing("front-tier"), models: [{ id: "remote", upstreams: [{ url: engine.baseURL, apiKey: KEY, model: "test-model" }] }] });
  });
  afterAll(async () => {
    await front?.close();
    await engine?.close();
    await receiver?.close();
  });

  it("records a streamed chat as a server span with GenAI attributes, its phases and the caller's trace", async () => {
    const traceId = hex(32);
    const parentId = hex(16);
    const client = new OpenAI({ baseURL: engine.baseURL, apiKey: KEY, maxRetries: 0, defaultHeaders: { traceparent: traceparent(traceId, parentId) } });
    // ignore_eos: sampled at 0.5 without a seed, the random model may otherwise end early (finish "stop").
    const params: ChatCompletionCreateParamsStreaming & { ignore_eos: boolean } = { model: "test-model", messages: [{ role: "user", content: "Tell me a story" }], max_tokens: 8, temperature: 0.5, ignore_eos: true, stream: true };
    const stream = await client.chat.completions.create(params);
    let id = "";
    for await (const chunk of stream) id = chunk.id;

    const span = await receiver.waitFor((s) => s.traceId === traceId && s.kind === 2);
    expect(span.parentSpanId).toBe(parentId);
    expect(span.service).toBe("engine-tier");
    expect(span.name).toBe("chat test-model");
    expect(span.attributes).toMatchObject({
      "gen_ai.operation.name": "chat",
      "gen_ai.request.model": "test-model",
      "gen_ai.request.max_tokens": 8,
      "gen_ai.request.temperature": 0.5,
      "gen_ai.response.id": id,
      "gen_ai.response.finish_reasons": ["length"],
      "gen_ai.usage.output_tokens": 8,
      "llm_gateway.api_key": "front",
      "llm_gateway.slot": 0,
      "http.response.status_code": 200,
    });
    expect(span.attributes["gen_ai.usage.input_tokens"]).toBeGreaterThan(3);
    expect(span.attributes["llm_gateway.engine.pid"]).toEqual(expect.any(Number));
    expect(span.status.code ?? 0).not.toBe(2);
    expect(span.events.map((e) => e.name)).toContain("gen_ai.first_token");
    const children = receiver.spans.filter((s) => s.parentSpanId === span.spanId).map((s) => s.name);
    expect(children.sort()).toEqual(["generation", "prompt evaluation", "queue wait"]);
    // log.content is on for this instance: the text goes into its spans too.
    expect(String(span.attributes["gen_ai.input.messages"])).toContain("Tell me a story");
    // The request's log line names its trace.
    const line = lines.find((l) => l.msg === "request completed" && l.traceId === traceId);
    expect(line).toBeDefined();
    expect(receiver.headers.some((h) => h["x-collector-key"] === "secret value")).toBe(true);
  });

  it("marks a 429 and a client abort as errors", async () => {
    const limited = new OpenAI({ baseURL: engine.baseURL, apiKey: LIMITED, maxRetries: 0 });
    await limited.chat.completions.create({ model: "test-model", messages: [{ role: "user", content: "one" }], max_tokens: 1 });
    const traceId = hex(32);
    const refused = await postJson(engine.baseURL, "/chat/completions", { model: "test-model", messages: [{ role: "user", content: "two" }], max_tokens: 1 }, { headers: { "content-type": "application/json", authorization: `Bearer ${LIMITED}`, traceparent: traceparent(traceId, hex(16)) } });
    expect(refused.status).toBe(429);
    const rejected = await receiver.waitFor((s) => s.traceId === traceId && s.kind === 2);
    expect(rejected.status.code).toBe(2);
    expect(rejected.attributes).toMatchObject({ "http.response.status_code": 429, "error.type": "rate_limit_exceeded", "llm_gateway.api_key": "limited" });

    const abortedTrace = hex(32);
    const controller = new AbortController();
    const client = new OpenAI({ baseURL: engine.baseURL, apiKey: KEY, maxRetries: 0, defaultHeaders: { traceparent: traceparent(abortedTrace, hex(16)) } });
    // ignore_eos: a story that ends before the third chunk would finish instead of being aborted.
    const stream = await client.chat.completions.create({ model: "test-model", messages: [{ role: "user", content: "A long story" }], max_tokens: 2000, stream: true, ignore_eos: true } as never, { signal: controller.signal }) as unknown as AsyncIterable<unknown>;
    let chunks = 0;
    for await (const _ of stream) if (++chunks === 3) controller.abort();
    await waitForIdleSlots(engine, 2_000);
    const aborted = await receiver.waitFor((s) => s.traceId === abortedTrace && s.kind === 2);
    expect(aborted.status).toMatchObject({ code: 2 });
    expect(aborted.attributes).toMatchObject({ "http.response.status_code": 499, "error.type": "cancelled" });
  });

  it("follows a request through a front gateway to its upstream gateway as one trace", async () => {
    const traceId = hex(32);
    const response = await postJson(front.baseURL, "/chat/completions", { model: "remote", messages: [{ role: "user", content: "Hello" }], max_tokens: 4 }, { headers: { "content-type": "application/json", traceparent: traceparent(traceId, hex(16)) } });
    expect(response.status).toBe(200);
    const frontSpan = await receiver.waitFor((s) => s.traceId === traceId && s.service === "front-tier" && s.kind === 2);
    const engineSpan = await receiver.waitFor((s) => s.traceId === traceId && s.service === "engine-tier" && s.kind === 2);
    expect(engineSpan.parentSpanId).toBe(frontSpan.spanId);
    expect(frontSpan.name).toBe("chat remote");
    expect(engineSpan.name).toBe("chat test-model");
    // The front tier keeps log.content off: no text in its spans.
    expect(frontSpan.attributes["gen_ai.input.messages"]).toBeUndefined();
  });

  it("gives each WebSocket request a span of its own", async () => {
    const traceId = hex(32);
    const socket = await TestSocket.open(engine, { headers: { authorization: `Bearer ${KEY}`, traceparent: traceparent(traceId, hex(16)) } });
    try {
      socket.send({ type: "completions.create", id: "a", body: { model: "test-model", prompt: "Once", max_tokens: 2 } });
      socket.send({ type: "completions.create", id: "b", body: { model: "test-model", prompt: "Twice", max_tokens: 2 } });
      await socket.next((m) => m.id === "a" && m.type === "done");
      await socket.next((m) => m.id === "b" && m.type === "done");
    } finally {
      socket.close();
    }
    await receiver.waitFor((s) => s.traceId === traceId && s.kind === 2 && s.attributes["llm_gateway.transport"] === "websocket");
    await new Promise((r) => setTimeout(r, 200));
    const spans = receiver.spans.filter((s) => s.traceId === traceId && s.kind === 2);
    expect(spans).toHaveLength(2);
    expect(spans.every((s) => s.name === "text_completion test-model")).toBe(true);
  });
});

describe("tracing off", () => {
  it("is off without an endpoint or with OTEL_SDK_DISABLED", async () => {
    const { createTracing } = await import("../../src/observability/tracing.js");
    const off = { endpoint: "", tracesEndpoint: "", headers: "", serviceName: "x", sampler: "always_on" as const, samplerArg: 1, disabled: false, exportDelayMs: 1, maxQueuedSpans: 1 };
    expect(await createTracing(off, pino({ level: "silent" }))).toBeUndefined();
    expect(await createTracing({ ...off, endpoint: "http://127.0.0.1:1", disabled: true }, pino({ level: "silent" }))).toBeUndefined();
  });

  it("leaves the SDK unloaded: only otel-tracing.ts imports it, and only tracing.ts imports that, lazily", async () => {
    const { readdirSync, readFileSync } = await import("node:fs");
    const { join } = await import("node:path");
    const root = join(import.meta.dirname, "../../src");
    const files = readdirSync(root, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts"));
    const importers = (pattern: RegExp) => files.filter((f) => pattern.test(readFileSync(join(root, f), "utf8"))).sort();
    expect(importers(/from "@opentelemetry\//)).toEqual(["observability/otel-tracing.ts"]);
    expect(importers(/otel-tracing\.js"/)).toEqual(["observability/tracing.ts"]);
    expect(readFileSync(join(root, "observability/tracing.ts"), "utf8")).toMatch(/await import\("\.\/otel-tracing\.js"\)/);
    expect(readFileSync(join(root, "observability/tracing.ts"), "utf8")).not.toMatch(/^import [^t].*otel-tracing/m);
  });
});
