import { Type, type Static } from "typebox";
import { invalidRequest } from "../../errors.js";
import type { GenerationRequest, ModelDescription, PromptInput } from "../../engine/types.js";

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) => Type.Optional(Type.Union([schema, Type.Null()]));

/** Request fields that chat and legacy completions share. Unknown fields are ignored, as OpenAI does. */
export const SamplingFields = {
  model: Type.String({ minLength: 1 }),
  max_tokens: Nullable(Type.Integer({ minimum: 1 })),
  temperature: Nullable(Type.Number({ minimum: 0, maximum: 2 })),
  top_p: Nullable(Type.Number({ minimum: 0, maximum: 1 })),
  n: Nullable(Type.Integer({ minimum: 1, maximum: 1 })),
  stop: Nullable(Type.Union([Type.String(), Type.Array(Type.String(), { maxItems: 4 })])),
  seed: Nullable(Type.Integer()),
  presence_penalty: Nullable(Type.Number({ minimum: -2, maximum: 2 })),
  frequency_penalty: Nullable(Type.Number({ minimum: -2, maximum: 2 })),
  stream: Nullable(Type.Boolean()),
  stream_options: Nullable(Type.Object({ include_usage: Type.Optional(Type.Boolean()) })),
  user: Type.Optional(Type.String()),
  // Extension (llama-server, vLLM): never stop at end-of-generation tokens.
  ignore_eos: Nullable(Type.Boolean()),
};

const SamplingObject = Type.Object(SamplingFields);
export type SamplingBody = Static<typeof SamplingObject> & { max_completion_tokens?: number | null };

export interface RequestLimits {
  maxTokens: number;
}

/** Maps the shared OpenAI fields onto an engine request; the model's configured defaults, then OpenAI's, apply where a field is absent. */
export function toGenerationRequest(body: SamplingBody, prompt: PromptInput, limits: RequestLimits, defaults: ModelDescription["sampling"] = {}): GenerationRequest {
  const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? limits.maxTokens;
  const param = body.max_completion_tokens != null ? "max_completion_tokens" : "max_tokens";
  if (maxTokens > limits.maxTokens) throw invalidRequest(`'${param}' is too large: ${maxTokens}. This server allows at most ${limits.maxTokens}.`, param, "invalid_value");
  return {
    prompt,
    maxTokens,
    ignoreEos: body.ignore_eos === true,
    stop: typeof body.stop === "string" ? [body.stop] : (body.stop ?? []),
    sampling: {
      temperature: body.temperature ?? defaults.temperature ?? 1,
      topP: body.top_p ?? defaults.top_p ?? 1,
      ...(body.seed == null ? {} : { seed: ((body.seed % 2 ** 32) + 2 ** 32) % 2 ** 32 }),
      presencePenalty: body.presence_penalty ?? 0,
      frequencyPenalty: body.frequency_penalty ?? 0,
    },
  };
}
