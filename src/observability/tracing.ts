import type { FastifyBaseLogger } from "fastify";
import type { Tracing, TracingConfig } from "./span.js";

// OpenTelemetry traces, off unless a collector is configured. This module is all the rest of the gateway sees:
// the SDK itself (otel-tracing.ts) is imported only when tracing is on, so that it costs nothing when off.

export type { Tracing, TracingConfig } from "./span.js";
export type { RequestSpan } from "./request-record.js";

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
