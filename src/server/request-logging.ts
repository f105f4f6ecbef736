import type { FastifyInstance } from "fastify";
import type { GatewayMetrics } from "../observability/metrics.js";
import { RequestRecord } from "../observability/request-record.js";
import type { Tracing } from "../observability/tracing.js";
import { redactedUrl } from "./authentication.js";
import { CLIENT_CLOSED } from "../errors.js";

declare module "fastify" {
  interface FastifyRequest {
    /** What the request's log line and metrics will say, filled in by the routes. */
    record: RequestRecord;
  }
}

/** Probes come every few seconds from load balancers: their lines are debug-level. */
const PROBES = new Set(["/health", "/ready", "/metrics"]);


/**
 * One log line per request when it is over, whether it finished or the client left (the raw
 * response's "close" comes either way, streams included), and the request counted in the metrics.
 */
export function logRequests(app: FastifyInstance, metrics: GatewayMetrics, keepContent: boolean, tracing?: Tracing): void {
  app.decorateRequest("record", null as unknown as RequestRecord);
  app.addHook("onRequest", async (request, reply) => {
    request.record = new RequestRecord("http", keepContent);
    // A span per API request; a WebSocket's requests get theirs per message (see socket-session.ts).
    if (tracing && request.url.startsWith("/v1/") && !request.headers.upgrade) {
      const path = request.url.split("?")[0]!;
      const span = tracing.startRequest(`${request.method} ${path}`, request.headers, { "http.request.method": request.method, "url.path": path });
      if (span) request.record.span = span;
    }
    reply.raw.once("close", () => {
      const { record } = request;
      const status = reply.raw.writableFinished ? (record.errorStatus ?? reply.raw.statusCode) : CLIENT_CLOSED;
      record.count(metrics, status);
      const level = PROBES.has(request.url.split("?")[0]!) ? "debug" : "info";
      request.log[level]({ method: request.method, url: redactedUrl(request.url), ...record.fields(status) }, "request completed");
    });
  });
}
