import type { IncomingHttpHeaders } from "node:http";
import type { FastifyBaseLogger } from "fastify";
import type { GatewayConfig } from "../config/schema.js";
import type { RequestRecord } from "./request-record.js";

// OpenTelemetry traces, off unless a collector is configured. This module is all the rest of the gateway sees:
// the SDK itself (otel-tracing.ts) is imported only when tracing is on, so that it costs nothing when off.

export type TracingConfig = GatewayConfig["tracing"];

/** One API request's server span. */
export interface RequestSpan {
  readonly traceId: string;
  /** The W3C trace-context headers that make a downstream call (an upstream server) this span's child. */
  propagationHeaders(): Record<string, string>;
  /** Ends the span with what the record says: GenAI attributes, the queue / prompt / generation phases, the status. */
  end(record: RequestRecord, status: number): void;
}

export interface Tracing {
  /** A server span, the child of the caller's `traceparent` when it sent one; undefined when the sampler drops it. */
  startRequest(name: string, headers: IncomingHttpHeaders, attributes: Record<string, string | number>): RequestSpan | undefined;
  /** Sends what is still queued, then stops. */
  shutdown(): Promise<void>;
}

/** The collector's traces URL, or undefined when tracing is off. */
export function tracesUrl(config: TracingConfig): string | undefined {
  if (config.disabled) return undefined;
  if (config.tracesEndpoint) return config.tracesEndpoint;
  if (!config.endpoint) return undefined;
  return `${config.endpoint.replace(/\/+$/, "")}/v1/traces`;
}

/** Tracing as configured, or undefined when off (then not one OpenTelemetry module is loaded). */
export async function createTracing(config: TracingConfig, log: FastifyBaseLogger): Promise<Tracing | undefined> {
  const url = tracesUrl(config);
  if (!url) return undefined;
  const { OtelTracing } = await import("./otel-tracing.js");
  log.info({ collector: url, sampler: config.sampler, serviceName: config.serviceName }, "tracing: exporting spans over OTLP/HTTP");
  return new OtelTracing(config, url, log);
}
