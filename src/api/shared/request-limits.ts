import { invalidRequest, type ApiError } from "../../errors.js";

// Limits checked before any work is done for a request: each field is hostile until measured. Every check
// here is linear in the request's size and uses no recursion (a body nested 100,000 deep must not
// overflow the stack of the code that refuses it).

/** The top-level field under which `value` nests deeper than `maxDepth`, or undefined when it does not. */
export function tooDeep(value: unknown, maxDepth: number): string | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const stack: { node: object; depth: number; field: string }[] = [];
  for (const [key, child] of Object.entries(value)) if (typeof child === "object" && child !== null) stack.push({ node: child, depth: 2, field: key });
  while (stack.length > 0) {
    const { node, depth, field } = stack.pop()!;
    if (depth > maxDepth) return field;
    for (const child of Object.values(node)) if (typeof child === "object" && child !== null) stack.push({ node: child, depth: depth + 1, field });
  }
  return undefined;
}

export function tooDeepError(field: string, maxDepth: number): ApiError {
  return invalidRequest(`Invalid value for '${field}': the request nests objects and arrays more than ${maxDepth} levels deep (request.maxJsonDepth).`, field, "invalid_value");
}

/**
 * The deepest nesting of groups in a GBNF grammar: ( [ { outside quoted strings. llama.cpp's grammar parser
 * recurses once per level, so a grammar of 32,000 nested parentheses overflows its stack and ends the process.
 */
export function grammarDepth(grammar: string): number {
  let depth = 0;
  let deepest = 0;
  let quote: string | undefined;
  for (let i = 0; i < grammar.length; i++) {
    const c = grammar[i]!;
    if (quote) {
      if (c === "\\") i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"') quote = '"';
    else if (c === "[") {
      // A character class: its ( ) [ are literal characters.
      for (i++; i < grammar.length && grammar[i] !== "]"; i++) if (grammar[i] === "\\") i++;
      deepest = Math.max(deepest, depth + 1);
    } else if (c === "#") while (i < grammar.length && grammar[i] !== "\n") i++;
    else if (c === "(" || c === "{") deepest = Math.max(deepest, ++depth);
    else if (c === ")" || c === "}") depth = Math.max(0, depth - 1);
  }
  return deepest;
}

export function checkGrammar(grammar: string, maxDepth: number, param = "grammar"): void {
  const depth = grammarDepth(grammar);
  if (depth > maxDepth) throw invalidRequest(`Invalid value for '${param}': the grammar nests groups ${depth} levels deep; at most ${maxDepth} are allowed (request.maxGrammarDepth).`, param, "invalid_value");
}

/**
 * The variables a chat template is rendered with by the server itself: a request's template arguments may
 * not replace them (a `messages` kwarg would render another conversation than the one counted and limited).
 */
const TEMPLATE_VARIABLES = new Set(["messages", "tools", "bos_token", "eos_token", "add_generation_prompt", "documents", "raise_exception", "strftime_now", "range", "namespace", "date_string"]);

export function checkTemplateArgs(args: Record<string, unknown> | undefined, param = "chat_template_kwargs"): void {
  const reserved = Object.keys(args ?? {}).find((key) => TEMPLATE_VARIABLES.has(key));
  if (reserved) throw invalidRequest(`Invalid value for '${param}': '${reserved}' is set by the server when it renders the template and cannot be passed.`, `${param}.${reserved}`, "invalid_value");
}

/** A conversation about to be rendered: not more messages than request.maxMessages, no template argument that replaces the server's own. */
export function checkChat(chat: { messages: readonly unknown[]; templateArgs?: Record<string, unknown> | undefined }, maxMessages: number, param = "messages"): void {
  const count = chat.messages.length;
  if (count > maxMessages) throw invalidRequest(`Too many messages: ${count}. This server takes at most ${maxMessages} per request (request.maxMessages).`, param, "too_many_messages");
  checkTemplateArgs(chat.templateArgs);
}
