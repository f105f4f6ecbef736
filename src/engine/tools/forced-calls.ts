import type { GenerationEvent, OutputConstraint, ToolDefinition, ToolUse } from "../types.js";
import { newToolCallId } from "./tool-call-id.js";

// tool_choice "required" or a named function, as vLLM serves them: the answer is JSON constrained by a
// grammar (a named function: its arguments; "required": {"name", "arguments"}, or an array of them when
// parallel calls are allowed), and it is turned back into tool calls while it streams.

type Layout = { kind: "arguments"; name: string } | { kind: "object" } | { kind: "array" };

const ANY_OBJECT = { type: "object", properties: {} };

export function forcedCallLayout(tools: ToolUse): Layout {
  if (tools.choice.mode === "function") return { kind: "arguments", name: tools.choice.name };
  return tools.parallel ? { kind: "array" } : { kind: "object" };
}

/** The JSON schema the answer must match. */
export function forcedCallConstraint(tools: ToolUse): OutputConstraint {
  const layout = forcedCallLayout(tools);
  const argumentsOf = (tool: ToolDefinition | undefined) => tool?.enforced?.parameters ?? tool?.parameters ?? ANY_OBJECT;
  if (layout.kind === "arguments") return { kind: "json_schema", schema: argumentsOf(tools.tools.find((t) => t.name === layout.name)) };
  const call = {
    anyOf: tools.tools.map((tool) => ({
      type: "object",
      properties: { name: { const: tool.name }, arguments: argumentsOf(tool) },
      required: ["name", "arguments"],
      additionalProperties: false,
    })),
  };
  return { kind: "json_schema", schema: layout.kind === "object" ? call : { type: "array", items: call, minItems: 1 } };
}

const HEADER = /^\{\s*"name"\s*:\s*("(?:[^"\\]|\\.)*")\s*,\s*"arguments"\s*:\s*$/;

/**
 * Reads the constrained JSON as it streams and says what it holds in tool-call events: a call's id and
 * name once its name is complete, then its arguments as fragments of JSON text.
 */
export class ForcedCallReader {
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** The depth of an open call object (0: none open). */
  private callDepth = 0;
  private header = "";
  private inArguments = false;
  private calls = 0;
  private readonly callOpensAt: number;

  constructor(private readonly layout: Layout) {
    this.callOpensAt = layout.kind === "array" ? 2 : 1;
  }

  get callCount(): number {
    return this.calls;
  }

  push(text: string): GenerationEvent[] {
    const events: GenerationEvent[] = [];
    let fragment = "";
    const flushFragment = () => {
      if (fragment) events.push({ type: "tool_arguments", index: this.calls - 1, text: fragment });
      fragment = "";
    };
    for (const char of text) {
      const before = this.depth;
      this.scan(char);
      if (this.layout.kind === "arguments") {
        if (before === 0 && this.depth === 1 && this.calls === 0) this.openCall(events, this.layout.name);
        if (before > 0 || this.depth > 0) fragment += char;
        continue;
      }
      if (this.callDepth === 0) {
        if (before === this.callOpensAt - 1 && this.depth === this.callOpensAt) {
          this.callDepth = this.depth;
          this.header = "{";
        }
        continue;
      }
      if (!this.inArguments) {
        this.header += char;
        const match = HEADER.exec(this.header);
        if (match) {
          this.openCall(events, JSON.parse(match[1]!) as string);
          this.inArguments = true;
        }
        continue;
      }
      if (this.depth > this.callDepth || before > this.callDepth) fragment += char;
      if (this.depth < this.callDepth) {
        this.callDepth = 0;
        this.inArguments = false;
        flushFragment();
      }
    }
    flushFragment();
    return events;
  }

  private openCall(events: GenerationEvent[], name: string): void {
    events.push({ type: "tool_call", index: this.calls, id: newToolCallId(), name });
    this.calls++;
  }

  /** Tracks nesting outside strings; brackets inside strings do not count. */
  private scan(char: string): void {
    if (this.inString) {
      if (this.escaped) this.escaped = false;
      else if (char === "\\") this.escaped = true;
      else if (char === '"') this.inString = false;
      return;
    }
    if (char === '"') this.inString = true;
    else if (char === "{" || char === "[") this.depth++;
    else if (char === "}" || char === "]") this.depth--;
  }
}

/** The generation's JSON text as tool-call events; a finished answer with calls ends with finish_reason "tool_calls". */
export async function* forcedToolCalls(events: AsyncIterable<GenerationEvent>, reader: ForcedCallReader): AsyncGenerator<GenerationEvent> {
  for await (const event of events) {
    if (event.type === "text") yield* reader.push(event.text);
    else if (event.type === "done") yield { ...event, finishReason: event.finishReason === "stop" && reader.callCount > 0 ? "tool_calls" : event.finishReason };
    else yield event;
  }
}
