import { Type, type TSchemaOptions } from "typebox";

// The settings a model entry may give (models[]), and the choices it shares with the engine and upstream sections of
// config (schema.ts), each declared once.

export const gpuChoice = (options: TSchemaOptions = {}) => Type.Union([Type.Literal("auto"), Type.Literal("cuda"), Type.Literal("vulkan"), Type.Literal("metal"), Type.Literal("off")], options);

export const GpuSetting = gpuChoice({ default: "auto", description: "GPU backend: auto picks the best available one, off forces CPU" });

// Each choice is declared once; the engine section gives it a default, a model entry leaves it unset
// (an unset model field falls back to the engine section's value).
export const gpuLayersChoice = (options: TSchemaOptions = {}) => Type.Union([Type.Literal("auto"), Type.Literal("max"), Type.Integer({ minimum: 0 })], options);
export const layoutChoice = (options: TSchemaOptions = {}) => Type.Union([Type.Literal("auto"), Type.Literal("batched"), Type.Literal("per-slot")], options);
export const kvCacheChoice = (options: TSchemaOptions = {}) => Type.Union([Type.Literal("f16"), Type.Literal("q8_0"), Type.Literal("q4_0")], options);

export const GpuLayersSetting = gpuLayersChoice({ default: "auto", description: "layers offloaded to the GPU: auto (fit memory), max, or a count" });

export const EngineLayout = layoutChoice({
  default: "auto",
  description:
    "batched: one context whose sequences are the slots (continuous batching, best on a GPU); " +
    "per-slot: one context per slot (faster on a small CPU); auto: batched on a GPU, per-slot on CPU",
});

export const KvCacheType = kvCacheChoice({ default: "f16", description: "KV-cache element type: q8_0 / q4_0 halve / quarter its memory at a small quality cost" });

export const reasoningChoice = (options: { default?: "separate" } = {}) =>
  Type.Union([Type.Literal("separate"), Type.Literal("inline")], {
    ...options,
    description: "separate: a template's thinking goes to reasoning_content; inline: it stays in content with its tags",
  });

export const thinkingChoice = (options: { default?: "on" } = {}) =>
  Type.Union([Type.Literal("on"), Type.Literal("off")], {
    ...options,
    description:
      "on: a template with a thinking switch (enable_thinking) thinks unless the request turns it off, as llama-server does; off: it does not unless the request turns it on",
  });

export const poolingChoice = (options: { default?: "auto" } = {}) =>
  Type.Union([Type.Literal("auto"), Type.Literal("mean"), Type.Literal("cls"), Type.Literal("last")], {
    ...options,
    description: "embeddings: auto = the GGUF's own pooling, or the last token for a model that declares none; mean / cls / last for a model that declares none",
  });

export const routingChoice = (options: { default?: "prefix-affinity" } = {}) =>
  Type.Union([Type.Literal("prefix-affinity"), Type.Literal("least-outstanding")], {
    ...options,
    description: "how a request picks an upstream replica: prefix-affinity (the replica likely to hold its prefix in cache, within upstream.loadBound) or least-outstanding",
  });

export const speculativeChoice = (options: { default?: "off" } = {}) =>
  Type.Union([Type.Literal("off"), Type.Literal("lookup"), Type.Literal("draft")], {
    ...options,
    description: "speculative decoding: lookup drafts tokens by finding the text so far in the prompt (no second model); draft runs draftModel (same vocabulary) ahead; greedy output is the same either way",
  });

export const turnStops = (options: { default?: string[] } = {}) =>
  Type.Array(Type.String({ minLength: 1, maxLength: 64 }), {
    maxItems: 16,
    ...options,
    description:
      "strings that end an answer in the chat APIs (chat, Responses, Messages) as the template's own end-of-turn markers do (Ollama's PARAMETER stop), for a model that does not end its turns: the answer ends as if the model had, never reported as the client's stop sequence; raw /v1/completions are left alone",
  });

export const chatTemplateDescription = "auto (the GGUF's own template, else a match by name) or a node-llama-cpp chat wrapper: chatML, llama3.1, mistral, gemma, qwen, general, …";

export const ModelEntry = Type.Object(
  {
    id: Type.Optional(Type.String({ minLength: 1, description: "name clients send as `model`; default: file name without .gguf" })),
    aliases: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { description: "other names that route to this model" })),
    path: Type.Optional(Type.String({ minLength: 1, description: "a .gguf path (relative to the working directory) or an hf: URI" })),
    upstreams: Type.Optional(
      Type.Array(
        Type.Object(
          {
            url: Type.String({
              pattern: "^(dns\\+)?https?://",
              description: "base URL of an OpenAI-compatible API, e.g. http://10.0.0.5:8080/v1; dns+http://name:port/v1 = one replica per address the name resolves to (a headless Service), re-resolved every upstream.dnsRefreshMs",
            }),
            apiKey: Type.Optional(Type.String({ minLength: 1, description: "sent to the upstream as a bearer token" })),
            model: Type.Optional(Type.String({ minLength: 1, description: "the model name the upstream knows (default: this model's id)" })),
            weight: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: "share of requests relative to the others (default 1)" })),
          },
          { additionalProperties: false },
        ),
        { minItems: 1, description: "serve this model by proxying to these servers instead of loading a file" },
      ),
    ),
    routing: Type.Optional(routingChoice()),
    slots: Type.Optional(Type.Integer({ minimum: 1 })),
    ctxSize: Type.Optional(Type.Integer({ minimum: 0 })),
    threads: Type.Optional(Type.Integer({ minimum: 0 })),
    gpu: Type.Optional(gpuChoice({ description: "this model's backend (with engine.isolation: process; in-process engines share the engine section's)" })),
    gpuLayers: Type.Optional(gpuLayersChoice()),
    layout: Type.Optional(layoutChoice()),
    flashAttention: Type.Optional(Type.Boolean()),
    kvCacheType: Type.Optional(kvCacheChoice()),
    chatTemplate: Type.Optional(Type.String({ minLength: 1, description: chatTemplateDescription })),
    reasoning: Type.Optional(reasoningChoice()),
    thinking: Type.Optional(thinkingChoice()),
    pooling: Type.Optional(poolingChoice()),
    speculative: Type.Optional(speculativeChoice()),
    draftModel: Type.Optional(Type.String({ minLength: 1, description: "speculative: draft: the draft model's .gguf (its vocabulary must be the model's)" })),
    draftTokens: Type.Optional(Type.Integer({ minimum: 1, maximum: 32 })),
    streamInterval: Type.Optional(Type.Integer({ minimum: 1, maximum: 256, description: "answer tokens per streamed chunk after the first (default engine.streamInterval)" })),
    stop: Type.Optional(turnStops()),
    sampling: Type.Optional(
      Type.Object(
        {
          temperature: Type.Optional(Type.Number({ minimum: 0, maximum: 2 })),
          top_p: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
          top_k: Type.Optional(Type.Integer({ minimum: 0 })),
          min_p: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
          repeat_penalty: Type.Optional(Type.Number({ minimum: 0 })),
        },
        { additionalProperties: false, description: "defaults for requests that do not set them (over the GGUF's general.sampling.*)" },
      ),
    ),
    keepAliveMs: Type.Optional(Type.Integer({ minimum: -1, description: "unload after this long idle; -1 = never (default router.keepAliveMs)" })),
    preload: Type.Optional(Type.Boolean({ description: "load at start (default true); false loads on the first request" })),
  },
  { additionalProperties: false },
);
