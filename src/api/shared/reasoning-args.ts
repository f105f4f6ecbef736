/**
 * A reasoning effort as the chat template's variables, as llama-server maps OpenAI's `reasoning_effort`: "none"
 * turns thinking off (`enable_thinking: false`, where the template has the switch); any other value reaches
 * templates that read `reasoning_effort` (gpt-oss). Empty when the request gives none.
 */
export function effortArgs(effort: string | null | undefined): Record<string, unknown> {
  if (!effort) return {};
  return effort === "none" ? { enable_thinking: false } : { reasoning_effort: effort };
}

/** The variables as a request's templateArgs: undefined when there are none. */
export const argsOrUndefined = (args: Record<string, unknown>): Record<string, unknown> | undefined => (Object.keys(args).length > 0 ? args : undefined);
