import type { FastifyBaseLogger } from "fastify";
import type { WebSocket } from "ws";
import type { GatewayConfig } from "../../config/schema.js";
import { CLIENT_CLOSED, invalidRequest, toApiError } from "../../errors.js";
import type { ApiContext } from "../context.js";
import { compileBodyValidator, validationError, type BodyValidator } from "../shared/body-validation.js";
import { admitGeneration, prepareGeneration, startGeneration, type GenerationEndpoint } from "../shared/endpoint.js";
import { RequestRecord } from "../../observability/request-record.js";
import type { Identity } from "../../auth/api-keys.js";
import type { RequestSpan } from "../../observability/tracing.js";
import { streamItems, toOpenAiUsage } from "../shared/response-shape.js";
import type { SamplingBody } from "../shared/sampling.js";
import { errorMessage, parseClientMessage, type ServerMessage } from "./protocol.js";

export interface SocketEndpoint {
  endpoint: GenerationEndpoint;
  validate: BodyValidator;
}

export function socketEndpoints(endpoints: readonly GenerationEndpoint[], maxJsonDepth: number): Map<string, SocketEndpoint> {
  return new Map(endpoints.map((endpoint) => [endpoint.messageType, { endpoint, validate: compileBodyValidator(endpoint.bodySchema, maxJsonDepth) }]));
}

type WsLimits = GatewayConfig["ws"];

const DRAIN_POLL_MS = 5;
/** The abort reason of a request the client cancelled (as opposed to a socket that closed). */
const CANCELLED = new Error("cancelled by the client");

/**
 * One client socket: many generations in flight at once, each tagged by the client's id, each holding
 * its own slot. Closing the socket aborts them all; a socket that stops reading pauses its generations,
 * and is closed if it stays stalled.
 */
export class SocketSession {
  private readonly inFlight = new Map<string, AbortController>();
  private alive = true;
  private readonly pinger: NodeJS.Timeout;

  constructor(
    private readonly socket: WebSocket,
    private readonly endpoints: Map<string, SocketEndpoint>,
    private readonly context: ApiContext,
    private readonly limits: WsLimits,
    /** Who opened the socket: every request on it counts against this caller's limits. */
    private readonly identity: Identity,
    private readonly log: FastifyBaseLogger,
    /** Starts a request's trace span, when tracing is on. */
    private readonly trace?: (messageType: string) => RequestSpan | undefined,
  ) {
    socket.on("message", (data, isBinary) => this.onMessage(data as Buffer, isBinary));
    socket.on("pong", () => (this.alive = true));
    socket.on("close", () => this.onClose());
    socket.on("error", () => socket.terminate());
    this.pinger = setInterval(() => this.ping(), limits.pingIntervalMs);
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    this.alive = true;
    if (data.length > this.limits.maxMessageBytes)
      return this.send(errorMessage(null, invalidRequest(`The message is ${data.length} bytes; the limit is ${this.limits.maxMessageBytes}.`, null, "message_too_large").toData()));
    if (isBinary) return this.send(errorMessage(null, invalidRequest("Send JSON in text frames.", null, "invalid_message").toData()));
    const parsed = parseClientMessage(data.toString("utf8"));
    if ("problem" in parsed) return this.send(errorMessage(parsed.id, invalidRequest(parsed.problem, parsed.param, "invalid_message").toData()));
    const { message } = parsed;
    if (message.kind === "ping") return this.send({ type: "pong" });
    if (message.kind === "cancel") return void this.inFlight.get(message.id)?.abort(CANCELLED); // a finished id already had its terminal message
    const target = this.endpoints.get(message.type);
    if (!target)
      return this.send(errorMessage(message.id, invalidRequest(`Unknown message type '${message.type}'. Use ${[...this.endpoints.keys(), "cancel", "ping"].join(", ")}.`, "type", "invalid_message").toData()));
    if (typeof message.body !== "object" || message.body === null || Array.isArray(message.body))
      return this.send(errorMessage(message.id, invalidRequest("Missing required parameter: 'body' (an object).", "body", "invalid_message").toData()));
    if (this.inFlight.has(message.id))
      return this.send(errorMessage(message.id, invalidRequest(`A request with id '${message.id}' is already in flight on this socket.`, "id", "duplicate_id").toData()));
    void this.generate(message.id, target, message.body);
  }

