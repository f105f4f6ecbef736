import type { IncomingHttpHeaders } from "node:http";
import type { FastifyBaseLogger } from "fastify";
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, defaultTextMapGetter, defaultTextMapSetter, trace, type Attributes, type Span, type Tracer } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { AlwaysOffSampler, AlwaysOnSampler, BasicTracerProvider, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler, type Sampler } from "@opentelemetry/sdk-trace-base";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import type { RequestRecord, RequestSpan } from "./request-record.js";
import type { Tracing, TracingConfig } from "./span.js";

// The OpenTelemetry SDK behind tracing.ts: a tracer provider of our own (nothing global is registered), W3C trace
// context in and out, spans batched to an OTLP/HTTP collector. Attribute names follow the GenAI semantic conventions.

const propagator = new W3CTraceContextPropagator();

/** performance.now() as the epoch milliseconds spans take. */
const epochMs = (perfNow: number) => performance.timeOrigin + perfNow;

function sampler({ sampler: name, samplerArg }: TracingConfig): Sampler {
  const root = name.endsWith("always_off") ? new AlwaysOffSampler() : name.endsWith("traceidratio") ? new TraceIdRatioBasedSampler(samplerArg) : new AlwaysOnSampler();
  return name.startsWith("parentbased_") ? new ParentBasedSampler({ root }) : root;
}

/** OTEL_EXPORTER_OTLP_HEADERS' format: k1=v1,k2=v2 (values may be percent-encoded). */
export function parseHeaders(text: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const pair of text.split(",")) {
    const at = pair.indexOf("=");
    if (at > 0) headers[pair.slice(0, at).trim()] = decodeURIComponent(pair.slice(at + 1).trim());
  }
  return headers;
}

export class OtelTracing implements Tracing {
  private readonly provider: BasicTracerProvider;
  private readonly tracer: Tracer;

  constructor(config: TracingConfig, url: string, private readonly log: FastifyBaseLogger) {
    const exporter = new OTLPTraceExporter({ url, headers: parseHeaders(config.headers) });
    this.provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ "service.name": config.serviceName }),
      sampler: sampler(config),
      spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: config.exportDelayMs, maxQueueSize: config.maxQueuedSpans, maxExportBatchSize: Math.min(512, config.maxQueuedSpans) })],
    });
    this.tracer = this.provider.getTracer("llm-gateway");
  }

  startRequest(name: string, headers: IncomingHttpHeaders, attributes: Record<string, string | number>): RequestSpan | undefined {
    const parent = propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter);
    const span = this.tracer.startSpan(name, { kind: SpanKind.SERVER, attributes }, parent);
    if (!span.isRecording()) return undefined;
    return new OtelRequestSpan(span, this.tracer);
  }

  async shutdown(): Promise<void> {
    try {
      await this.provider.shutdown();
    } catch (error) {
      this.log.warn({ err: (error as Error).message }, "tracing: could not send the last spans");
    }
  }
}

class OtelRequestSpan implements RequestSpan {
  private ended = false;

  constructor(
    private readonly span: Span,
    private readonly tracer: Tracer,
  ) {}

  get traceId(): string {
    return this.span.spanContext().traceId;
  }

  propagationHeaders(): Record<string, string> {
    const headers: Record<string, string> = {};
    propagator.inject(trace.setSpan(ROOT_CONTEXT, this.span), headers, defaultTextMapSetter);
    return headers;
  }

  end(record: RequestRecord, status: number): void {
    if (this.ended) return;
    this.ended = true;
    const now = performance.now();
    const { span } = this;
    if (record.operation && record.model) span.updateName(`${record.operation} ${record.model}`);
    span.setAttributes(attributesOf(record, status));
    this.phases(record, now);
    if (status >= 400) span.setStatus({ code: SpanStatusCode.ERROR, message: status === 499 ? "cancelled: the client went away" : (record.errorType ?? `status ${status}`) });
    span.end(epochMs(now));
  }

  /** Where the time went, as child spans: waiting for a slot, evaluating the prompt up to the first token, generating. */
  private phases(record: RequestRecord, now: number): void {
    if (record.admittedAt === undefined) return;
    const parent = trace.setSpan(ROOT_CONTEXT, this.span);
    const child = (name: string, from: number, to: number, attributes: Attributes = {}) =>
      this.tracer.startSpan(name, { kind: SpanKind.INTERNAL, startTime: epochMs(from), attributes }, parent).end(epochMs(to));
    const slotAt = record.admittedAt + (record.queueWaitMs ?? 0);
    child("queue wait", record.admittedAt, slotAt, { "llm_gateway.slot": record.slot ?? -1 });
    if (record.ttftMs === undefined) return;
    const firstTokenAt = record.startedAt + record.ttftMs;
    this.span.addEvent("gen_ai.first_token", epochMs(firstTokenAt));
    child("prompt evaluation", Math.min(slotAt, firstTokenAt), firstTokenAt, {
      "gen_ai.usage.input_tokens": record.promptTokens ?? 0,
      "llm_gateway.cached_tokens": record.cachedTokens ?? 0,
      "llm_gateway.evaluated_tokens": (record.promptTokens ?? 0) - (record.cachedTokens ?? 0),
    });
    child("generation", firstTokenAt, now, { "gen_ai.usage.output_tokens": record.completionTokens ?? 0 });
  }
}

function attributesOf(record: RequestRecord, status: number): Attributes {
  const attributes: Attributes = { "http.response.status_code": status, "llm_gateway.transport": record.transport };
  const set = (key: string, value: string | number | string[] | undefined) => {
    if (value !== undefined) attributes[key] = value;
  };
  set("gen_ai.operation.name", record.operation);
  set("gen_ai.request.model", record.model);
  set("gen_ai.response.model", record.model);
  set("gen_ai.request.max_tokens", record.request?.maxTokens);
  set("gen_ai.request.temperature", record.request?.temperature);
  set("gen_ai.request.top_p", record.request?.topP);
  set("gen_ai.request.seed", record.request?.seed);
  set("gen_ai.response.id", record.responseId);
  set("gen_ai.response.finish_reasons", record.finishReason ? [record.finishReason] : undefined);
  set("gen_ai.usage.input_tokens", record.promptTokens);
  set("gen_ai.usage.output_tokens", record.completionTokens);
  set("llm_gateway.cached_tokens", record.cachedTokens);
  set("llm_gateway.api_key", record.key);
  set("llm_gateway.slot", record.slot);
  set("llm_gateway.engine.pid", record.engineProcess);
  set("llm_gateway.queue_wait_ms", record.queueWaitMs);
  set("llm_gateway.ttft_ms", record.ttftMs);
  set("error.type", status >= 400 ? (status === 499 ? "cancelled" : (record.errorType ?? String(status))) : undefined);
  if (record.keepContent) {
    // Only with log.content: true, as for the log line.
    set("gen_ai.input.messages", record.prompt ? JSON.stringify(record.prompt.kind === "chat" ? record.prompt.messages : [{ role: "user", content: record.prompt.text }]) : undefined);
    set("gen_ai.output.messages", record.completion !== undefined ? JSON.stringify([{ role: "assistant", content: record.completion }]) : undefined);
  }
  return attributes;
}
