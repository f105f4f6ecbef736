import type { GenerationEvent } from "./types.js";

type TextEvent = Extract<GenerationEvent, { type: "text" }>;

/**
 * A generation's text sent `interval` tokens at a time, the first token alone (time to first token is
 * unchanged): vLLM's --stream-interval. Each streamed chunk costs the same system calls and wake-ups in the
 * engine process, the gateway and the client whatever it carries, so on a host whose CPU the decodes keep
 * busy, fewer chunks leave more of it to decoding; each token waits for at most interval - 1 more. Only
 * consecutive answer text merges (a merged event says how many tokens it holds): thinking, tool calls and the
 * end pass as they come, after the text held before them.
 */
export async function* streamEvery(events: AsyncIterable<GenerationEvent>, interval: number): AsyncGenerator<GenerationEvent> {
  if (interval <= 1) return yield* events;
  let held: TextEvent | undefined;
  let first = true;
  for await (const event of events) {
    if (event.type === "text") {
      if (first) {
        first = false;
        yield event;
        continue;
      }
      held = held ? merged(held, event) : { ...event, tokens: event.tokens ?? 1 };
      if (held.tokens! >= interval) {
        yield held;
        held = undefined;
      }
      continue;
    }
    if (held) yield held;
    held = undefined;
    yield event;
  }
  if (held) yield held;
}

function merged(held: TextEvent, next: TextEvent): TextEvent {
  const logprobs = held.logprobs || next.logprobs ? [...(held.logprobs ?? []), ...(next.logprobs ?? [])] : undefined;
  return { type: "text", text: held.text + next.text, tokens: held.tokens! + (next.tokens ?? 1), ...(logprobs ? { logprobs } : {}) };
}
