import type { FastifyReply } from "fastify";
import { ApiError } from "../../errors.js";
import { SseWriter } from "./sse-writer.js";
import type { Admission } from "../../ratelimit/rate-limiter.js";
import type { RequestRecord } from "../../observability/request-record.js";
import type { ApiContext } from "../context.js";
import { clientSignal } from "./client-signal.js";
import { startGeneration, type PreparedGeneration } from "./endpoint.js";
import { collectAnswer, openAiError, streamItems, toOpenAiUsage, type AnswerEvent, type PromptCount } from "./response-shape.js";

export interface ServeOptions extends PreparedGeneration {
  admission: Admission;
  record: RequestRecord;
  stream: boolean;
  context: ApiContext;
}

/**
 * Runs one generation for an HTTP request and writes it as JSON or as SSE. Everything that can fail
 * before output exists (validation, context length, a full queue) surfaces as an HTTP error status;
 * a client that goes away aborts the generation, which frees its slot.
 */
export async function serveGeneration(reply: FastifyReply, options: ServeOptions): Promise<void> {
  const client = clientSignal(reply);
  const abort = { signal: client.signal };
  reply.headers({ ...options.admission.headers, ...options.headers });
  try {
    let started;
    try {
      started = await startGeneration(options, options.admission, options.record, abort.signal, options.context);
    } catch (error) {
      if (abort.signal.aborted) return abandon(reply);
      throw error;
    }
    if (options.stream) await writeStream(reply, started.events, abort.signal, options, started);
    else await writeJson(reply, started.events, abort.signal, options);
  } finally {
    client.done();
  }
}

async function writeJson(reply: FastifyReply, events: AsyncIterable<AnswerEvent>, signal: AbortSignal, { shape, choices, generation }: ServeOptions): Promise<void> {
  const answer = await collectAnswer(events, choices, generation.logprobs !== undefined, signal);
  if (!answer) return abandon(reply);
  if ("error" in answer) throw ApiError.fromData(answer.error);
  await reply.send(await shape.complete(answer.choices, toOpenAiUsage(answer.usage)));
}

async function writeStream(
  reply: FastifyReply,
  events: AsyncIterable<AnswerEvent>,
  signal: AbortSignal,
  { shape, choices, includeUsage, record, context }: ServeOptions,
  prompt: PromptCount,
): Promise<void> {
  reply.hijack();
  const sse = new SseWriter(reply.raw, context.limits.sseKeepAliveMs, { ...(reply.getHeaders() as Record<string, string>) }, shape.keepAliveFrame);
  record.transport = "sse";
  const active = context.metrics.activeStreams.labels("sse");
  active.inc();
  let completed = false;
  try {
    for await (const item of streamItems(events, shape, choices, includeUsage, { promptTokens: prompt.promptTokens, cachedTokens: prompt.cachedTokens })) {
      if (signal.aborted || sse.closed) break;
      if (item.kind === "chunk") await sse.send(item.data, item.event);
      else if (item.kind === "error") {
        const frame = shape.streamError?.(item.error) ?? { data: { error: openAiError(item.error) } };
        await sse.send(frame.data, frame.event);
      } else completed = true;
    }
  } finally {
    active.dec();
    await sse.end(completed && shape.doneMarker !== false);
  }
}

/** The client is gone: tell Fastify not to answer, and make sure the socket is released. */
function abandon(reply: FastifyReply): void {
  if (!reply.sent) reply.hijack();
  if (!reply.raw.writableEnded) reply.raw.end();
}
