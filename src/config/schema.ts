import { Type, type Static } from "typebox";
import { chatTemplateDescription, EngineLayout, GpuLayersSetting, GpuSetting, KvCacheType, ModelEntry, poolingChoice, reasoningChoice, routingChoice, speculativeChoice, thinkingChoice, turnStops } from "./model-entry.js";

export { EngineLayout, GpuLayersSetting, GpuSetting, KvCacheType, ModelEntry } from "./model-entry.js";

// The single source of truth for every setting: its type, range and default.
// config/default.yaml documents the same keys for humans; test/unit/config.test.ts keeps them in step.

const Integer = (min: number, def: number, description: string, max?: number) =>
  Type.Integer({ minimum: min, ...(max === undefined ? {} : { maximum: max }), default: def, description });


const rateFields = {
  rpm: Type.Optional(Type.Integer({ minimum: 0, description: "requests per minute; 0 = unlimited" })),
  tpm: Type.Optional(Type.Integer({ minimum: 0, description: "tokens (prompt + completion) per minute; 0 = unlimited" })),
};

export const ModelRates = Type.Object(rateFields, { additionalProperties: false });

export const RateLimits = Type.Object(
  { ...rateFields, maxConcurrent: Type.Optional(Type.Integer({ minimum: 0, description: "generations in flight at once; 0 = unlimited" })) },
  { additionalProperties: false },
);

export const ApiKeyEntry = Type.Object(
  {
    name: Type.String({ minLength: 1, pattern: "^[A-Za-z0-9_.@-]+$", description: "what logs and limits call this key" }),
    key: Type.Optional(Type.String({ minLength: 8, description: "the secret; may instead come from API_KEYS under the same name" })),
    limits: Type.Optional(RateLimits),
    weight: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1000, description: "share of busy slots relative to other keys when requests wait (default 1)" })),
  },
  { additionalProperties: false },
);

