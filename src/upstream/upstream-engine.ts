import type { IncomingMessage } from "node:http";
import type { Logger } from "pino";
import { bodyText, UpstreamClient } from "./upstream-client.js";
import type { GatewayConfig } from "../config/schema.js";
import { ApiError, invalidRequest } from "../errors.js";
import type { ChatMessage, EngineStats, FinishReason, Generation, GenerationEvent, GenerationRequest, ModelDescription, ModelEngine, ToolUse, Usage } from "../engine/types.js";
import { ReplicaSet, type Upstream, type UpstreamConfig } from "./replica-set.js";
import { affinityKey, chooseReplica, type RoutingPolicy } from "./routing.js";

interface OpenAiChunk {
  error?: { message: string; type?: string; code?: string | null; param?: string | null };
  choices?: {
    text?: string;
    delta?: { content?: string | null; reasoning_content?: string | null; tool_calls?: { index: number; id?: string; function?: { name?: string; arguments?: string } }[] };
    finish_reason?: string | null;
  }[];
  usage?: { prompt_tokens: number; completion_tokens: number; prompt_tokens_details?: { cached_tokens?: number } } | null;
}

/**
 * A model served by other OpenAI-compatible servers (other gateways, llama-server, vLLM, Ollama), each a replica
 * (DNS names expand to one per address, see replica-set.ts). Each request goes to a healthy replica chosen by the
 * routing policy (routing.ts: the replica likely to hold its prefix, within a load bound, or the least loaded); one
 * that fails before its first byte is retried on the next, never after. Chunks are passed on as they arrive, and
 * the client's abort aborts the upstream request.
 */
export class UpstreamEngine implements ModelEngine {
  readonly description: ModelDescription;
  private readonly replicas: ReplicaSet;
  private readonly healthTimer: NodeJS.Timeout;
  private readonly client: UpstreamClient;
  private generated = 0;
  private readonly promptTokens = { total: 0, cached: 0 };
  /** Per replica, the requests sent to it that have no response headers yet. */
  private readonly waiting = new Map<Upstream, Set<AbortController>>();

  constructor(
    id: string,
    upstreams: UpstreamConfig[],
    private readonly settings: GatewayConfig["upstream"],
    private readonly log: Logger,
    private readonly routing: RoutingPolicy = settings.routing,
  ) {
    this.replicas = new ReplicaSet(upstreams, { refreshMs: settings.dnsRefreshMs, servers: settings.dnsServers }, log, id);
    this.description = {
      id, path: upstreams.map((u) => u.url).join(", "), slots: 0, ctxSize: 0, layout: "batched", gpu: false, gpuLayers: 0, threads: 0, chatTemplate: "upstream", created: Math.floor(Date.now() / 1000),
    };
    this.client = new UpstreamClient(settings.idleTimeoutMs, settings.connectTimeoutMs);
    this.healthTimer = setInterval(() => void this.checkHealth(), settings.healthCheckIntervalMs);
    this.healthTimer.unref();
  }

  async start(request: GenerationRequest, signal: AbortSignal): Promise<Generation> {
    if (request.logprobs) throw invalidRequest(`'logprobs' is not supported for '${this.description.id}', a model served by upstream servers.`, "logprobs");
    await this.replicas.ready;
    const key = this.routing === "prefix-affinity" ? affinityKey(request, this.settings.affinityChars) : ""; // least-outstanding ignores it
    const tried = new Set<Upstream>();
    let lastError: ApiError | undefined;
    for (let upstream = this.pick(tried, key); upstream; upstream = this.pick(tried, key)) {
      tried.add(upstream);
      upstream.outstanding++;
      try {
        const response = await this.send(upstream, request, signal);
        return { promptTokens: 0, cachedTokens: 0, slot: -1, queueWaitMs: 0, events: this.events(upstream, response, signal) };
      } catch (error) {
        upstream.outstanding--;
        if (signal.aborted) throw error;
        if (error instanceof ApiError && error.status < 500 && error.status !== 429) throw error; // the request is at fault: another upstream would say the same
        lastError = error instanceof ApiError ? error : this.unreachable(upstream, error as Error);
      }
    }
    throw lastError ?? new ApiError(503, `No upstream of model '${this.description.id}' is available.`, "server_error", "upstream_unavailable", null, 1_000);
  }

  stats(): EngineStats {
    const replicas = this.replicas.all();
    const busy = replicas.reduce((sum, u) => sum + u.outstanding, 0);
    return {
      slotsTotal: 0,
      slotsBusy: busy,
      queuedRequests: 0,
      queuedTokens: 0,
      generatedTokens: this.generated,
      upstream: {
        retries: this.client.retries,
        promptTokens: this.promptTokens.total,
        cachedTokens: this.promptTokens.cached,
        replicas: replicas.map(({ url, outstanding, healthy }) => ({ url, outstanding, healthy })),
      },
    };
  }

