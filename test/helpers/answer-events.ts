import type { AnswerEvent } from "../../src/api/shared/response-shape.js";

/** An answer with one of each kind of output, as the engine streams it: thinking, text, then a call in two fragments. */
export async function* thinkTextCall(): AsyncGenerator<AnswerEvent> {
  yield { type: "choice", index: 0, event: { type: "reasoning", text: "hmm" } };
  yield { type: "choice", index: 0, event: { type: "text", text: "Hi" } };
  yield { type: "choice", index: 0, event: { type: "tool_call", index: 0, id: "call_1", name: "f" } };
  yield { type: "choice", index: 0, event: { type: "tool_arguments", index: 0, text: '{"a":' } };
  yield { type: "choice", index: 0, event: { type: "tool_arguments", index: 0, text: "1}" } };
  yield { type: "finish", index: 0, finishReason: "tool_calls" };
  yield { type: "done", usage: { promptTokens: 7, cachedTokens: 2, completionTokens: 5 } };
}
