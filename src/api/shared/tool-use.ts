import { invalidRequest } from "../../errors.js";
import type { ToolChoice, ToolDefinition, ToolUse } from "../../engine/types.js";
import { enforceableSchema } from "./json-schema-support.js";

/** Where each API names its fields, for the 400s below. */
export interface ToolParams {
  /** The field naming a forced tool, e.g. tool_choice.function.name. */
  choiceName: string;
}

/**
 * Tools and a tool choice as the engine takes them, after the checks every API makes: unique names, and a forced
 * tool that is among them. A schema keyword the grammar cannot enforce is relaxed, not refused (see
 * json-schema-support.ts): the tool keeps its whole schema for the prompt and gets `enforced` for the grammar.
 */
export function checkedToolUse(tools: ToolDefinition[], choice: ToolChoice, parallel: boolean, params: ToolParams): ToolUse {
  tools = tools.map((tool) => {
    if (!tool.parameters) return tool;
    const { schema, relaxed } = enforceableSchema(tool.parameters);
    return relaxed.length > 0 ? { ...tool, enforced: { parameters: schema, relaxed } } : tool;
  });
  const names = new Set(tools.map((t) => t.name));
  if (names.size !== tools.length) throw invalidRequest("Two tools have the same name.", "tools", "invalid_value");
  if (choice.mode === "function" && !names.has(choice.name)) throw invalidRequest(`tool_choice names '${choice.name}', which is not among 'tools'.`, params.choiceName, "invalid_value");
  return { tools, choice, parallel };
}
