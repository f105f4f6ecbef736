import { Type, type Static } from "typebox";
import { checkGrammar } from "./request-limits.js";
import { invalidRequest } from "../../errors.js";
import { randomInt } from "node:crypto";
import type { GenerationRequest, ModelDescription, OutputConstraint, PromptInput, SamplingDefaults } from "../../engine/types.js";
import { checkSupportedSchema } from "./json-schema-support.js";

export const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Optional(Type.Union([schema, Type.Null()]));

/** Request fields that chat and legacy completions share. Unknown fields are ignored, as OpenAI does. */
export const SamplingFields = {
  model: Type.String({ minLength: 1 }),
  max_tokens: Nullable(Type.Integer({ minimum: 1 })),
  temperature: Nullable(Type.Number({ minimum: 0, maximum: 2 })),
  top_p: Nullable(Type.Number({ minimum: 0, maximum: 1 })),
  n: Nullable(Type.Integer({ minimum: 1, maximum: 128 })),
  stop: Nullable(Type.Union([Type.String(), Type.Array(Type.String(), { maxItems: 4 })])),
  seed: Nullable(Type.Integer()),
  presence_penalty: Nullable(Type.Number({ minimum: -2, maximum: 2 })),
  frequency_penalty: Nullable(Type.Number({ minimum: -2, maximum: 2 })),
  stream: Nullable(Type.Boolean()),
  stream_options: Nullable(Type.Object({ include_usage: Type.Optional(Type.Boolean()) })),
  user: Type.Optional(Type.String()),
  logit_bias: Nullable(Type.Record(Type.String({ pattern: "^[0-9]{1,9}$" }), Type.Number({ minimum: -100, maximum: 100 }), { additionalProperties: false })),
  // Extensions (as llama-server and vLLM take them): never stop at end-of-generation tokens; more samplers;
  // a GBNF grammar the output must follow.
  ignore_eos: Nullable(Type.Boolean()),
  // vLLM's extension: when requests wait for a slot, a key's requests with lower values go first.
  priority: Nullable(Type.Integer({ minimum: -1000, maximum: 1000 })),
  top_k: Nullable(Type.Integer({ minimum: 0 })),
  min_p: Nullable(Type.Number({ minimum: 0, maximum: 1 })),
  repeat_penalty: Nullable(Type.Number({ minimum: 0 })),
  grammar: Nullable(Type.String({ minLength: 1, maxLength: 65_536 })),
  response_format: Nullable(
    Type.Union([
      Type.Object({ type: Type.Literal("text") }),
      Type.Object({ type: Type.Literal("json_object") }),
      Type.Object({
        type: Type.Literal("json_schema"),
        json_schema: Type.Object({ name: Type.String({ minLength: 1 }), schema: Type.Optional(Type.Object({})), strict: Nullable(Type.Boolean()), description: Type.Optional(Type.String()) }),
      }),
    ]),
  ),
};

export const SamplingObject = Type.Object(SamplingFields);
export type SamplingBody = Static<typeof SamplingObject> & { max_completion_tokens?: number | null };

export interface RequestLimits {
  /** 0: no cap but the context. */
  maxTokens: number;
  maxGrammarDepth: number;
}

/** OpenAI's defaults, and no truncation or penalty: what a request gets when neither it nor the model says otherwise. */
const OPENAI_DEFAULTS: Required<SamplingDefaults> = { temperature: 1, top_p: 1, top_k: 0, min_p: 0, repeat_penalty: 1 };

/** The defaults of a model's requests, field by field: its config entry, else its GGUF's recommendation, else OpenAI's. */
export function samplingDefaults({ sampling, modelSampling }: Pick<ModelDescription, "sampling" | "modelSampling">): Required<SamplingDefaults> {
  return { ...OPENAI_DEFAULTS, ...modelSampling, ...sampling };
}

/** A request's seed as the sampler takes it (0 to 2^32 - 1); a request without one gets a fresh random seed. */
export function requestSeed(seed: number | null | undefined): number {
  return seed == null ? randomInt(2 ** 32) : ((seed % 2 ** 32) + 2 ** 32) % 2 ** 32;
}

/** Maps the shared OpenAI fields onto an engine request; where a field is absent, the model's defaults apply (see samplingDefaults). */
export function toGenerationRequest(body: SamplingBody, prompt: PromptInput, limits: RequestLimits, defaults: Required<SamplingDefaults> = OPENAI_DEFAULTS): GenerationRequest {
  // As llama-server: no max_tokens means until the context is full, and a cap lowers a larger one rather than refusing it.
  const asked = body.max_completion_tokens ?? body.max_tokens ?? Number.MAX_SAFE_INTEGER;
  const maxTokens = limits.maxTokens > 0 ? Math.min(asked, limits.maxTokens) : asked;
  const constraint = outputConstraint(body, limits);
  return {
    prompt,
    maxTokens,
    ignoreEos: body.ignore_eos === true && !constraint, // a grammar ends where it ends
    ...(body.priority != null ? { priority: body.priority } : {}),
    ...(body.logit_bias && Object.keys(body.logit_bias).length > 0 ? { logitBias: Object.fromEntries(Object.entries(body.logit_bias).map(([t, b]) => [Number(t), b])) } : {}),
    ...(constraint ? { constraint } : {}),
    stop: typeof body.stop === "string" ? [body.stop] : (body.stop ?? []),
    sampling: {
      temperature: body.temperature ?? defaults.temperature,
      topP: body.top_p ?? defaults.top_p,
      seed: requestSeed(body.seed),
      presencePenalty: body.presence_penalty ?? 0,
      frequencyPenalty: body.frequency_penalty ?? 0,
      topK: body.top_k ?? defaults.top_k,
      minP: body.min_p ?? defaults.min_p,
      repeatPenalty: body.repeat_penalty ?? defaults.repeat_penalty,
    },
  };
}

function outputConstraint(body: SamplingBody, limits: RequestLimits): OutputConstraint | undefined {
  const format = body.response_format;
  if (body.grammar && format && format.type !== "text") throw invalidRequest("Use either 'grammar' or 'response_format', not both.", "grammar");
  if (body.grammar) {
    checkGrammar(body.grammar, limits.maxGrammarDepth);
    return { kind: "gbnf", grammar: body.grammar };
  }
  if (format?.type === "json_object") return { kind: "json" };
  if (format?.type === "json_schema") {
    const schema = (format.json_schema.schema ?? {}) as Record<string, unknown>;
    checkSupportedSchema(schema, "response_format.json_schema.schema");
    return { kind: "json_schema", schema };
  }
  return undefined;
}
