import { invalidRequest } from "../../errors.js";
import type { ToolChoice, ToolDefinition, ToolUse } from "../../engine/types.js";
import { checkSupportedSchema } from "./json-schema-support.js";

/** Where each API names its fields, for the 400s below. */
export interface ToolParams {
  /** The i-th tool's JSON schema, e.g. tools[0].function.parameters. */
  schema(index: number): string;
  /** The field naming a forced tool, e.g. tool_choice.function.name. */
  choiceName: string;
}

/**
 * Tools and a tool choice as the engine takes them, after the checks every API makes: schemas the grammar can
 * enforce, unique names, and a forced tool that is among them.
 */
export function checkedToolUse(tools: ToolDefinition[], choice: ToolChoice, parallel: boolean, params: ToolParams): ToolUse {
  tools.forEach((tool, i) => checkSupportedSchema(tool.parameters ?? {}, params.schema(i)));
  const names = new Set(tools.map((t) => t.name));
  if (names.size !== tools.length) throw invalidRequest("Two tools have the same name.", "tools", "invalid_value");
  if (choice.mode === "function" && !names.has(choice.name)) throw invalidRequest(`tool_choice names '${choice.name}', which is not among 'tools'.`, params.choiceName, "invalid_value");
  return { tools, choice, parallel };
}
