import type { ErrorData, FinishReason, TokenLogprob } from "../../engine/types.js";
import { toOpenAiLogprob, toOpenAiUsage, type AnswerEvent, type OpenAiUsage, type ResponseShape, type StreamItem } from "../shared/response-shape.js";
import type { ResponsesRequest } from "./conversation.js";
import { itemId, messageItem, outputItems, reasoningItem, type ItemStatus, type ResponseItem, type ToolNames } from "./items.js";
import { toolNames } from "./protocol.js";
import type { ResponseStore } from "./store.js";

// OpenAI's Response object and its stream of named events (response.created ... response.completed), as the
// `openai` SDK's Response and ResponseStreamEvent types name them.

type Status = "in_progress" | "completed" | "incomplete" | "failed";

interface ResponseContext {
  id: string;
  model: string;
  seed: number;
  request: ResponsesRequest;
  /** Where the finished response is kept (absent with store: false). */
  store: ResponseStore | undefined;
  /** The namespaced functions' flat names (set by responseShape). */
  names?: ToolNames;
}

const usageOf = (usage: OpenAiUsage, reasoningTokens: number) => ({
  input_tokens: usage.prompt_tokens,
  input_tokens_details: { cached_tokens: usage.prompt_tokens_details.cached_tokens },
  output_tokens: usage.completion_tokens,
  output_tokens_details: { reasoning_tokens: reasoningTokens },
  total_tokens: usage.total_tokens,
});