  private async generate(id: string, { endpoint, validate }: SocketEndpoint, body: object): Promise<void> {
    const abort = new AbortController();
    this.inFlight.set(id, abort);
    const record = new RequestRecord("websocket", this.context.logContent);
    const span = this.trace?.(endpoint.messageType);
    if (span) record.span = span;
    const active = this.context.metrics.activeStreams.labels("websocket");
    let streaming = false;
    let ended = false; // a terminal message (done or error) went out: a late cancel must not send another
    try {
      if (!validate(body)) throw validationError(validate.errors ?? []);
      const prepared = await prepareGeneration(endpoint, body as unknown as SamplingBody, this.identity, this.context);
      const admission = await admitGeneration(prepared, this.identity, record, this.context);
      const started = await startGeneration(prepared, admission, record, abort.signal, this.context);
      streaming = true; // like SSE's gauge: only generations that got to stream count
      active.inc();
      for await (const item of streamItems(started.events, prepared.shape, prepared.choices, prepared.includeUsage, started)) {
        if (abort.signal.aborted || !(await this.writable(abort.signal))) break;
        if (item.kind === "chunk") this.send({ type: "chunk", id, data: item.data });
        else {
          ended = true;
          this.send(item.kind === "end" ? { type: "done", id, usage: item.usage } : errorMessage(id, item.error, undefined, endpoint.errorObject));
        }
      }
      if (!ended && abort.signal.reason === CANCELLED) this.sendCancelled(id, record);
    } catch (error) {
      if (abort.signal.reason === CANCELLED) return this.sendCancelled(id, record);
      if (abort.signal.aborted) return;
      const apiError = toApiError(error);
      record.errorStatus = apiError.status;
      record.errorType = apiError.code ?? apiError.type;
      if (apiError.status >= 500) this.log.error({ err: error }, "websocket generation failed");
      this.send(errorMessage(id, apiError.toData(), apiError.retryAfterMs, endpoint.errorObject));
    } finally {
      this.inFlight.delete(id);
      if (streaming) active.dec();
      const status = abort.signal.aborted ? CLIENT_CLOSED : (record.errorStatus ?? 200);
      record.count(this.context.metrics, status);
      this.log.info({ messageId: id, ...record.fields(status) }, "websocket request completed");
    }
  }

  /** A cancelled request's terminal message: what it generated until then, as its rate limits were charged. */
  private sendCancelled(id: string, record: RequestRecord): void {
    const usage = toOpenAiUsage({ promptTokens: record.promptTokens ?? 0, cachedTokens: record.cachedTokens ?? 0, completionTokens: record.completionTokens ?? 0 });
    this.send({ type: "done", id, usage, cancelled: true });
  }

  /** Waits while the socket's send buffer is over the limit; closes a socket that stays stalled. */
  private async writable(signal: AbortSignal): Promise<boolean> {
    const since = Date.now();
    while (this.socket.bufferedAmount > this.limits.maxBufferedBytes) {
      if (signal.aborted || this.socket.readyState !== this.socket.OPEN) return false;
      if (Date.now() - since > this.limits.stallTimeoutMs) {
        this.socket.close(1008, "client is not reading");
        this.socket.terminate();
        return false;
      }
      await new Promise((r) => setTimeout(r, DRAIN_POLL_MS));
    }
    return this.socket.readyState === this.socket.OPEN;
  }

  private send(message: ServerMessage): void {
    if (this.socket.readyState === this.socket.OPEN) this.socket.send(JSON.stringify(message));
  }

  private ping(): void {
    if (!this.alive) return void this.socket.terminate();
    this.alive = false;
    this.socket.ping();
  }

  private onClose(): void {
    clearInterval(this.pinger);
    for (const abort of this.inFlight.values()) abort.abort(new Error("socket closed"));
    this.inFlight.clear();
  }
}
