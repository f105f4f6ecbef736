import type { GenerationEvent, Usage } from "../../engine/types.js";
import type { AnswerEvent } from "./response-shape.js";

/**
 * The events of n choices as one answer, in the order they happen: each choice's events tagged with its
 * index, its done turned into a finish, then one done whose usage counts the prompt once and every
 * choice's completion. An error in any choice ends the answer (the others stop with it).
 */
export async function* mergeChoices(choices: AsyncIterable<GenerationEvent>[]): AsyncGenerator<AnswerEvent> {
  if (choices.length === 1) return yield* singleChoice(choices[0]!);
  const iterators = choices.map((c) => c[Symbol.asyncIterator]());
  const usage: Usage = { promptTokens: 0, cachedTokens: 0, completionTokens: 0 };
  const pull = (index: number) => iterators[index]!.next().then((result) => ({ index, result }));
  const pending = new Map(iterators.map((_, index) => [index, pull(index)]));
  let finished = 0;
  try {
    while (pending.size > 0) {
      const { index, result } = await Promise.race(pending.values());
      if (result.done) {
        pending.delete(index);
        continue;
      }
      const event = result.value;
      if (event.type === "error") return yield event;
      if (event.type === "done") {
        pending.delete(index);
        finished++;
        if (index === 0) Object.assign(usage, { promptTokens: event.usage.promptTokens, cachedTokens: event.usage.cachedTokens });
        usage.completionTokens += event.usage.completionTokens;
        yield { type: "finish", index, finishReason: event.finishReason, ...(event.stopSequence !== undefined ? { stopSequence: event.stopSequence } : {}) };
        continue;
      }
      pending.set(index, pull(index));
      yield { type: "choice", index, event };
    }
    // A choice that ended without done was cancelled: the answer has no done either.
    if (finished === iterators.length) yield { type: "done", usage };
  } finally {
    await Promise.all(iterators.map(async (it) => it.return?.()));
  }
}

/** n = 1, the common case, without the racing: one generator step per event (it runs per token). */
async function* singleChoice(events: AsyncIterable<GenerationEvent>): AsyncGenerator<AnswerEvent> {
  for await (const event of events) {
    if (event.type === "error") return yield event;
    if (event.type === "done") {
      yield { type: "finish", index: 0, finishReason: event.finishReason, ...(event.stopSequence !== undefined ? { stopSequence: event.stopSequence } : {}) };
      return yield { type: "done", usage: event.usage };
    }
    yield { type: "choice", index: 0, event };
  }
}
