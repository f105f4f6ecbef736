import { randomUUID } from "node:crypto";
import { Type, type Static } from "typebox";
import type { FinishReason } from "../../engine/types.js";
import { SamplingFields } from "../shared/sampling.js";
import type { OpenAiUsage, ResponseShape } from "../shared/response-shape.js";

export const CompletionBody = Type.Object({
  ...SamplingFields,
  prompt: Type.String(),
});

export type CompletionBody = Static<typeof CompletionBody>;

/** text_completion objects, as OpenAI's legacy completions endpoint sends them (streamed or not). */
export function completionResponseShape(model: string): ResponseShape {
  const id = `cmpl-${randomUUID().replaceAll("-", "")}`;
  const created = Math.floor(Date.now() / 1000);
  const object = (text: string, finish_reason: FinishReason | null, usage: OpenAiUsage | null = null, withChoice = true) => ({
    id,
    object: "text_completion",
    created,
    model,
    system_fingerprint: null,
    choices: withChoice ? [{ index: 0, text, logprobs: null, finish_reason }] : [],
    usage,
  });
  return {
    streamDelta: (text) => object(text, null),
    streamFinish: (reason) => object("", reason),
    streamUsage: (usage) => object("", null, usage, false),
    complete: (text, reason, usage) => object(text, reason, usage),
  };
}