  async close(): Promise<void> {
    clearInterval(this.healthTimer);
    this.replicas.close();
    this.client.close();
  }

  /** The routing policy's choice among healthy replicas not tried yet; unhealthy ones only when nothing else is left. */
  private pick(tried: Set<Upstream>, key: string): Upstream | undefined {
    const left = this.replicas.all().filter((u) => !tried.has(u));
    const candidates = left.some((u) => u.healthy) ? left.filter((u) => u.healthy) : left;
    return chooseReplica(candidates, this.routing, key, this.settings.loadBound);
  }

  private async send(upstream: Upstream, request: GenerationRequest, signal: AbortSignal): Promise<IncomingMessage> {
    const chat = request.prompt.kind === "chat";
    const body = {
      model: upstream.model ?? this.description.id,
      ...(request.prompt.kind === "chat"
        ? { messages: request.prompt.messages.map(toOpenAiMessage), ...(request.prompt.templateArgs ? { chat_template_kwargs: request.prompt.templateArgs } : {}) }
        : { prompt: request.prompt.text }),
      ...(request.tools ? toOpenAiTools(request.tools) : {}),
      ...(request.maxTokens < Number.MAX_SAFE_INTEGER ? { max_tokens: request.maxTokens } : {}), // none: the replica's own rule
      temperature: request.sampling.temperature,
      top_p: request.sampling.topP,
      presence_penalty: request.sampling.presencePenalty,
      frequency_penalty: request.sampling.frequencyPenalty,
      seed: request.sampling.seed,
      ...(request.stop.length > 0 ? { stop: request.stop } : {}),
      ...(request.ignoreEos ? { ignore_eos: true } : {}),
      ...(request.logitBias ? { logit_bias: request.logitBias } : {}),
      stream: true,
      stream_options: { include_usage: true },
    };
    // No deadline on the response headers: a busy replica (another gateway) sends them only when a slot takes the
    // request, after its queue; the connection has its own timeout (upstream-client.ts), and a replica that stops
    // answering fails its health check, which moves the requests still waiting for its headers (abandon()).
    const controller = new AbortController();
    const forward = () => controller.abort(signal.reason);
    signal.addEventListener("abort", forward, { once: true });
    const waiting = this.waiting.get(upstream) ?? new Set<AbortController>();
    this.waiting.set(upstream, waiting.add(controller));
    let response: IncomingMessage;
    try {
      response = await this.client.post({
        url: `${upstream.url.replace(/\/$/, "")}${chat ? "/chat/completions" : "/completions"}`,
        headers: { "content-type": "application/json", accept: "text/event-stream", ...request.traceHeaders, ...(upstream.apiKey ? { authorization: `Bearer ${upstream.apiKey}` } : {}) },
        body: JSON.stringify(body),
        signal: controller.signal,
      });
    } catch (error) {
      signal.removeEventListener("abort", forward);
      throw controller.signal.reason instanceof Error && !signal.aborted ? controller.signal.reason : error;
    } finally {
      waiting.delete(controller);
      if (waiting.size === 0 && this.waiting.get(upstream) === waiting) this.waiting.delete(upstream); // replicas come and go with DNS
    }
    const status = response.statusCode ?? 502;
    if (status >= 200 && status < 300) return response;
    const text = await bodyText(response).catch(() => "");
    const error = (parseJson(text) as OpenAiChunk | undefined)?.error;
    // A replica that is only full (another gateway's queue: 503 server_overloaded) is busy, not failing: the request
    // moves on, and the replica keeps its place for the next ones (and its conversations' caches).
    if (status >= 500 && !(status === 503 && error?.code === "server_overloaded")) this.markDown(upstream, `HTTP ${status}`);
    const retryAfter = Number(response.headers["retry-after-ms"]) || undefined;
    throw new ApiError(status, error?.message ?? `Upstream answered HTTP ${status}.`, error?.type ?? "server_error", error?.code ?? "upstream_error", error?.param ?? null, retryAfter);
  }

