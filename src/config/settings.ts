// Each scalar setting that users set from the command line or the environment, in one table,
// so the flag, the variable and the config key cannot drift apart.
export interface ScalarSetting {
  /** Absent for secrets, which a command line would show to every user of the machine. */
  flag?: string;
  env: string;
  path: readonly string[];
  kind: "string" | "number" | "boolean";
  description: string;
}

export const SCALAR_SETTINGS: readonly ScalarSetting[] = [
  { flag: "host", env: "GATEWAY_HOST", path: ["server", "host"], kind: "string", description: "address to listen on (default 127.0.0.1)" },
  { flag: "port", env: "GATEWAY_PORT", path: ["server", "port"], kind: "number", description: "port (default 8080)" },
  { flag: "slots", env: "GATEWAY_SLOTS", path: ["engine", "slots"], kind: "number", description: "parallel sequences per model (default 4)" },
  { flag: "ctx-size", env: "GATEWAY_CTX_SIZE", path: ["engine", "ctxSize"], kind: "number", description: "context tokens per slot (default: the model's, at most 4096)" },
  { flag: "threads", env: "GATEWAY_THREADS", path: ["engine", "threads"], kind: "number", description: "CPU threads per context (default: derived from available CPUs)" },
  { flag: "stream-interval", env: "GATEWAY_STREAM_INTERVAL", path: ["engine", "streamInterval"], kind: "number", description: "answer tokens per streamed chunk after the first (default 1: every token)" },
  { flag: "worker-threads", env: "GATEWAY_WORKER_THREADS", path: ["engine", "workerThreads"], kind: "number", description: "libuv pool threads per engine process: decodes running at once (0 = one per CPU at `threads` each)" },
  { flag: "worker-nice", env: "GATEWAY_WORKER_NICE", path: ["engine", "workerNice"], kind: "number", description: "CPU: nice value of the engine's decode threads, so its JS thread gets a core first (0 = off; Linux)" },
  { flag: "prompt-threads", env: "GATEWAY_PROMPT_THREADS", path: ["engine", "promptThreads"], kind: "number", description: "threads a prompt batch may take from idle cores (per-slot, CPU; default 0 = all, 1 = off)" },
  { flag: "gpu", env: "GATEWAY_GPU", path: ["engine", "gpu"], kind: "string", description: "auto|cuda|vulkan|metal|off (default auto)" },
  { flag: "gpu-required", env: "GATEWAY_GPU_REQUIRED", path: ["engine", "gpuRequired"], kind: "boolean", description: "true|false: fail instead of falling back to CPU (default false)" },
  { flag: "gpu-layers", env: "GATEWAY_GPU_LAYERS", path: ["engine", "gpuLayers"], kind: "number", description: "n|max|auto (default auto)" },
  { flag: "layout", env: "GATEWAY_LAYOUT", path: ["engine", "layout"], kind: "string", description: "auto|batched|per-slot (default auto)" },
  { flag: "batch-strategy", env: "GATEWAY_BATCH_STRATEGY", path: ["engine", "batchStrategy"], kind: "string", description: "fill|first-come: how the batched layout fills a decode (default fill)" },
  { flag: "cors-origins", env: "GATEWAY_CORS_ORIGINS", path: ["http", "corsOrigins"], kind: "string", description: "browser origins allowed (comma-separated, * wildcards; default: local origins)" },
  { flag: "speculative", env: "GATEWAY_SPECULATIVE", path: ["engine", "speculative"], kind: "string", description: "off|lookup|draft: speculative decoding (default off)" },
  { flag: "draft-model", env: "GATEWAY_DRAFT_MODEL", path: ["engine", "draftModel"], kind: "string", description: "draft model .gguf for --speculative draft (same vocabulary)" },
  { flag: "draft-tokens", env: "GATEWAY_DRAFT_TOKENS", path: ["engine", "draftTokens"], kind: "number", description: "tokens drafted ahead per step (default 4)" },
  { flag: "prefix-cache", env: "GATEWAY_PREFIX_CACHE", path: ["engine", "prefixCache"], kind: "boolean", description: "true|false: reuse cached prompt prefixes (default true)" },
  { env: "API_KEYS", path: ["auth", "apiKeys"], kind: "string", description: "comma-separated name:key pairs; unset = open access" },
  { flag: "rate-limit-rpm", env: "RATE_LIMIT_RPM", path: ["rateLimit", "rpm"], kind: "number", description: "requests per minute per key (default 0 = unlimited)" },
  { flag: "rate-limit-tpm", env: "RATE_LIMIT_TPM", path: ["rateLimit", "tpm"], kind: "number", description: "tokens per minute per key (default 0 = unlimited)" },
  { flag: "redis-url", env: "REDIS_URL", path: ["rateLimit", "redis", "url"], kind: "string", description: "Redis shared by every instance for limits (default: in-memory)" },
  { flag: "rate-limit-fail-open", env: "RATE_LIMIT_FAIL_OPEN", path: ["rateLimit", "failOpen"], kind: "boolean", description: "true|false: on Redis failure use in-memory limits, or answer 503 (default true)" },
  { flag: "playground", env: "GATEWAY_PLAYGROUND", path: ["playground", "enabled"], kind: "boolean", description: "true|false: serve the chat page at / (default true)" },
  { flag: "docs", env: "GATEWAY_DOCS", path: ["docs", "enabled"], kind: "string", description: "auto|on|off: /openapi.json and /docs (default auto: on when listening on loopback)" },
  { flag: "log-format", env: "GATEWAY_LOG_FORMAT", path: ["log", "format"], kind: "string", description: "auto|json|pretty (default auto: pretty on a terminal)" },
  { flag: "shutdown-grace-ms", env: "GATEWAY_SHUTDOWN_GRACE_MS", path: ["shutdown", "graceMs"], kind: "number", description: "time in-flight requests get to finish on SIGTERM (default 30000)" },
  { flag: "isolation", env: "GATEWAY_ISOLATION", path: ["engine", "isolation"], kind: "string", description: "process|none: each model in its own supervised process (default process)" },
  { flag: "log-level", env: "GATEWAY_LOG_LEVEL", path: ["log", "level"], kind: "string", description: "fatal|error|warn|info|debug|trace|silent" },
  // OpenTelemetry's own variables, so that a deployment configured for other services configures this one too.
  { flag: "otlp-endpoint", env: "OTEL_EXPORTER_OTLP_ENDPOINT", path: ["tracing", "endpoint"], kind: "string", description: "OTLP/HTTP collector URL: traces on (default: off)" },
  { env: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", path: ["tracing", "tracesEndpoint"], kind: "string", description: "full OTLP/HTTP traces URL" },
  { env: "OTEL_EXPORTER_OTLP_HEADERS", path: ["tracing", "headers"], kind: "string", description: "collector headers k=v,k2=v2 (secret: no flag)" },
  { env: "OTEL_SERVICE_NAME", path: ["tracing", "serviceName"], kind: "string", description: "service.name of the spans (default llm-gateway)" },
  { env: "OTEL_TRACES_SAMPLER", path: ["tracing", "sampler"], kind: "string", description: "always_on|always_off|traceidratio|parentbased_* (default parentbased_always_on)" },
  { env: "OTEL_TRACES_SAMPLER_ARG", path: ["tracing", "samplerArg"], kind: "number", description: "ratio for the traceidratio samplers (default 1)" },
  { env: "OTEL_SDK_DISABLED", path: ["tracing", "disabled"], kind: "boolean", description: "true: no tracing even with an endpoint" },
];

export const MODEL_FLAG = { flag: "model", env: "GATEWAY_MODEL", description: "model path or hf: URI (repeatable; env: comma-separated)" };
export const CONFIG_FLAG = { flag: "config", env: "GATEWAY_CONFIG", description: "YAML or JSON config file" };

/** "12" becomes 12 and "true" becomes true where the setting takes them; anything else stays a string so validation can name it. */
export function parseScalar(setting: ScalarSetting, raw: string): string | number | boolean {
  const text = raw.trim();
  if (setting.kind === "number" && /^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  if (setting.kind === "boolean" && (text === "true" || text === "false")) return text === "true";
  return raw;
}
