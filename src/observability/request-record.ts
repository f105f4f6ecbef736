import type { FinishReason, PromptInput } from "../engine/types.js";
import type { GatewayMetrics, Transport } from "./metrics.js";

/**
 * What the log line and the metrics say about one request, filled in as it goes. Prompt and completion
 * text are kept only when `log.content` is on.
 */
/** One API request's server span. */
export interface RequestSpan {
  readonly traceId: string;
  /** The W3C trace-context headers that make a downstream call (an upstream server) this span's child. */
  propagationHeaders(): Record<string, string>;
  /** Ends the span with what the record says: GenAI attributes, the queue / prompt / generation phases, the status. */
  end(record: RequestRecord, status: number): void;
}

export class RequestRecord {
  readonly startedAt = performance.now();
  /** GenAI's operation name: chat, text_completion, embeddings. */
  operation?: string;
  model?: string;
  /** The id of the response object (chatcmpl-…, resp_…, msg_…). */
  responseId?: string;
  /** What the request asked of the sampler. */
  request?: { maxTokens: number; temperature: number; topP: number; seed: number };
  /** When the admitted request went to the engine (it then waited queueWaitMs for a slot). */
  admittedAt?: number;
  /** The engine process that ran it. */
  engineProcess?: number;
  key?: string;
  slot?: number;
  queueWaitMs?: number;
  promptTokens?: number;
  cachedTokens?: number;
  completionTokens?: number;
  /** Speculative decoding's drafted tokens, accepted and rejected. */
  drafts?: { accepted: number; rejected: number };
  ttftMs?: number;
  finishReason?: FinishReason;
  /** The status of an error that ended a stream after its 200 headers (or of a WebSocket request). */
  errorStatus?: number;
  /** What went wrong (an error's code or type), for the trace. */
  errorType?: string;
  prompt?: PromptInput;
  completion?: string;

  /** The request's trace span, when tracing is on and sampled it. */
  span?: RequestSpan;

  constructor(
    public transport: Transport,
    readonly keepContent: boolean,
  ) {}

  /** The log line's fields; `status` is the response's. */
  fields(status: number): Record<string, unknown> {
    const ms = (value?: number) => (value === undefined ? undefined : Math.round(value * 10) / 10);
    return {
      key: this.key,
      model: this.model,
      transport: this.transport,
      slot: this.slot,
      queueWaitMs: ms(this.queueWaitMs),
      promptTokens: this.promptTokens,
      cachedTokens: this.cachedTokens,
      evaluatedTokens: this.promptTokens === undefined ? undefined : this.promptTokens - (this.cachedTokens ?? 0),
      completionTokens: this.completionTokens,
      ...(this.drafts ? { draftsAccepted: this.drafts.accepted, draftsRejected: this.drafts.rejected } : {}),
      ttftMs: ms(this.ttftMs),
      durationMs: ms(performance.now() - this.startedAt),
      finishReason: this.finishReason,
      status,
      ...(this.span ? { traceId: this.span.traceId } : {}),
      ...(this.keepContent ? { prompt: this.prompt, completion: this.completion } : {}),
    };
  }

  /** Counts a finished generation request in the metrics (requests that never reached a model are not counted), and ends its span. */
  count(metrics: GatewayMetrics, status: number): void {
    this.span?.end(this, status);
    if (!this.model) return;
    metrics.requests.inc({ model: this.model, transport: this.transport, status: String(status), finish_reason: this.finishReason ?? "none" });
    metrics.requestDuration.observe({ model: this.model }, (performance.now() - this.startedAt) / 1000);
  }
}