  private async *events(upstream: Upstream, response: IncomingMessage, signal: AbortSignal): AsyncGenerator<GenerationEvent> {
    let text = 0;
    let finish: FinishReason | undefined;
    let usage: Usage | undefined;
    try {
      let buffer = "";
      response.setEncoding("utf8");
      for await (const piece of response as AsyncIterable<string>) {
        buffer += piece;
        let end: number;
        while ((end = buffer.indexOf("\n\n")) !== -1) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (!frame.startsWith("data: ") || frame === "data: [DONE]") continue;
          const chunk = JSON.parse(frame.slice(6)) as OpenAiChunk;
          if (chunk.error) {
            yield { type: "error", error: { status: 502, message: `Upstream failed mid-stream: ${chunk.error.message}`, type: "server_error", code: chunk.error.code ?? "upstream_error", param: null } };
            return;
          }
          if (chunk.usage) usage = { promptTokens: chunk.usage.prompt_tokens, completionTokens: chunk.usage.completion_tokens, cachedTokens: chunk.usage.prompt_tokens_details?.cached_tokens ?? 0 };
          const choice = chunk.choices?.[0];
          const delta = choice?.text ?? choice?.delta?.content;
          if (delta) {
            text++;
            yield { type: "text", text: delta };
          }
          if (choice?.delta?.reasoning_content) yield { type: "reasoning", text: choice.delta.reasoning_content };
          for (const call of choice?.delta?.tool_calls ?? []) {
            if (call.id) yield { type: "tool_call", index: call.index, id: call.id, name: call.function?.name ?? "" };
            if (call.function?.arguments) yield { type: "tool_arguments", index: call.index, text: call.function.arguments };
          }
          if (choice?.finish_reason) finish = choice.finish_reason === "length" || choice.finish_reason === "tool_calls" ? choice.finish_reason : "stop";
        }
      }
      if (!finish) {
        yield { type: "error", error: { status: 502, message: "The upstream closed the stream before it finished.", type: "server_error", code: "upstream_error", param: null } };
        return;
      }
      if (usage) {
        this.promptTokens.total += usage.promptTokens;
        this.promptTokens.cached += usage.cachedTokens;
      }
      yield { type: "done", finishReason: finish, usage: usage ?? { promptTokens: 0, cachedTokens: 0, completionTokens: text } };
    } catch (error) {
      if (signal.aborted) return;
      this.markDown(upstream, (error as Error).message);
      yield { type: "error", error: { status: 502, message: `The upstream connection failed mid-stream: ${(error as Error).message}`, type: "server_error", code: "upstream_error", param: null } };
    } finally {
      upstream.outstanding--;
      this.generated += usage?.completionTokens ?? text;
      if (!response.complete) response.destroy(); // a consumer that stopped early: do not return a half-read connection to the pool
    }
  }

  private unreachable(upstream: Upstream, error: Error): ApiError {
    this.markDown(upstream, error.message);
    return new ApiError(503, `No upstream of model '${this.description.id}' answered (last: ${error.message}).`, "server_error", "upstream_unavailable", null, 1_000);
  }

  private markDown(upstream: Upstream, reason: string): void {
    if (upstream.healthy) this.log.warn({ model: this.description.id, upstream: upstream.url, reason }, "upstream failing: no requests until its health check passes");
    upstream.healthy = false;
  }

  /** Moves the requests still waiting for a failed replica's response headers to the next replica (see start()). */
  private abandon(upstream: Upstream): void {
    const waiting = this.waiting.get(upstream);
    this.waiting.delete(upstream);
    for (const controller of waiting ?? []) controller.abort(new Error("it failed its health check while the request waited for its response"));
  }

  private async checkHealth(): Promise<void> {
    await Promise.all(
      this.replicas.all().map(async (upstream) => {
        const ok = await fetch(`${upstream.url.replace(/\/$/, "")}/models`, {
          headers: upstream.apiKey ? { authorization: `Bearer ${upstream.apiKey}` } : {},
          signal: AbortSignal.timeout(this.settings.connectTimeoutMs),
        }).then((r) => r.ok, () => false);
        if (ok && !upstream.healthy) this.log.info({ model: this.description.id, upstream: upstream.url }, "upstream healthy again");
        if (!ok) {
          this.markDown(upstream, "health check failed");
          this.abandon(upstream);
        } else upstream.healthy = true;
      }),
    );
  }
}

function toOpenAiMessage(message: ChatMessage): object {
  if (message.role === "tool") return { role: "tool", tool_call_id: message.toolCallId, content: message.content };
  if (message.role === "assistant" && message.toolCalls)
    return { role: "assistant", content: message.content || null, tool_calls: message.toolCalls.map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: c.arguments } })) };
  return { role: message.role, content: message.content };
}

function toOpenAiTools({ tools, choice, parallel }: ToolUse): object {
  return {
    tools: tools.map((t) => ({ type: "function", function: { name: t.name, ...(t.description ? { description: t.description } : {}), ...(t.parameters ? { parameters: t.parameters } : {}) } })),
    tool_choice: choice.mode === "function" ? { type: "function", function: { name: choice.name } } : choice.mode,
    parallel_tool_calls: parallel,
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
