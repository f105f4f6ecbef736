import { randomUUID } from "node:crypto";
import { Type, type Static } from "typebox";
import type { FinishReason, TokenLogprob } from "../../engine/types.js";
import { Nullable, SamplingFields } from "../shared/sampling.js";
import type { OpenAiUsage, ResponseShape } from "../shared/response-shape.js";

export const CompletionBody = Type.Object({
  ...SamplingFields,
  prompt: Type.String(),
  logprobs: Nullable(Type.Integer({ minimum: 0, maximum: 20 })),
});

export type CompletionBody = Static<typeof CompletionBody>;

/** text_completion objects, as OpenAI's legacy completions endpoint sends them (streamed or not). */
export function completionResponseShape(model: string, seed: number): ResponseShape {
  const id = `cmpl-${randomUUID().replaceAll("-", "")}`;
  const created = Math.floor(Date.now() / 1000);
  // text_offset counts characters from the start of each choice's text, across chunks.
  const offsets = new Map<number, number>();
  const logprobsOf = (index: number, entries: TokenLogprob[] | null | undefined) => {
    if (!entries) return null;
    let offset = offsets.get(index) ?? 0;
    const text_offset = entries.map((e) => {
      const at = offset;
      offset += e.token.length;
      return at;
    });
    offsets.set(index, offset);
    return {
      tokens: entries.map((e) => e.token),
      token_logprobs: entries.map((e) => e.logprob),
      top_logprobs: entries.map((e) => Object.fromEntries(e.top.map((t) => [t.token, t.logprob]))),
      text_offset,
    };
  };
  const object = (choices: object[], usage: OpenAiUsage | null = null) => ({ id, object: "text_completion", created, model, system_fingerprint: null, seed, choices, usage });
  const choice = (index: number, text: string, finish_reason: FinishReason | null, logprobs: object | null = null) => ({ index, text, logprobs, finish_reason });
  return {
    id,
    streamDelta: (index, delta) => object([choice(index, delta.text ?? "", null, logprobsOf(index, delta.logprobs))]),
    streamFinish: (index, reason) => object([choice(index, "", reason)]),
    streamUsage: (usage) => object([], usage),
    complete: (choices, usage) => object(choices.map((c, index) => choice(index, c.text, c.finishReason, logprobsOf(index, c.logprobs))), usage),
  };
}
