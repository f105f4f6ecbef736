import type { IncomingHttpHeaders } from "node:http";
import type { GatewayConfig } from "../config/schema.js";
import type { RequestSpan } from "./request-record.js";

// What the gateway sees of tracing (tracing.ts makes one; otel-tracing.ts is the OpenTelemetry implementation).

export type TracingConfig = GatewayConfig["tracing"];

export interface Tracing {
  /** A server span, the child of the caller's `traceparent` when it sent one; undefined when the sampler drops it. */
  startRequest(name: string, headers: IncomingHttpHeaders, attributes: Record<string, string | number>): RequestSpan | undefined;
  /** Sends what is still queued, then stops. */
  shutdown(): Promise<void>;
}