export const ConfigSchema = Type.Object(
  {
    server: Type.Object(
      {
        host: Type.String({ default: "127.0.0.1", description: "address to listen on" }),
        port: Integer(0, 8080, "TCP port (0 = any free port)", 65535),
      },
      { default: {}, additionalProperties: false },
    ),
    http: Type.Object(
      {
        bodyLimit: Integer(1024, 4 * 1024 * 1024, "largest request body in bytes (413 above)"),
        corsOrigins: Type.String({
          default: "http://localhost:*,http://127.0.0.1:*,http://[::1]:*,https://localhost:*,https://127.0.0.1:*",
          description: "browser origins allowed to call the API (CORS) and to open /v1/ws: comma-separated, * matches any characters, * alone = any origin, empty = none",
        }),
        discardLimitBytes: Integer(0, 64 * 1024 * 1024, "a too-large body up to this size is read and thrown away before the 413, so clients that write the whole body first read the 413; a larger one gets the 413 and a closed connection"),
        discardTimeoutMs: Integer(1, 10_000, "longest time spent reading a too-large body before the 413"),
        sseKeepAliveMs: Integer(100, 10_000, "send an SSE comment when a stream was silent this long (prompt evaluation)"),
        requestTimeoutMs: Integer(0, 60_000, "a request whose headers and body have not all arrived by then is answered 408 and its connection closed (slow-body attacks); 0 = none"),
        headersTimeoutMs: Integer(0, 15_000, "a connection whose request headers have not all arrived by then is closed; 0 = none"),
        maxConnections: Integer(0, 4_096, "open client connections at most; more are refused at once; 0 = no limit"),
        allowedHosts: Type.String({
          default: "",
          description: "Host header values accepted (comma-separated, * matches any characters) besides loopback names; empty = any Host when listening beyond loopback or with API keys, loopback names only otherwise (against DNS rebinding)",
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    ws: Type.Object(
      {
        maxMessageBytes: Integer(1024, 1024 * 1024, "largest client message; a larger one gets an error message"),
        closeAboveBytes: Integer(1024, 8 * 1024 * 1024, "a client message this large closes the socket (1009)"),
        maxBufferedBytes: Integer(1024, 1024 * 1024, "unsent bytes above which a socket's generations pause until it drains"),
        stallTimeoutMs: Integer(1, 30_000, "a socket paused this long without draining is closed and its slots freed"),
        pingIntervalMs: Integer(100, 30_000, "ping interval; a socket that missed the previous pong is closed"),
      },
      { default: {}, additionalProperties: false },
    ),
    auth: Type.Object(
      {
        apiKeys: Type.String({ default: "", description: "comma-separated name:key pairs (env API_KEYS); empty and no keys = open access" }),
        keys: Type.Array(ApiKeyEntry, { default: [], description: "keys with their own limits; one without `key` sets limits for an API_KEYS entry" }),
      },
      { default: {}, additionalProperties: false },
    ),
    rateLimit: Type.Object(
      {
        rpm: Integer(0, 0, "default requests per minute per key; 0 = unlimited"),
        tpm: Integer(0, 0, "default tokens per minute per key (prompt + completion); 0 = unlimited"),
        maxConcurrent: Integer(0, 0, "default generations in flight per key; 0 = unlimited"),
        models: Type.Record(Type.String(), ModelRates, { default: {}, description: "limits per model id, shared by every key" }),
        failOpen: Type.Boolean({ default: true, description: "when Redis fails: true = per-instance in-memory limits, false = 503" }),
        redis: Type.Object(
          {
            url: Type.String({ default: "", description: "redis:// URL shared by every instance; empty = in-memory limits" }),
            keyPrefix: Type.String({ default: "llm-gateway:rl:", description: "prefix of the limiter's Redis keys" }),
            commandTimeoutMs: Integer(1, 250, "a Redis call slower than this counts as a failure"),
            breaker: Type.Object(
              {
                failures: Integer(1, 3, "consecutive Redis failures (errors, timeouts) after which the limiter stops calling Redis and serves from its fallback"),
                probeIntervalMs: Integer(10, 1_000, "while the breaker is open, Redis is probed this often; the first probe that answers shares the limits again"),
                heartbeatMs: Integer(100, 5_000, "how often each instance marks itself alive in Redis; on the fallback each enforces budget / instances alive"),
              },
              { default: {}, additionalProperties: false },
            ),
          },
          { default: {}, additionalProperties: false },
        ),
      },
      { default: {}, additionalProperties: false },
    ),
    responses: Type.Object(
      {
        store: Type.Union([Type.Literal("auto"), Type.Literal("memory"), Type.Literal("redis")], {
          default: "auto",
          description: "where stored responses (store: true, previous_response_id) live: memory (this instance), redis (every instance), auto = redis when a Redis URL is set",
        }),
        redisUrl: Type.String({ default: "", description: "redis:// URL of the response store; empty = rateLimit.redis.url" }),
        keyPrefix: Type.String({ default: "llm-gateway:resp:", description: "prefix of the stored responses' Redis keys" }),
        ttlSeconds: Integer(1, 604_800, "a stored response is forgotten this long after it was written"),
        maxEntries: Integer(1, 10_000, "in memory: stored responses kept at most; the least recently used go first"),
        maxMiB: Integer(1, 256, "in memory: MiB of stored responses (each with its input and the conversation before it) kept at most"),
        maxEntriesPerKey: Integer(1, 1_000, "in memory: stored responses one API key keeps at most; more evict that key's own oldest (never another key's)"),
        maxMiBPerKey: Integer(1, 32, "in memory: MiB of stored responses one API key keeps at most; more evict that key's own oldest"),
        commandTimeoutMs: Integer(1, 1_000, "a Redis call slower than this fails the request that needed it (503)"),
      },
      { default: {}, additionalProperties: false },
    ),
    tracing: Type.Object(
      {
        endpoint: Type.String({ default: "", description: "OTLP/HTTP collector base URL (OTEL_EXPORTER_OTLP_ENDPOINT; /v1/traces is appended); empty = tracing off, nothing loaded" }),
        tracesEndpoint: Type.String({ default: "", description: "full OTLP/HTTP traces URL (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT); overrides endpoint" }),
        headers: Type.String({ default: "", description: "headers sent to the collector, as OTEL_EXPORTER_OTLP_HEADERS: k1=v1,k2=v2 (e.g. x-honeycomb-team=KEY)" }),
        serviceName: Type.String({ default: "llm-gateway", minLength: 1, description: "service.name of the spans (OTEL_SERVICE_NAME)" }),
        sampler: Type.Union(
          [Type.Literal("always_on"), Type.Literal("always_off"), Type.Literal("traceidratio"), Type.Literal("parentbased_always_on"), Type.Literal("parentbased_always_off"), Type.Literal("parentbased_traceidratio")],
          { default: "parentbased_always_on", description: "OTEL_TRACES_SAMPLER" },
        ),
        samplerArg: Type.Number({ minimum: 0, maximum: 1, default: 1, description: "the ratio of the traceidratio samplers (OTEL_TRACES_SAMPLER_ARG)" }),
        disabled: Type.Boolean({ default: false, description: "OTEL_SDK_DISABLED: off even with an endpoint" }),
        exportDelayMs: Integer(1, 2_000, "finished spans are sent in batches this often"),
        maxQueuedSpans: Integer(1, 4_096, "finished spans waiting to be sent; more are dropped (the collector is slow or down)"),
      },
      { default: {}, additionalProperties: false },
    ),
    playground: Type.Object(
      {
        enabled: Type.Boolean({ default: true, description: "serve the chat page" }),
        path: Type.String({ default: "/", pattern: "^/", description: "where the chat page is served" }),
      },
      { default: {}, additionalProperties: false },
    ),
    docs: Type.Object(
      {
        enabled: Type.Union([Type.Literal("auto"), Type.Literal("on"), Type.Literal("off")], {
          default: "auto",
          description: "GET /openapi.json (OpenAPI 3.1, from the routes' schemas) and GET /docs (an API explorer), behind the API keys: auto = on when listening on loopback",
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    shutdown: Type.Object(
      {
        graceMs: Integer(0, 30_000, "on SIGTERM, how long in-flight generations may finish before they are cancelled"),
      },
      { default: {}, additionalProperties: false },
    ),
    request: Type.Object(
      {
        timeoutMs: Integer(1, 600_000, "a generation running longer than this is stopped and its slot freed"),
        maxTokens: Integer(0, 0, "cap on generated tokens per answer: a larger max_tokens (or none) is lowered to it, with an x-max-tokens-clamped header; 0 = no cap but the context left (as llama-server)"),
        maxJsonDepth: Integer(2, 64, "deepest nesting of objects and arrays a request body may have (schemas, chat_template_kwargs, tool parameters); deeper is a 400 before any work", 10_000),
        maxMessages: Integer(1, 4096, "messages (chat, Messages API) or input items (Responses, its stored history included) one request may carry; more is a 400 before the prompt is rendered"),
        maxGrammarDepth: Integer(1, 256, "deepest nesting of groups in a GBNF grammar ((, [ and { inside each other); deeper is a 400 (llama.cpp's grammar parser recurses per level)", 1_000),
        maxTokenizeChars: Integer(1, 262_144, "longest text /tokenize takes (characters); longer is a 413"),
        renderTimeoutMs: Integer(100, 10_000, "a long conversation (over 64 messages) is rendered with the model's chat template on a worker thread, stopped past this (400 prompt_render_timeout) or when the client leaves; some templates are quadratic in the messages"),
        maxEmbeddingInputs: Integer(1, 2_048, "inputs one /v1/embeddings request may carry (OpenAI's limit); more is a 400"),
        maxEmbeddingTokens: Integer(1, 65_536, "tokens one /v1/embeddings request may embed across its inputs; more is a 400"),
        maxChoices: Integer(1, 8, "largest n (choices per request); each choice takes a slot of its own"),
        maxTopLogprobs: Integer(0, 20, "largest top_logprobs (chat) / logprobs (completions) a request may ask for"),
      },
      { default: {}, additionalProperties: false },
    ),
    queue: Type.Object(
      {
        maxRequests: Integer(0, 64, "requests that may wait for a slot per model; more get 503"),
        maxRequestsPerKey: Integer(0, 0, "requests one API key may have waiting per model (0 = only maxRequests); more get 503 while other keys still queue"),
        policy: Type.Union([Type.Literal("fair"), Type.Literal("fifo")], {
          default: "fair",
          description: "fair: waiting requests are served by API key in turn, weighted by auth.keys[].weight; fifo: first come, first served",
        }),
        maxTokens: Integer(0, 262_144, "prompt tokens that may wait for a slot per model; more get 503"),
        timeoutMs: Integer(1, 60_000, "longest wait for a slot before 503"),
        retryAfterMs: Integer(0, 1_000, "Retry-After sent with a 503 for a full queue"),
      },
      { default: {}, additionalProperties: false },
    ),
    engine: Type.Object(
      {
        slots: Integer(1, 4, "parallel sequences (KV-cache slots) per model", 256),
        ctxSize: Integer(0, 0, "context tokens per slot (prompt + completion); 0 = the model's training context, at most 4096"),
        threads: Integer(0, 0, "CPU threads per context; 0 = derived from the CPUs this process may use"),
        promptThreads: Integer(0, 0, "per-slot layout on CPU: threads a prompt batch of 64 tokens or more may use, taken from cores no other slot is using (a slot that starts meanwhile waits for the batch); 0 = every available CPU, 1 = the context's own threads (off)"),
        streamInterval: Integer(1, 1, "answer tokens per streamed chunk after the first (vLLM's --stream-interval): 1 streams every token; N sends N at a time, fewer chunks and less CPU per token on a busy host, each token up to N - 1 tokens later", 256),
        workerThreads: Integer(0, 0, "libuv pool threads of each engine process, where per-slot decodes and sampling run; 0 = as many decodes at once as the CPUs take at `threads` each (at most slots + 2; batched: slots + 2, at least 4)", 1024),
        workerNice: Integer(0, 0, "CPU: nice value of the engine's worker threads (decodes), so that its JS thread, which every token passes through, gets a core first; 0 = off (Linux only)", 19),
        batchSize: Integer(0, 0, "tokens per decode batch; 0 = node-llama-cpp's default"),
        prefillShare: Type.Number({
          exclusiveMinimum: 0,
          maximum: 1,
          default: 0.5,
          description: "while other slots generate, a long prompt pauses after each chunk so that it takes at most this share of the time, as vLLM schedules decodes before prompt chunks (their tokens keep flowing where the prompt would take the cores); 1 = no pause",
        }),
        prefillChunkMs: Integer(10, 500, "a long prompt is evaluated in chunks of about this many milliseconds (sized from the slot's measured prompt rate, at most one batch), and a cancelled, timed-out or shut-down request stops between chunks: the longest it keeps its slot"),
        prefillMinChunk: Integer(1, 128, "the fewest tokens in a prompt chunk while they take at most twice prefillChunkMs, one 64-token tile beyond that (chunks are whole tiles of llama.cpp's CPU flash attention: fewer rows go row by row, and deep in a context a small chunk costs 2-3x as much per token)"),
        batchStrategy: Type.Union([Type.Literal("fill"), Type.Literal("first-come")], {
          default: "fill",
          description: "batched layout: fill waits (a few microtask turns at most) for every active slot's token and decodes them together; first-come is node-llama-cpp's own",
        }),
        gpu: GpuSetting,
        gpuLayers: GpuLayersSetting,
        gpuRequired: Type.Boolean({ default: false, description: "fail to start when the GPU backend is unavailable, instead of falling back to CPU" }),
        layout: EngineLayout,
        flashAttention: Type.Boolean({ default: true, description: "flash attention (measured 7-10% faster on CPU)" }),
        prefixCache: Type.Boolean({ default: true, description: "reuse a slot's cached prompt prefix; off evaluates every prompt whole" }),
        promptCacheMiB: Integer(0, 1024, "saved KV state of evicted slots, in the temp folder, restored when a later prompt shares more of it than any slot; 0 = off"),
        promptCacheEntries: Integer(1, 256, "saved states kept at most (each request compares its prompt with every one)"),
        slotReuseThreshold: Type.Number({
          minimum: 0,
          maximum: 1,
          default: 0.5,
          description: "a free slot is chosen for its cache when the shared prefix is at least this share of the prompt or of the tokens the slot holds; otherwise an empty slot, then the least recently used",
        }),
        kvCacheType: KvCacheType,
        chatTemplate: Type.String({ default: "auto", description: chatTemplateDescription }),
        stop: turnStops({ default: [] }),
        reasoning: reasoningChoice({ default: "separate" }),
        thinking: thinkingChoice({ default: "on" }),
        pooling: poolingChoice({ default: "auto" }),
        speculative: speculativeChoice({ default: "off" }),
        draftModel: Type.String({ default: "", description: "speculative: draft: the draft model's .gguf, with the same vocabulary as the model" }),
        draftTokens: Integer(1, 4, "speculative: tokens drafted ahead per step (validated together in one decode)", 32),
        isolation: Type.Union([Type.Literal("process"), Type.Literal("none")], {
          default: "process",
          description: "process: each model runs in a supervised child process (a native crash costs its requests, not the gateway); none: in the gateway's process",
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    models: Type.Array(ModelEntry, { default: [], description: "models to serve; empty = search modelSearch.dirs" }),
    upstream: Type.Object(
      {
        connectTimeoutMs: Integer(1, 5_000, "an upstream not connected by then counts as failed (the request tries the next one); also the health check's timeout"),
        healthCheckIntervalMs: Integer(100, 10_000, "how often each upstream's /models is checked; a failing one gets no requests until it passes"),
        idleTimeoutMs: Integer(1, 2_000, "pooled keep-alive connections to upstreams idle this long are closed (shorter than common servers' keep-alive timeouts)"),
        routing: routingChoice({ default: "prefix-affinity" }),
        loadBound: Type.Number({ minimum: 0, default: 0.25, description: "prefix-affinity: a replica takes at most (1 + loadBound) × its share of the requests in flight; more spill to the next replica in the key's order" }),
        affinityChars: Integer(1, 1024, "prefix-affinity: characters of the system prompt and of the first message (or of a text prompt) that name a conversation"),
        dnsRefreshMs: Integer(100, 5_000, "dns+ upstreams are resolved again this often"),
        dnsServers: Type.Array(Type.String(), { default: [], description: "DNS servers (ip or ip:port) for dns+ upstreams; empty = the system's" }),
      },
      { default: {}, additionalProperties: false },
    ),
    router: Type.Object(
      {
        keepAliveMs: Integer(-1, -1, "unload a model idle this long (its next request loads it again); -1 = never"),
        maxLoadedModels: Integer(0, 0, "models loaded at once; loading one more unloads the least recently used idle one; 0 = no limit"),
        memoryBudgetMiB: Integer(0, 0, "memory the loaded models may take together (weights + KV cache + compute buffers, estimated from each GGUF); loading one more unloads least recently used idle ones to fit; 0 = no budget"),
        retryFailedLoadMs: Integer(0, 30_000, "a model that failed to load is tried again on a request after this long"),
      },
      { default: {}, additionalProperties: false },
    ),
    modelSearch: Type.Object(
      {
        dirs: Type.Array(Type.String(), {
          default: ["models", "../shared/models"],
          description: "folders searched for a .gguf when no model is given, in order",
        }),
        preferred: Type.Array(Type.String(), {
          default: ["stories260K.gguf"],
          description: "file names chosen first inside a searched folder (else the first .gguf by name)",
        }),
        download: Type.String({
          default: "hf:bartowski/SmolLM2-135M-Instruct-GGUF:Q8_0",
          description: "hf: URI downloaded (with a progress bar) into the first folder when none has a model",
        }),
      },
      { default: {}, additionalProperties: false },
    ),
    log: Type.Object(
      {
        level: Type.Union(
          [Type.Literal("fatal"), Type.Literal("error"), Type.Literal("warn"), Type.Literal("info"), Type.Literal("debug"), Type.Literal("trace"), Type.Literal("silent")],
          { default: "info" },
        ),
        format: Type.Union([Type.Literal("auto"), Type.Literal("json"), Type.Literal("pretty")], {
          default: "auto",
          description: "pretty for people, json for machines; auto = pretty when stdout is a terminal",
        }),
        content: Type.Boolean({ default: false, description: "log prompt and completion text in request lines (off: never logged)" }),
      },
      { default: {}, additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export type GatewayConfig = Static<typeof ConfigSchema>;
export type EngineConfig = GatewayConfig["engine"];
export type ModelEntryConfig = Static<typeof ModelEntry>;
export type RateLimitsConfig = Static<typeof RateLimits>;
export type ModelRatesConfig = Static<typeof ModelRates>;
