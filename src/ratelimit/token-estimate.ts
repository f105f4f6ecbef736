import type { PromptInput } from "../engine/types.js";

// Admission happens before the prompt is tokenized (a rejected request must cost the engine nothing),
// so it charges an estimate, which settlement replaces with the real count. About four characters
// per token for English text, plus the few tokens a chat template adds per message.
const CHARS_PER_TOKEN = 4;
const TOKENS_PER_MESSAGE = 4;

export function estimatePromptTokens(prompt: PromptInput): number {
  if (prompt.kind === "text") return Math.ceil(prompt.text.length / CHARS_PER_TOKEN) + 1;
  return prompt.messages.reduce((sum, m) => sum + Math.ceil(m.content.length / CHARS_PER_TOKEN) + TOKENS_PER_MESSAGE, 2);
}