/** The response object at any point of its life; the request's settings echoed as OpenAI echoes them. */
function responseObject({ id, model, seed, request }: ResponseContext, createdAt: number, status: Status, output: ResponseItem[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  const outputText = output.flatMap((item) => (item.type === "message" ? item.content.map((part) => part.text) : [])).join("");
  return {
    id,
    object: "response",
    created_at: createdAt,
    status,
    background: false,
    error: null,
    incomplete_details: null,
    instructions: request.instructions ?? null,
    max_output_tokens: request.max_output_tokens ?? null,
    metadata: request.metadata ?? {},
    model,
    output,
    output_text: outputText,
    parallel_tool_calls: request.parallel_tool_calls ?? true,
    previous_response_id: request.previous_response_id ?? null,
    reasoning: { effort: request.reasoning?.effort ?? null, summary: request.reasoning?.summary ?? null },
    store: request.store !== false,
    temperature: request.temperature ?? 1,
    text: { format: request.text?.format ?? { type: "text" }, verbosity: request.text?.verbosity ?? "medium" },
    tool_choice: request.tool_choice ?? "auto",
    tools: (request.tools ?? []).map((tool) => ({ description: null, parameters: null, strict: true, ...tool })),
    top_logprobs: request.top_logprobs ?? 0,
    top_p: request.top_p ?? 1,
    truncation: request.truncation ?? "disabled",
    usage: null,
    ...(request.user !== undefined ? { user: request.user } : {}),
    seed, // as every response of this server reports it (not in OpenAI's object)
    ...extra,
  };
}

/** The finished response object; stored (with its input and the conversation it continues) before anyone sees it. */
async function finish(context: ResponseContext, createdAt: number, output: ResponseItem[], finish: FinishReason, usage: object): Promise<Record<string, unknown>> {
  const incomplete = finish === "length";
  const response = responseObject(context, createdAt, incomplete ? "incomplete" : "completed", output, {
    completed_at: Math.floor(Date.now() / 1000),
    incomplete_details: incomplete ? { reason: "max_output_tokens" } : null,
    usage,
  });
  const { resolved } = context.request;
  await context.store?.put(context.id, { owner: resolved.owner, response, input: resolved.input, context: [...resolved.history, ...resolved.input, ...output] });
  return response;
}

export function responseShape(context: ResponseContext): ResponseShape {
  context = { ...context, names: toolNames(context.request.tools) };
  const createdAt = Math.floor(Date.now() / 1000);
  const stream = new ResponseStream(context, createdAt);
  return {
    id: context.id,
    doneMarker: false,
    complete: ([choice], usage) => finish(context, createdAt, outputItems(choice!, { reasoning: itemId("rs"), message: itemId("msg") }, context.names!), choice!.finishReason, usageOf(usage, choice!.reasoningTokens)),
    streamFrames: (events) => stream.frames(events),
    streamError: (error) => stream.failed(error),
  };
}

interface OpenItem {
  kind: "message" | "reasoning" | "function_call";
  index: number;
  id: string;
  text: string;
  logprobs: object[];
  toolIndex?: number;
  call?: { call_id: string; name: string; namespace?: string };
}

/** One response's stream: its items opened and closed in order, each event numbered. */
class ResponseStream {
  private sequence = 0;
  private readonly output: ResponseItem[] = [];
  private open: OpenItem | undefined;

  constructor(
    private readonly context: ResponseContext,
    private readonly createdAt: number,
  ) {}

  private frame(type: string, data: object): StreamItem {
    return { kind: "chunk", event: type, data: { type, ...data, sequence_number: this.sequence++ } };
  }

  private snapshot(status: Status, extra?: Record<string, unknown>) {
    return responseObject(this.context, this.createdAt, status, this.output, extra);
  }

  async *frames(events: AsyncIterable<AnswerEvent>): AsyncGenerator<StreamItem> {
    yield this.frame("response.created", { response: this.snapshot("in_progress") });
    yield this.frame("response.in_progress", { response: this.snapshot("in_progress") });
    let finishReason: FinishReason = "stop";
    let reasoningTokens = 0;
    for await (const event of events) {
      if (event.type === "choice") {
        const e = event.event;
        if (e.type === "text") {
          if (this.open?.kind !== "message") yield* this.openItem("message");
          yield* this.text(e.text, e.logprobs);
        } else if (e.type === "reasoning") {
          reasoningTokens++;
          if (this.open?.kind !== "reasoning") yield* this.openItem("reasoning");
          this.open!.text += e.text;
          yield this.frame("response.reasoning_text.delta", { item_id: this.open!.id, output_index: this.open!.index, content_index: 0, delta: e.text });
        } else if (e.type === "tool_call") yield* this.openItem("function_call", { call_id: e.id, ...this.context.names!.split(e.name) }, e.index);
        else if (this.open?.kind === "function_call" && this.open.toolIndex === e.index) {
          this.open.text += e.text;
          yield this.frame("response.function_call_arguments.delta", { item_id: this.open.id, output_index: this.open.index, delta: e.text });
        }
      } else if (event.type === "finish") finishReason = event.finishReason;
      else if (event.type === "error") return yield { kind: "error", error: event.error };
      else {
        const status = finishReason === "length" ? "incomplete" : "completed";
        yield* this.closeItem(status);
        const usage = toOpenAiUsage(event.usage);
        const response = await finish(this.context, this.createdAt, this.output, finishReason, usageOf(usage, reasoningTokens));
        yield this.frame(status === "incomplete" ? "response.incomplete" : "response.completed", { response });
        return yield { kind: "end", usage };
      }
    }
  }

  /** The event that ends a stream whose generation failed after it started. */
  failed(error: ErrorData): { event: string; data: object } {
    const response = this.snapshot("failed", { error: { code: error.status === 429 ? "rate_limit_exceeded" : "server_error", message: error.message } });
    return { event: "response.failed", data: { type: "response.failed", response, sequence_number: this.sequence++ } };
  }

  private *text(delta: string, logprobs: TokenLogprob[] | undefined): Generator<StreamItem> {
    const open = this.open!;
    open.text += delta;
    const entries = (logprobs ?? []).map(toOpenAiLogprob);
    open.logprobs.push(...entries);
    yield this.frame("response.output_text.delta", { item_id: open.id, output_index: open.index, content_index: 0, delta, logprobs: entries });
  }

  private *openItem(kind: OpenItem["kind"], call?: OpenItem["call"], toolIndex?: number): Generator<StreamItem> {
    yield* this.closeItem("completed");
    const open: OpenItem = { kind, index: this.output.length, id: itemId(kind === "message" ? "msg" : kind === "reasoning" ? "rs" : "fc"), text: "", logprobs: [], ...(call ? { call, toolIndex: toolIndex! } : {}) };
    this.open = open;
    const where = { item_id: open.id, output_index: open.index, content_index: 0 };
    if (kind === "message") {
      yield this.frame("response.output_item.added", { output_index: open.index, item: { id: open.id, type: "message", role: "assistant", status: "in_progress", content: [] } });
      yield this.frame("response.content_part.added", { ...where, part: { type: "output_text", text: "", annotations: [], logprobs: [] } });
    } else if (kind === "reasoning") {
      yield this.frame("response.output_item.added", { output_index: open.index, item: { id: open.id, type: "reasoning", summary: [], status: "in_progress" } });
      yield this.frame("response.content_part.added", { ...where, part: { type: "reasoning_text", text: "" } });
    } else yield this.frame("response.output_item.added", { output_index: open.index, item: { id: open.id, type: "function_call", ...call, arguments: "", status: "in_progress" } });
    this.output.push(this.itemOf(open, "in_progress")); // a failed stream's snapshot shows what had begun
  }

  private *closeItem(status: "completed" | "incomplete"): Generator<StreamItem> {
    const open = this.open;
    if (!open) return;
    this.open = undefined;
    const where = { item_id: open.id, output_index: open.index, content_index: 0 };
    if (open.kind === "message") {
      const part = { type: "output_text", text: open.text, annotations: [], logprobs: open.logprobs };
      yield this.frame("response.output_text.done", { ...where, text: open.text, logprobs: open.logprobs });
      yield this.frame("response.content_part.done", { ...where, part });
    } else if (open.kind === "reasoning") {
      yield this.frame("response.reasoning_text.done", { ...where, text: open.text });
      yield this.frame("response.content_part.done", { ...where, part: { type: "reasoning_text", text: open.text } });
    } else yield this.frame("response.function_call_arguments.done", { item_id: open.id, output_index: open.index, name: open.call!.name, arguments: open.text });
    const item = this.itemOf(open, status);
    this.output[open.index] = item;
    yield this.frame("response.output_item.done", { output_index: open.index, item });
  }

  private itemOf(open: OpenItem, status: ItemStatus): ResponseItem {
    if (open.kind === "reasoning") return reasoningItem(open.id, open.text);
    if (open.kind === "function_call") return { id: open.id, type: "function_call", ...open.call!, arguments: open.text, status };
    return messageItem(open.id, open.text, status, open.logprobs);
  }
}
